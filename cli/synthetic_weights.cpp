// synthetic_weights.cpp — synthetic_weights(): what `unetgen bench` loads without --weights.
#include "cli/synthetic_weights.h"

#include <nlohmann/json.hpp>

#include <cstring>
#include <string>

namespace unetgen::cli {

std::vector<uint8_t> synthetic_weights(const char *manifest_json) {
    nlohmann::json m = nlohmann::json::parse(manifest_json);
    nlohmann::json header = nlohmann::json::object();
    std::vector<uint8_t> data;
    uint32_t seed = 12345;
    for (const auto &t : m.at("tensors")) {
        std::string name = t.at("name").get<std::string>();
        size_t n = 1;
        for (const auto &d : t.at("shape")) n *= d.get<size_t>();
        const bool var = name.size() >= 11 && name.compare(name.size() - 11, 11, "running_var") == 0;
        size_t begin = data.size();
        data.resize(begin + 4 * n);
        for (size_t i = 0; i < n; ++i) {
            seed = seed * 1664525u + 1013904223u;
            float v = (float(seed >> 8) / float(1 << 24) - 0.5f) * 0.1f + (var ? 1.0f : 0.0f);
            std::memcpy(&data[begin + 4 * i], &v, 4);
        }
        header[name] = {{"dtype", "F32"}, {"shape", t.at("shape")}, {"data_offsets", {begin, data.size()}}};
    }
    std::string h = header.dump();
    std::vector<uint8_t> out(8 + h.size() + data.size());
    for (int i = 0; i < 8; ++i) out[size_t(i)] = uint8_t(uint64_t(h.size()) >> (8 * i));
    std::memcpy(out.data() + 8, h.data(), h.size());
    if (!data.empty()) std::memcpy(out.data() + 8 + h.size(), data.data(), data.size());
    return out;
}

}  // namespace unetgen::cli
