// fuzz_manifest.cpp — libFuzzer target: parse_manifest on any bytes, and the tile planner on
// whatever it accepts, must not crash, hang or hit undefined behaviour (built with ASan and
// UBSan by tests/fuzz/CMakeLists.txt). A library's manifest is data the runtime checks; the plan
// of any manifest it accepts must be computable.
#include "common/tile_plan.h"
#include "runtime/manifest.h"
#include "runtime/runtime_failure.h"

#include <cstdint>
#include <cstdlib>
#include <string>

using namespace unetgen;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const std::string text(reinterpret_cast<const char *>(data), size);
    rt::Manifest m;
    try {
        m = rt::parse_manifest(text.c_str());
    } catch (const rt::Failure &) {
        return 0;
    }
    const TileGeometry &g = m.geometry;
    if (g.layers.empty()) return 0;
    for (int64_t extent : {1, 37, 256}) {
        if (!g.sizes.accepts(extent)) continue;
        const int64_t out = g.sizes.evaluate(extent)[size_t(g.layers.back().size)];
        if (out < 1) continue;
        TileIo io;
        io.input_bytes_per_pixel = 12;
        TilePlan p = plan_tiles(g, extent, extent, {0, out}, {0, out}, 1, int64_t(1) << 30, io, 2);
        if (p.fits && (p.tile_w < 1 || p.tile_h < 1 || p.tile_x(p.cols - 1).hi != out)) std::abort();
    }
    return 0;
}
