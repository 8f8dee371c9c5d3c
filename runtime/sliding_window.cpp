// sliding_window.cpp — segment_sliding(): nnU-Net's sliding-window inference in the runtime.
//
// The image (normalised) is zero-padded to at least the patch, centred as nnU-Net's pad_nd_image
// does; every patch runs as a whole image of the patch size (so instance norms see the patch, as
// in nnU-Net); its logits times the Gaussian map are summed into an image-sized accumulator, the
// map itself into a weight image, and their quotient, cropped back, is what the call returns
// (as logits, probabilities after the spec's activation, or a class mask).
#include "runtime/sliding_window.h"

#include "runtime/input_sizes.h"
#include "runtime/runtime_failure.h"
#include "runtime/segment_io.h"
#include "runtime/tiled_run.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace unetgen::rt {

std::vector<int64_t> sliding_steps(int64_t image, int64_t patch, double step) {
    const double target = double(patch) * step;
    const int64_t count = int64_t(std::ceil(double(image - patch) / target)) + 1;
    std::vector<int64_t> origins;
    const double actual = count > 1 ? double(image - patch) / double(count - 1) : 0.0;
    for (int64_t i = 0; i < count; ++i) origins.push_back(int64_t(std::nearbyint(actual * double(i))));  // half to even
    return origins;
}

std::vector<float> sliding_gaussian(int h, int w) {
    auto axis = [](int n) {
        const double sigma = n / 8.0;
        const int radius = int(4.0 * sigma + 0.5);
        std::vector<double> g(size_t(n), 0.0);
        for (int i = 0; i < n; ++i) {
            const int d = i - n / 2;
            if (std::abs(d) <= radius) g[size_t(i)] = std::exp(-double(d) * d / (2.0 * sigma * sigma));
        }
        return g;
    };
    const std::vector<double> gy = axis(h), gx = axis(w);
    std::vector<float> map(size_t(h) * size_t(w));
    float least = 1.0f;
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            const float v = float(gy[size_t(y)] * gx[size_t(x)]);
            map[size_t(y) * size_t(w) + size_t(x)] = v;
            if (v > 0) least = std::min(least, v);
        }
    for (float &v : map)
        if (v == 0) v = least;
    return map;
}

namespace {

struct Grid {
    int64_t h = 0, w = 0;           // the padded image
    int64_t pad_y = 0, pad_x = 0;   // the image's origin in it
    std::vector<int64_t> ys, xs;    // patch origins
};

Grid grid_of(const unetgen_model &m, const unetgen_segment_args &a, const std::string &what) {
    const Manifest &mf = m.manifest;
    if (mf.patch_h <= 0)
        fail(UNETGEN_ERR_UNSUPPORTED, what + ": the network has no patch size (set `input patch = "
                                             "[height, width]` in its spec, the patch it was trained on)");
    check_input_size(mf, mf.patch_h, mf.patch_w);  // the patch itself must be a size the network takes
    if (output_extent(mf, mf.patch_h) != mf.patch_h || output_extent(mf, mf.patch_w) != mf.patch_w)
        fail(UNETGEN_ERR_UNSUPPORTED, what + ": the network's output for a " +
                                          std::to_string(mf.patch_h) + "x" + std::to_string(mf.patch_w) +
                                          " patch has another size, and sliding windows average same-size outputs");
    Grid g;
    g.h = std::max<int64_t>(a.h, mf.patch_h);
    g.w = std::max<int64_t>(a.w, mf.patch_w);
    g.pad_y = (g.h - a.h) / 2;
    g.pad_x = (g.w - a.w) / 2;
    g.ys = sliding_steps(g.h, mf.patch_h, mf.patch_step);
    g.xs = sliding_steps(g.w, mf.patch_w, mf.patch_step);
    return g;
}

// The spec's output activation on averaged logits, in place (n x classes x pixels).
void activate(const Manifest &mf, float *scores, int n, size_t pixels) {
    const size_t planes = size_t(mf.classes);
    for (int b = 0; b < n; ++b) {
        float *s = scores + size_t(b) * planes * pixels;
        if (mf.activation == "sigmoid") {
            for (size_t i = 0; i < planes * pixels; ++i) s[i] = 1.0f / (1.0f + std::exp(-s[i]));
        } else if (mf.activation == "softmax") {
            for (size_t p = 0; p < pixels; ++p) {
                float top = s[p];
                for (size_t c = 1; c < planes; ++c) top = std::max(top, s[c * pixels + p]);
                double sum = 0;
                for (size_t c = 0; c < planes; ++c) sum += std::exp(double(s[c * pixels + p] - top));
                for (size_t c = 0; c < planes; ++c) s[c * pixels + p] = float(std::exp(double(s[c * pixels + p] - top)) / sum);
            }
        }
    }
}

}  // namespace

