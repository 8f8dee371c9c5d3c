// segment_io.h — the pixel conversions around the pipeline: 8-bit images in, class masks out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace unetgen::rt {

// uint8 interleaved n x h x w x c -> float32 planar n x c x h x w, x = (u8 / 255 - mean[c]) / std[c],
// in float32 arithmetic in this order, as torchvision's ToTensor + Normalize compute it.
void normalise_u8_nhwc(const uint8_t *in, int n, int h, int w, int c, const std::vector<double> &mean,
                       const std::vector<double> &std, float *out_nchw);

// The same for block [x0, x0 + bw) x [y0, y0 + bh) of the n x h x w x c image, into n x c x bh x bw.
void normalise_u8_block(const uint8_t *image, int n, int h, int w, int c, int64_t x0, int64_t y0, int64_t bw, int64_t bh,
                        const std::vector<double> &mean, const std::vector<double> &std, float *out_nchw);

// Class mask from n x classes x h x w scores. Several classes: index of the first maximum (as
// torch.argmax; NaN never wins). One class: 1 where p >= threshold, p = sigmoid(score) when
// `apply_sigmoid` (scores are logits), else the score itself (already a probability).
void class_mask(const float *scores_nchw, int n, int classes, int h, int w, bool apply_sigmoid, float threshold,
                uint8_t *mask_nhw);
// The same into a window of a larger mask: rows `row_stride` bytes apart, images `image_stride`.
void class_mask(const float *scores_nchw, int n, int classes, int h, int w, bool apply_sigmoid, float threshold,
                uint8_t *mask, size_t row_stride, size_t image_stride);

}  // namespace unetgen::rt
