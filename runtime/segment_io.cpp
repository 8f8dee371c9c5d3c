// segment_io.cpp — normalise_u8_nhwc() and class_mask(): input scaling and output masks.
#include "runtime/segment_io.h"

#include <cmath>
#include <cstddef>

namespace unetgen::rt {

void normalise_u8_nhwc(const uint8_t *in, int n, int h, int w, int c, const std::vector<double> &mean,
                       const std::vector<double> &std, float *out_nchw) {
    const size_t plane = size_t(h) * size_t(w);
    for (int b = 0; b < n; ++b)
        for (int ch = 0; ch < c; ++ch) {
            // float32 constants, as PyTorch holds them in a float tensor
            const float m = float(mean[size_t(ch)]), s = float(std[size_t(ch)]);
            const uint8_t *src = in + size_t(b) * plane * size_t(c) + size_t(ch);
            float *dst = out_nchw + (size_t(b) * size_t(c) + size_t(ch)) * plane;
            for (size_t p = 0; p < plane; ++p) dst[p] = (float(src[p * size_t(c)]) / 255.0f - m) / s;
        }
}

void class_mask(const float *scores, int n, int classes, int h, int w, bool apply_sigmoid, float threshold,
                uint8_t *mask) {
    const size_t plane = size_t(h) * size_t(w);
    for (int b = 0; b < n; ++b) {
        const float *img = scores + size_t(b) * size_t(classes) * plane;
        uint8_t *out = mask + size_t(b) * plane;
        if (classes == 1) {
            for (size_t p = 0; p < plane; ++p) {
                float v = img[p];
                float prob = apply_sigmoid ? 1.0f / (1.0f + std::exp(-v)) : v;
                out[p] = prob >= threshold ? 1 : 0;
            }
            continue;
        }
        for (size_t p = 0; p < plane; ++p) {
            int best = 0;
            float best_v = img[p];
            for (int k = 1; k < classes; ++k) {
                float v = img[size_t(k) * plane + p];
                if (v > best_v || (std::isnan(best_v) && !std::isnan(v))) {
                    best = k;
                    best_v = v;
                }
            }
            out[p] = uint8_t(best);
        }
    }
}

}  // namespace unetgen::rt
