// test_tile_plan.cpp — the tile planner's span propagation, memory replay and plan choice
// (common/tile_geometry.h, common/tile_plan.h) on a small hand-built geometry.
#include "common/tile_plan.h"

#include <catch2/catch.hpp>

using namespace unetgen;
using G = GeometryLayer;

namespace {

// input -> conv3 (same) -> pool -> conv3 (same) -> nearest x2 -> concat(exact, [conv0, up]) -> head 1x1
TileGeometry small_unet() {
    TileGeometry g;
    const int half = g.sizes.floordiv_const(0, 2);
    const int twice = g.sizes.mul_const(half, 2);
    auto layer = [&](G::Op op, int in0, int in1, int size, int channels) {
        G l;
        l.op = op;
        l.inputs[0] = in0;
        l.inputs[1] = in1;
        l.size = size;
        l.channels = channels;
        g.layers.push_back(l);
        return &g.layers.back();
    };
    layer(G::Op::Input, -1, -1, 0, 3);
    G *c0 = layer(G::Op::Conv, 0, -1, 0, 8);
    c0->kernel = 3, c0->pad = 1, c0->stored_channels = 8, c0->staged_channels = 3, c0->macs_per_pixel = 3 * 8 * 9;
    layer(G::Op::MaxPool, 1, -1, half, 8);
    G *c1 = layer(G::Op::Conv, 2, -1, half, 16);
    c1->kernel = 3, c1->pad = 1, c1->stored_channels = 16, c1->staged_channels = 8, c1->macs_per_pixel = 8 * 16 * 9;
    layer(G::Op::Upsample, 3, -1, twice, 16);
    layer(G::Op::Concat, 1, 4, twice, 24);
    G *head = layer(G::Op::Conv, 5, -1, twice, 2);
    head->kernel = 1, head->stored_channels = 2, head->staged_channels = 24, head->macs_per_pixel = 24 * 2;
    return g;
}

int64_t mb(int64_t m) { return m << 20; }

}  // namespace

TEST_CASE("spans propagate backwards through conv, pool, upsample and concat", "[tile_plan]") {
    TileGeometry g = small_unet();
    std::vector<Span> staged;
    std::vector<Span> s = g.required(0, 64, {10, 20}, &staged);
    CHECK((s[6].lo == 10 && s[6].hi == 20));  // head
    CHECK((s[4].lo == 10 && s[4].hi == 20));  // upsample
    CHECK((s[3].lo == 5 && s[3].hi == 10));   // conv1: nearest halves
    CHECK((s[2].lo == 4 && s[2].hi == 11));   // pool: conv1's kernel
    CHECK((s[1].lo == 8 && s[1].hi == 22));   // conv0: pool doubles, united with the skip's [10, 20)
    CHECK((s[0].lo == 7 && s[0].hi == 23));   // input
    CHECK((staged[1].lo == 7 && staged[1].hi == 23));
    CHECK((staged[3].lo == 4 && staged[3].hi == 11));
}

TEST_CASE("spans clip to each layer's extent; copies keep the zero border", "[tile_plan]") {
    TileGeometry g = small_unet();
    std::vector<Span> staged;
    std::vector<Span> s = g.required(1, 64, {0, 64}, &staged);
    CHECK((s[0].lo == 0 && s[0].hi == 64));
    CHECK((s[2].lo == 0 && s[2].hi == 32));
    CHECK((staged[1].lo == -1 && staged[1].hi == 65));
}

TEST_CASE("schedule rounding and the Winograd grid widen the spans they feed", "[tile_plan]") {
    TileGeometry g = small_unet();
    g.layers[3].round[0] = 4;  // conv1 computes [5, 10) rounded up to 8 columns: [5, 13)
    std::vector<Span> s = g.required(0, 64, {10, 20});
    CHECK((s[3].lo == 5 && s[3].hi == 13));
    CHECK((s[2].lo == 4 && s[2].hi == 14));
    g.layers[3].round[0] = 1;
    g.layers[3].grid = 2;  // Winograd F(2, 3): conv1 [5, 10) is tiles 2..4 of the image's grid, reading [3, 11)
    s = g.required(0, 64, {10, 20});
    CHECK((s[2].lo == 3 && s[2].hi == 11));
}

TEST_CASE("the memory replay frees a buffer after its last reader", "[tile_plan]") {
    TileGeometry g = small_unet();
    // A 64x64 window of a 64x64 image, batch 1: conv0 (8 ch) lives until the head's copy.
    WindowCost c = g.cost(64, 64, {0, 64}, {0, 64});
    const int64_t px = 64 * 64 * 4, half = 32 * 32 * 4;
    // The peak is at the head's input copy (24 channels; a 1x1 conv copies no border): conv0
    // (8 channels, the skip) and conv1 (16, half size) are still live; the copies of conv0 and
    // conv1's inputs were freed after their convs.
    CHECK(c.peak_bytes == 8 * px + 16 * half + 24 * px);
    CHECK(c.input_x.size() == 64);
    CHECK(c.macs == Approx(64.0 * 64 * (3 * 8 * 9 + 24 * 2) + 32.0 * 32 * 8 * 16 * 9));
}

TEST_CASE("the plan is one pass when the whole image fits, tiles when it does not", "[tile_plan]") {
    TileGeometry g = small_unet();
    TileIo io;
    io.input_bytes_per_pixel = 12;
    TilePlan whole = plan_tiles(g, 256, 192, {0, 256}, {0, 192}, 1, mb(1024), io, 2);
    CHECK(whole.fits);
    CHECK(whole.count() == 1);
    CHECK(whole.tile_w == 256);

    TilePlan tiled = plan_tiles(g, 256, 192, {0, 256}, {0, 192}, 1, whole.peak_bytes / 3, io, 2);
    REQUIRE(tiled.fits);
    CHECK(tiled.count() > 1);
    CHECK(tiled.peak_bytes <= whole.peak_bytes / 3);
    CHECK(tiled.macs >= tiled.whole_macs);
    // The tiles cover the output, the last ones shifted inwards, all of one size.
    CHECK(tiled.tile_x(0).lo == 0);
    CHECK(tiled.tile_x(tiled.cols - 1).hi == 256);
    CHECK(tiled.tile_y(tiled.rows - 1).hi == 192);
    for (int64_t i = 0; i < tiled.cols; ++i) CHECK(tiled.tile_x(i).size() == tiled.tile_w);
    for (int64_t i = 1; i < tiled.cols; ++i) CHECK(tiled.tile_x(i).lo <= tiled.tile_x(i - 1).hi);

    TilePlan none = plan_tiles(g, 256, 192, {0, 256}, {0, 192}, 1, 1000, io, 2);
    CHECK_FALSE(none.fits);
    CHECK(none.min_budget > 1000);
    TilePlan least = plan_tiles(g, 256, 192, {0, 256}, {0, 192}, 1, none.min_budget, io, 2);
    CHECK(least.fits);
}
