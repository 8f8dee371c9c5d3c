// segment_io.cpp — normalise_u8_nhwc() and class_mask(): input scaling and output masks.
#include "runtime/segment_io.h"

#include <cmath>
#include <cstddef>

namespace unetgen::rt {

void normalise_u8_block(const uint8_t *image, int n, int h, int w, int c, int64_t x0, int64_t y0, int64_t bw, int64_t bh,
                        const std::vector<double> &mean, const std::vector<double> &std, float *out) {
    const size_t image_size = size_t(h) * size_t(w) * size_t(c);
    for (int b = 0; b < n; ++b)
        for (int ch = 0; ch < c; ++ch) {
            // float32 constants, as PyTorch holds them in a float tensor
            const float m = float(mean[size_t(ch)]), s = float(std[size_t(ch)]);
            for (int64_t y = y0; y < y0 + bh; ++y) {
                const uint8_t *src = image + size_t(b) * image_size + (size_t(y) * size_t(w) + size_t(x0)) * size_t(c) + size_t(ch);
                for (int64_t x = 0; x < bw; ++x) *out++ = (float(src[size_t(x) * size_t(c)]) / 255.0f - m) / s;
            }
        }
}

void normalise_u8_nhwc(const uint8_t *in, int n, int h, int w, int c, const std::vector<double> &mean,
                       const std::vector<double> &std, float *out_nchw) {
    normalise_u8_block(in, n, h, w, c, 0, 0, w, h, mean, std, out_nchw);
}

void class_mask(const float *scores, int n, int classes, int h, int w, bool apply_sigmoid, float threshold,
                uint8_t *mask, size_t row_stride, size_t image_stride) {
    const size_t plane = size_t(h) * size_t(w);
    for (int b = 0; b < n; ++b) {
        const float *img = scores + size_t(b) * size_t(classes) * plane;
        for (int y = 0; y < h; ++y) {
            uint8_t *out = mask + size_t(b) * image_stride + size_t(y) * row_stride;
            const float *row = img + size_t(y) * size_t(w);
            if (classes == 1) {
                for (int x = 0; x < w; ++x) {
                    float v = row[x];
                    float prob = apply_sigmoid ? 1.0f / (1.0f + std::exp(-v)) : v;
                    out[x] = prob >= threshold ? 1 : 0;
                }
                continue;
            }
            for (int x = 0; x < w; ++x) {
                int best = 0;
                float best_v = row[x];
                for (int k = 1; k < classes; ++k) {
                    float v = row[size_t(k) * plane + size_t(x)];
                    if (v > best_v || (std::isnan(best_v) && !std::isnan(v))) {
                        best = k;
                        best_v = v;
                    }
                }
                out[x] = uint8_t(best);
            }
        }
    }
}

void class_mask(const float *scores, int n, int classes, int h, int w, bool apply_sigmoid, float threshold,
                uint8_t *mask) {
    class_mask(scores, n, classes, h, w, apply_sigmoid, threshold, mask, size_t(w), size_t(w) * size_t(h));
}

}  // namespace unetgen::rt
