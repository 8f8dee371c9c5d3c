// fuzz_png.cpp — libFuzzer target: read_png (cli/png_reader.cpp, libpng's full API) on any bytes,
// for a gray and an RGB network with each channel conversion, must return an image or throw its
// "cannot read" error: no crash, no undefined behaviour, no allocation its bytes cannot justify
// (the -malloc_limit_mb of the CTest run catches a header that makes the reader allocate big).
#include "cli/image_io.h"
#include "tests/fuzz/image_cases.h"
#include "tests/fuzz/memory_file.h"

#include <cstdint>
#include <cstdlib>
#include <stdexcept>

using namespace unetgen::cli;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    MemoryFile file(data, size);
    for (auto [channels, conversion] : kImageCases) {
        try {
            const Image img = read_png(file.path(), channels, conversion);
            const size_t n = size_t(img.w) * size_t(img.h) * size_t(channels);
            if (img.channels != channels || (img.bits == 16 ? img.wide.size() : img.pixels.size()) != n) std::abort();
        } catch (const std::runtime_error &) {
        }
    }
    return 0;
}