unetgen_tile_plan sliding_plan(const unetgen_model &m, const unetgen_segment_args &a, const std::string &what) {
    const Grid g = grid_of(m, a, what);
    unetgen_tile_plan p{};
    p.in_h = int(g.h);
    p.in_w = int(g.w);
    p.image_y = int(g.pad_y);
    p.image_x = int(g.pad_x);
    p.out_h = a.h;
    p.out_w = a.w;
    p.tile_h = m.manifest.patch_h;
    p.tile_w = m.manifest.patch_w;
    p.rows = int(g.ys.size());
    p.cols = int(g.xs.size());
    p.overlap = double(g.ys.size() * g.xs.size()) * m.manifest.patch_h * m.manifest.patch_w / (double(g.h) * g.w) - 1.0;
    return p;
}

void segment_sliding(const unetgen_model &m, unetgen_segment_args &a, const std::string &what) {
    const Manifest &mf = m.manifest;
    const Grid g = grid_of(m, a, what);
    const int ph = mf.patch_h, pw = mf.patch_w, n = a.n, c = a.channels, classes = mf.classes;
    const size_t out_count = size_t(n) * size_t(a.h) * size_t(a.w) * (a.output_kind == UNETGEN_OUTPUT_MASK ? 1 : classes);
    if (a.output_capacity < out_count)
        fail(UNETGEN_ERR_INVALID_ARGUMENT, what + ": the output needs " + std::to_string(out_count) +
                                               " elements, the buffer has room for " + std::to_string(a.output_capacity));
    const size_t pixels = size_t(g.h) * size_t(g.w), patch_px = size_t(ph) * size_t(pw);
    const std::vector<float> gauss = sliding_gaussian(ph, pw);
    std::vector<float> sum(size_t(n) * classes * pixels, 0.0f), weight(pixels, 0.0f);
    std::vector<float> patch(size_t(n) * c * patch_px), logits(size_t(n) * classes * patch_px);
    std::vector<float> block;  // 8-bit input: one patch's image pixels, normalised (reused)
    const RunShape shape = shape_of(mf, n, c, ph, pw, UNETGEN_BORDER_NONE, what);
    const TilePlan plan = plan_run(m, shape, a.memory_budget, io_of(mf, shape, true, true, 0, 0), what);
    const int64_t total = int64_t(g.ys.size() * g.xs.size());
    int64_t done = 0;
    for (int64_t y0 : g.ys)
        for (int64_t x0 : g.xs) {
            // The patch of the padded image: the image's pixels (normalised), zeros outside it.
            std::fill(patch.begin(), patch.end(), 0.0f);
            const int64_t iy0 = std::max<int64_t>(y0 - g.pad_y, 0), iy1 = std::min<int64_t>(y0 + ph - g.pad_y, a.h);
            const int64_t ix0 = std::max<int64_t>(x0 - g.pad_x, 0), ix1 = std::min<int64_t>(x0 + pw - g.pad_x, a.w);
            if (iy1 > iy0 && ix1 > ix0) {
                const int64_t bw = ix1 - ix0, bh = iy1 - iy0;
                // Where row r of plane p of the image block goes in the patch.
                auto row_in_patch = [&](int64_t p, int64_t r) {
                    return &patch[(size_t(p) * ph + size_t(iy0 + g.pad_y - y0 + r)) * pw + size_t(ix0 + g.pad_x - x0)];
                };
                if (a.input_format == UNETGEN_INPUT_F32_NCHW) {
                    // Already normalised: rows straight from the caller's array into the patch.
                    const float *img = static_cast<const float *>(a.input);
                    for (int64_t p = 0; p < int64_t(n) * c; ++p)
                        for (int64_t r = 0; r < bh; ++r)
                            std::memcpy(row_in_patch(p, r),
                                        img + (size_t(p) * size_t(a.h) + size_t(iy0 + r)) * size_t(a.w) + size_t(ix0),
                                        size_t(bw) * sizeof(float));
                } else {
                    block.resize(size_t(n) * c * size_t(bw) * size_t(bh));
                    normalise_u8_block(static_cast<const uint8_t *>(a.input), n, a.h, a.w, c, ix0, iy0, bw, bh, mf.mean,
                                       mf.std, block.data());
                    for (int64_t p = 0; p < int64_t(n) * c; ++p)
                        for (int64_t r = 0; r < bh; ++r)
                            std::memcpy(row_in_patch(p, r), &block[(size_t(p) * bh + size_t(r)) * bw],
                                        size_t(bw) * sizeof(float));
                }
            }
            TileRun run;
            run.direct_input = patch.data();
            run.direct_output = logits.data();
            run.activate = 0;  // average logits, as nnU-Net does; the activation comes after
            run_tiles(m, shape, plan, run, what);
            for (int b = 0; b < n; ++b)
                for (int k = 0; k < classes; ++k) {
                    const float *src = &logits[(size_t(b) * classes + k) * patch_px];
                    float *dst = &sum[(size_t(b) * classes + k) * pixels];
                    for (int r = 0; r < ph; ++r)
                        for (int x = 0; x < pw; ++x)
                            dst[size_t(y0 + r) * size_t(g.w) + size_t(x0 + x)] += src[size_t(r) * pw + x] * gauss[size_t(r) * pw + x];
                }
            for (int r = 0; r < ph; ++r)
                for (int x = 0; x < pw; ++x) weight[size_t(y0 + r) * size_t(g.w) + size_t(x0 + x)] += gauss[size_t(r) * pw + x];
            ++done;
            if (a.progress) a.progress(a.progress_user, done, total);
        }
    // Average, crop the padding away, then the output kind.
    const size_t image_px = size_t(a.h) * size_t(a.w);
    std::vector<float> scores(size_t(n) * classes * image_px);
    for (size_t p = 0; p < size_t(n) * classes; ++p)
        for (int y = 0; y < a.h; ++y)
            for (int x = 0; x < a.w; ++x) {
                const size_t at = size_t(y + g.pad_y) * size_t(g.w) + size_t(x + g.pad_x);
                scores[(p * a.h + size_t(y)) * a.w + size_t(x)] = sum[p * pixels + at] / weight[at];
            }
    if (a.output_kind == UNETGEN_OUTPUT_MASK) {
        // Several classes: the argmax of the averaged logits; one: sigmoid(averaged logit) >= threshold.
        class_mask(scores.data(), n, classes, a.h, a.w, classes == 1, float(mf.threshold), static_cast<uint8_t *>(a.output));
    } else {
        if (a.output_kind == UNETGEN_OUTPUT_PROBS) activate(mf, scores.data(), n, image_px);
        std::memcpy(a.output, scores.data(), scores.size() * sizeof(float));
    }
    a.out_h = a.h;
    a.out_w = a.w;
}

}  // namespace unetgen::rt
