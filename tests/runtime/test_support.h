// test_support.h — builders for runtime tests: safetensors images and manifests in memory, and a
// descriptor around a fake pipeline.
#pragma once

#include "runtime/unetgen.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace unetgen::test {

struct TensorSpec {
    std::string name;
    std::vector<int64_t> shape;
    std::vector<float> values;  // F32 data (ignored when raw is set)
    std::string dtype = "F32";
    std::vector<uint8_t> raw;   // data of another dtype, as is
};

inline int64_t numel(const std::vector<int64_t> &shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

// A safetensors image: 8-byte LE header length, JSON header, data in the given order.
inline std::vector<uint8_t> make_safetensors(const std::vector<TensorSpec> &tensors, const std::string &header_override = "") {
    nlohmann::json header = nlohmann::json::object();
    std::vector<uint8_t> data;
    for (const TensorSpec &t : tensors) {
        std::vector<uint8_t> bytes = t.raw;
        if (bytes.empty() && t.dtype == "F32") {
            bytes.resize(t.values.size() * 4);
            if (!bytes.empty()) std::memcpy(bytes.data(), t.values.data(), bytes.size());
        }
        header[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {data.size(), data.size() + bytes.size()}}};
        data.insert(data.end(), bytes.begin(), bytes.end());
    }
    header["__metadata__"] = {{"format", "pt"}};
    std::string h = header_override.empty() ? header.dump() : header_override;
    std::vector<uint8_t> out(8 + h.size() + data.size());
    uint64_t len = h.size();
    for (int i = 0; i < 8; ++i) out[size_t(i)] = uint8_t(len >> (8 * i));
    std::memcpy(out.data() + 8, h.data(), h.size());
    if (!data.empty()) std::memcpy(out.data() + 8 + h.size(), data.data(), data.size());
    return out;
}

// Deterministic values in [-1, 1) (a small LCG, so tests need no <random> seeding subtleties).
inline std::vector<float> pseudo_random(size_t n, uint32_t seed) {
    std::vector<float> v(n);
    for (size_t i = 0; i < n; ++i) {
        seed = seed * 1664525u + 1013904223u;
        v[i] = float(seed >> 8) / float(1 << 23) - 1.0f;
    }
    return v;
}

// Descriptor whose manifest text lives in `manifest` (keep it alive).
inline unetgen_network_desc make_desc(const std::string &manifest, unetgen_pipeline_fn fn, const char *name = "tiny") {
    unetgen_network_desc d{};
    d.abi_version = UNETGEN_ABI_VERSION;
    d.name = name;
    d.manifest_json = manifest.c_str();
    d.pipeline = fn;
    d.target = "host";
    return d;
}

}  // namespace unetgen::test
