// fuzz_tiff.cpp — libFuzzer target: TiffReader (cli/tiff_io.cpp on libtiff) on any bytes: open it
// for a gray and an RGB network with each channel conversion, then read the regions a tiled run
// would (the whole image when small, else its corners and a middle block). Errors must be the
// reader's "cannot read" exceptions: no crash, no undefined behaviour, no huge allocation.
#include "cli/tiff_io.h"
#include "tests/fuzz/image_cases.h"
#include "tests/fuzz/memory_file.h"

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <vector>

using namespace unetgen::cli;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    MemoryFile file(data, size);
    for (auto [channels, conversion] : kImageCases) {
        try {
            TiffReader tiff(file.path(), channels, conversion, size_t(8) << 20);
            (void)tiff.describe();
            const int w = tiff.width(), h = tiff.height(), block = 64;
            std::vector<uint16_t> buf(size_t(block) * block * 3);
            const int bw = std::min(w, block), bh = std::min(h, block);
            const int xs[] = {0, (w - bw) / 2, w - bw}, ys[] = {0, (h - bh) / 2, h - bh};
            for (int y : ys)
                for (int x : xs) tiff.read(x, y, bw, bh, buf.data());
        } catch (const std::runtime_error &) {
        }
    }
    return 0;
}
