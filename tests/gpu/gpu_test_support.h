// gpu_test_support.h — random weights for a generated network, straight from its manifest.
#pragma once

#include "tests/runtime/test_support.h"

#include <nlohmann/json.hpp>

namespace unetgen::test {

// A safetensors image holding every tensor the manifest asks for, values in [-0.1, 0.1) (running
// variances positive), so a model of any example spec loads.
inline std::vector<uint8_t> random_weights_for(const unetgen_network_desc *desc) {
    nlohmann::json m = nlohmann::json::parse(desc->manifest_json);
    std::vector<TensorSpec> tensors;
    uint32_t seed = 1;
    for (const auto &t : m["tensors"]) {
        TensorSpec s{t["name"].get<std::string>(), t["shape"].get<std::vector<int64_t>>(), {}};
        s.values = pseudo_random(size_t(numel(s.shape)), seed++);
        const std::string suffix = ".running_var";
        const bool variance = s.name.size() > suffix.size() && s.name.compare(s.name.size() - suffix.size(), suffix.size(), suffix) == 0;
        for (float &v : s.values) v = variance ? 1.0f + 0.5f * v : 0.1f * v;
        tensors.push_back(std::move(s));
    }
    return make_safetensors(tensors);
}

}  // namespace unetgen::test
