// reference_ops.h — plain-loop reference implementations of every op, PyTorch semantics.
//
// Deliberately naive (no Halide, no shared code with codegen/) so the op tests compare two
// independent readings of the same PyTorch definitions. Tensors are dense NCHW float arrays.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace unetgen::reference {

struct Tensor4 {
    int n = 1, c = 0, h = 0, w = 0;
    std::vector<float> v;  // NCHW
    Tensor4() = default;
    Tensor4(int n_, int c_, int h_, int w_) : n(n_), c(c_), h(h_), w(w_), v(size_t(n_) * c_ * h_ * w_, 0.0f) {}
    float &at(int ni, int ci, int yi, int xi) { return v[((size_t(ni) * c + ci) * h + yi) * w + xi]; }
    float at(int ni, int ci, int yi, int xi) const { return v[((size_t(ni) * c + ci) * h + yi) * w + xi]; }
};

// Conv2d: weight [o][i][k][k] (flat), bias [o], stride 1, zero padding `pad`; then optional ReLU
// (LeakyReLU with `relu_slope` != 0: PyTorch's x >= 0 ? x : slope * x) and optional per-channel
// affine (scale, shift; empty = none).
Tensor4 conv2d(const Tensor4 &in, const std::vector<float> &weight, const std::vector<float> &bias, int out_c,
               int k, int pad, bool relu, const std::vector<float> &scale, const std::vector<float> &shift,
               float relu_slope = 0);

// ConvTranspose2d: weight [i][o][k][k] (flat), bias [o].
Tensor4 conv_transpose2d(const Tensor4 &in, const std::vector<float> &weight, const std::vector<float> &bias,
                         int out_c, int k, int stride, int pad, int output_padding);

Tensor4 maxpool2(const Tensor4 &in);
Tensor4 upsample_nearest2(const Tensor4 &in);
Tensor4 upsample_bilinear2(const Tensor4 &in, bool align_corners);

// torch.cat([a, b], 1) after center-cropping `skip` to `up` (crop), F.pad-ing `up` to `skip`
// (pad) or neither (exact); skip_first orders the two.
enum class Match { Crop, Pad, Exact };
Tensor4 concat(const Tensor4 &skip, const Tensor4 &up, bool skip_first, Match match);

Tensor4 sigmoid(const Tensor4 &in);

// Conv2d with dilation and padding_mode ("zeros", "replicate", "reflect"), stride 1, then an
// activation: 0 none, 1 ELU (alpha 1), 2 GELU (exact). AvgPool2d(2).
Tensor4 conv2d_padded(const Tensor4 &in, const std::vector<float> &weight, const std::vector<float> &bias, int out_c,
                      int k, int pad, int dilation, const char *padding_mode, int act);
Tensor4 avgpool2(const Tensor4 &in);

// a + b (then ReLU when `relu`); x * alpha[n, 0, y, x] for a one-channel alpha.
Tensor4 add(const Tensor4 &a, const Tensor4 &b, bool relu);
Tensor4 multiply_broadcast(const Tensor4 &x, const Tensor4 &alpha);

// GroupNorm(groups, C, eps) (InstanceNorm2d: groups = C): per sample and group, mean and biased
// variance over the group's channels and H x W, (x - mean) / sqrt(var + eps), then gamma / beta
// (empty: none), then ReLU / LeakyReLU when `relu`.
Tensor4 group_norm(const Tensor4 &in, int groups, double eps, const std::vector<float> &gamma,
                   const std::vector<float> &beta, bool relu, float relu_slope);
Tensor4 softmax_channels(const Tensor4 &in);

}  // namespace unetgen::reference
