// wide_normaliser.h — WideNormaliser: 16-bit samples as a network's float input.
#pragma once

#include "runtime/unetgen.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace unetgen::cli {

// v / 65535, then the spec's mean / std (what the runtime does to 8-bit samples with 1 / 255), in
// float32 and that order.
struct WideNormaliser {
    std::vector<float> mean, stdev;
    explicit WideNormaliser(const Model &model) {
        const nlohmann::json m = nlohmann::json::parse(unetgen_model_manifest(model.get()));
        for (int k = 0; k < model.in_channels(); ++k) {
            mean.push_back(float(m.at("mean").at(size_t(k)).get<double>()));
            stdev.push_back(float(m.at("std").at(size_t(k)).get<double>()));
        }
    }
    // Interleaved h x w x c -> planar c x h x w.
    void operator()(const uint16_t *src, size_t n, int c, float *dst) const {
        for (int k = 0; k < c; ++k)
            for (size_t i = 0; i < n; ++i)
                dst[size_t(k) * n + i] = (float(src[i * size_t(c) + size_t(k)]) / 65535.0f - mean[size_t(k)]) / stdev[size_t(k)];
    }
};

}  // namespace unetgen::cli
