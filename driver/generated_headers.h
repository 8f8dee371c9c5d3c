// generated_headers.h — the text of the files `unetgen build` generates besides Halide's.
#pragma once

#include <string>
#include <vector>

namespace unetgen::driver {

struct GeneratedHeaderInfo {
    std::string name;          // library / pipeline function name
    std::string spec_file;     // where it came from (comment only)
    std::string targets;       // Halide target strings, comma-separated
    bool uses_gpu = false;
    std::string manifest;      // JSON text embedded in the descriptor
    bool bf16_gemm = false;    // `--precision bf16` layers call unetgen_bf16_gemm (runtime/unetgen_bf16_gemm.h)
};

// NAME_unetgen.h: C, `static inline const unetgen_network_desc *NAME_network(void)`.
std::string c_header_source(const GeneratedHeaderInfo &info);

// NAME_unetgen.hpp: C++ convenience (NAME_load()) on top of runtime/unetgen.hpp.
std::string cpp_header_source(const GeneratedHeaderInfo &info);

// The C file NAME.so is built from: exports unetgen_get_network() and nothing else.
std::string shared_library_source(const std::string &name);

// Include directories the generated headers need: the SDK's (unetgen_network.h and Halide's
// runtime headers), ../include/unetgen from the running executable. Throws when absent.
std::vector<std::string> generated_include_dirs();

// `text` as a C string literal, one source line per line of text.
std::string c_string_literal(const std::string &text);

}  // namespace unetgen::driver
