// tile_plan.h — plan_tiles(): the output tiles of an image under a memory budget; shared by the
// runtime (segment() runs the plan) and the compiler (`unetgen check --size --memory` prints it).
//
// A plan covers the delivered part of the output (all of it, or the image's own area when the
// input was mirror-extended) with tiles of one size, the last column and row shifted inwards so
// every tile has that size (Halide's buffers then repeat, and the pool allocator reuses them).
// Among tile sizes whose cost (common/tile_geometry.h) fits the budget it takes the one with
// the least total work: tiles overlap by the network's halo in the input, and that halo is
// recomputed per tile, so bigger tiles (and full-width strips) waste less. When the whole image
// fits it is one tile, and the run is exactly the whole-image pipeline. Header-only.
#pragma once

#include "common/tile_geometry.h"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace unetgen {

// Bytes a tile's input and output buffers take per pixel, beside the intermediates: what the
// caller copies its pixels into (0 when the pipeline reads the caller's array directly) and what
// the scores of a tile are held in before they become a mask or go to a writer.
struct TileIo {
    int64_t input_bytes_per_pixel = 0;   // per pixel of the tile's input span
    int64_t output_bytes_per_pixel = 0;  // per pixel of the tile
};

struct TilePlan {
    int64_t width = 0, height = 0;  // the network's input (the image, or the mirror-extended image)
    Span crop_x, crop_y;            // the delivered part of the output
    int64_t tile_w = 0, tile_h = 0, cols = 0, rows = 0;
    int64_t peak_bytes = 0;         // a tile's intermediates plus its input and output buffers
    int64_t largest_buffer = 0;     // its largest single intermediate
    double macs = 0;                // multiply-accumulates of all tiles
    double whole_macs = 0;          // ... of the whole image in one go (macs / whole_macs - 1: the overlap)
    int64_t halo = 0;               // per side: (input span - tile span) / 2 of the middle tile, x
    bool fits = false;              // some tile size fits the budget
    int64_t min_budget = 0;         // when none fits: the least budget a plan needs, at this tile size

    int64_t count() const { return cols * rows; }
    Span tile_x(int64_t i) const { return place(crop_x, tile_w, i); }
    Span tile_y(int64_t j) const { return place(crop_y, tile_h, j); }

    static Span place(const Span &crop, int64_t size, int64_t k) {
        const int64_t lo = std::min(crop.lo + k * size, crop.hi - size);
        return {lo, lo + size};
    }
};

// The memory model (tile_geometry.h) follows the schedule's spans and allocation order, but
// Halide's bounds inference rounds some spans differently at tile edges than the model does, so
// the error grows with the edge's share of a tile. Measured (milesial_bilinear, pool allocator
// peak against the model, 1 and 2 threads): exact on whole images, 0.97x on 1024x1024 tiles of
// 2048x2048, from 0.76x to 1.23x on tiles with a side of 128 to 208 px. The plan budgets
// 1 + 0.3 * min(1, 256 / shorter side) times the model (1.3x for small tiles, 1.075x at 1024).
inline double model_margin(int64_t tile_w, int64_t tile_h) {
    const double side = double(std::max<int64_t>(1, std::min(tile_w, tile_h)));
    return 1.0 + 0.3 * std::min(1.0, 256.0 / side);
}

// Output tile sizes worth trying along an axis of `extent` pixels: multiples of `align` growing
// by about 1/8 at a time, and the whole extent.
inline std::vector<int64_t> tile_sizes_to_try(int64_t extent, int64_t align) {
    std::vector<int64_t> v;
    for (int64_t k = 1; k * align < extent; k = std::max(k + 1, k + k / 8)) v.push_back(k * align);
    v.push_back(extent);
    return v;
}

// The output alignment of the network: the product of its downsampling factors (2 per max-pool,
// the stride of each strided conv), where every level's pixel grid lines up.
inline int64_t tile_alignment(const TileGeometry &g) {
    int64_t a = 1;
    for (const GeometryLayer &l : g.layers) {
        if (l.op == GeometryLayer::Op::MaxPool && a < 256) a *= 2;
        if (l.op == GeometryLayer::Op::Conv && l.stride > 1 && a < 256) a *= l.stride;
    }
    return a;
}

