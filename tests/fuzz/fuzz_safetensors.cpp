// fuzz_safetensors.cpp — libFuzzer target: a weights file from the user, end to end through what
// the runtime does with it: parse_safetensors, tensor_to_float on every tensor, and pack_weights
// (the check against the spec's tensors, BatchNorm folding, packing) against real manifests
// (tests/fuzz/manifests). Errors must be the runtime's Failure: no crash, no out-of-bounds read,
// no undefined behaviour (ASan + UBSan).
#include "runtime/manifest.h"
#include "runtime/pack_weights.h"
#include "runtime/runtime_failure.h"
#include "runtime/safetensors.h"

#include <cstdint>
#include <cstdlib>
#include <dirent.h>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

using namespace unetgen;

namespace {

std::vector<rt::Manifest> g_manifests;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
    const std::string dir = UNETGEN_FUZZ_MANIFESTS;
    DIR *d = opendir(dir.c_str());
    if (!d) std::abort();
    while (dirent *e = readdir(d)) {
        const std::string name = e->d_name;
        if (name.size() < 5 || name.substr(name.size() - 5) != ".json") continue;
        std::ifstream in(dir + "/" + name);
        const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        g_manifests.push_back(rt::parse_manifest(text.c_str()));
    }
    closedir(d);
    if (g_manifests.empty()) std::abort();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rt::SafetensorsFile file;
    try {
        file = rt::parse_safetensors(data, size, "fuzz.safetensors");
    } catch (const rt::Failure &) {
        return 0;
    }
    for (const auto &[name, view] : file.tensors) {
        try {
            const std::vector<float> v = rt::tensor_to_float(view, name, "fuzz.safetensors");
            if (int64_t(v.size()) != view.numel()) std::abort();
        } catch (const rt::Failure &) {
        }
    }
    for (const rt::Manifest &m : g_manifests) {
        try {
            const std::vector<float> packed = rt::pack_weights(m, file, "fuzz.safetensors");
            if (int64_t(packed.size()) != m.packed_floats) std::abort();
        } catch (const rt::Failure &) {
        }
    }
    return 0;
}
