// fast_mode_note.cpp — fast_mode_note(): the bf16 layers of a manifest and the path their GEMMs take.
#include "cli/fast_mode_note.h"

#include "common/winograd.h"
#define UNETGEN_BF16_PATH_ONLY  // the path test alone: the GEMMs need the Halide runtime this binary lacks
#include "runtime/unetgen_bf16_gemm.h"  // unetgen_bf16_gemm_path(): the test the GEMM stage itself makes

#include <nlohmann/json.hpp>

namespace unetgen::cli {

std::string fast_mode_note(const char *manifest_json) {
    if (manifest_json == nullptr) return "";
    const nlohmann::json m = nlohmann::json::parse(manifest_json, nullptr, false);
    if (!m.is_object() || !m.contains("packing") || !m["packing"].is_array()) return "";
    int bf16 = 0, all = 0;
    for (const auto &e : m["packing"]) {
        ++all;
        if (e.is_object() && (e.value("winograd_format", "") == kWinogradFormatBf16 ||
                              e.value("gemm_format", "") == kWinogradFormatBf16))
            ++bf16;
    }
    if (bf16 == 0) return "";
    std::string note = "fast mode: " + std::to_string(bf16) + " of " + std::to_string(all) + " convs' GEMMs in bf16 ";
    const int path = unetgen_bf16_gemm_path();
    note += std::string("on ") + unetgen_bf16_gemm_path_name(path);
    switch (path) {
    case UNETGEN_BF16_AMX: return note;
    case UNETGEN_BF16_AVX512:
        return note + " (no usable AMX-BF16 here; on some CPUs these dot products run at half the fp32 rate: "
                      "compare with the fp32 build)";
    default:
        return note + ": this CPU has no usable AMX-BF16 or AVX512-BF16, so the build is slower than fp32 here "
                      "(build without --precision bf16)";
    }
}

}  // namespace unetgen::cli