// The plan for batch n of width x height inputs, delivering output span crop_x x crop_y,
// within `budget` bytes, on `threads` threads (each running task holds its scratch).
inline TilePlan plan_tiles(const TileGeometry &g, int64_t width, int64_t height, Span crop_x, Span crop_y,
                           int64_t n, int64_t budget, const TileIo &io, int64_t threads) {
    TilePlan base;
    base.width = width;
    base.height = height;
    base.crop_x = crop_x;
    base.crop_y = crop_y;
    const int64_t out_w = g.sizes.evaluate(width)[size_t(g.layers.back().size)];
    const int64_t out_h = g.sizes.evaluate(height)[size_t(g.layers.back().size)];
    base.whole_macs = g.cost(width, height, {0, out_w}, {0, out_h}, n, threads).macs;
    // The memory of the tile in column i, row j: its intermediates (with the model's margin)
    // and its own buffers.
    auto tile_bytes = [&](TilePlan &q, int64_t i, int64_t j, WindowCost *out = nullptr) {
        const Span x = q.tile_x(i), y = q.tile_y(j);
        WindowCost c = g.cost(width, height, x, y, n, threads);
        if (out) *out = c;
        return int64_t(double(c.peak_bytes) * model_margin(x.size(), y.size())) +
               c.input_x.size() * c.input_y.size() * n * io.input_bytes_per_pixel +
               x.size() * y.size() * n * io.output_bytes_per_pixel;
    };
    // A tile size, costed at the middle tile (work, buffer sizes); the worst tile's memory is
    // checked only for the sizes that might win (tiles at the border round differently and can
    // take more than the middle one).
    auto candidate = [&](int64_t w, int64_t h) {
        TilePlan q = base;
        q.tile_w = w;
        q.tile_h = h;
        q.cols = (crop_x.size() + w - 1) / w;
        q.rows = (crop_y.size() + h - 1) / h;
        WindowCost c;
        q.peak_bytes = tile_bytes(q, q.cols / 2, q.rows / 2, &c);
        q.largest_buffer = c.largest_buffer;
        q.macs = c.macs * double(q.count());
        q.halo = (c.input_x.size() - q.tile_x(q.cols / 2).size()) / 2;
        return q;
    };
    auto worst = [&](TilePlan &q) {
        int64_t peak = 0;
        for (int64_t j : {int64_t(0), q.rows / 2, q.rows - 1})
            for (int64_t i : {int64_t(0), q.cols / 2, q.cols - 1}) peak = std::max(peak, tile_bytes(q, i, j));
        q.peak_bytes = peak;
        return peak;
    };
    const int64_t halide_limit = (int64_t(1) << 31) - 1;
    // One pass when it fits: no tiling does less work (tiles only add their halos), and at equal
    // work the search below prefers fewer tiles, so it would choose this too. Checked first
    // because segment() plans on every call, and a small image's search costs more than its run.
    TilePlan whole = candidate(crop_x.size(), crop_y.size());
    if (whole.largest_buffer <= halide_limit && whole.peak_bytes <= budget) {
        whole.fits = true;
        return whole;
    }
    const int64_t align = tile_alignment(g);
    std::vector<TilePlan> all;
    for (int64_t h : tile_sizes_to_try(crop_y.size(), align))
        for (int64_t w : tile_sizes_to_try(crop_x.size(), align)) {
            TilePlan q = candidate(w, h);
            if (q.largest_buffer <= halide_limit) all.push_back(q);
        }
    // Least work first; at equal work (within 0.1%) fewer tiles.
    std::sort(all.begin(), all.end(), [](const TilePlan &a, const TilePlan &b) {
        if (a.macs < b.macs * 0.999 || b.macs < a.macs * 0.999) return a.macs < b.macs;
        return a.count() < b.count();
    });
    for (TilePlan &q : all)
        if (q.peak_bytes <= budget && worst(q) <= budget) {
            q.fits = true;
            return q;
        }
    // Nothing fits: the least any size needs (the smallest middle peaks, checked at the worst tile).
    std::sort(all.begin(), all.end(), [](const TilePlan &a, const TilePlan &b) { return a.peak_bytes < b.peak_bytes; });
    TilePlan least = all.empty() ? base : all.front();
    least.min_budget = -1;
    for (size_t k = 0; k < all.size() && k < 16; ++k) {
        const int64_t need = worst(all[k]);
        if (least.min_budget < 0 || need < least.min_budget) {
            const int64_t keep = need;
            least = all[k];
            least.min_budget = keep;
        }
    }
    least.fits = false;
    return least;
}

}  // namespace unetgen
