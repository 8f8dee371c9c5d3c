// reference_ops.cpp — the naive loops behind reference_ops.h (accumulation in double).
#include "reference_ops.h"

#include <string>

#include <algorithm>
#include <cmath>

namespace unetgen::reference {

Tensor4 conv2d(const Tensor4 &in, const std::vector<float> &weight, const std::vector<float> &bias, int out_c,
               int k, int pad, bool relu, const std::vector<float> &scale, const std::vector<float> &shift,
               float relu_slope) {
    Tensor4 out(in.n, out_c, in.h + 2 * pad - k + 1, in.w + 2 * pad - k + 1);
    for (int n = 0; n < in.n; ++n)
        for (int o = 0; o < out_c; ++o)
            for (int y = 0; y < out.h; ++y)
                for (int x = 0; x < out.w; ++x) {
                    double acc = bias[o];
                    for (int i = 0; i < in.c; ++i)
                        for (int ky = 0; ky < k; ++ky)
                            for (int kx = 0; kx < k; ++kx) {
                                int iy = y + ky - pad, ix = x + kx - pad;
                                if (iy < 0 || iy >= in.h || ix < 0 || ix >= in.w) continue;
                                acc += double(weight[((size_t(o) * in.c + i) * k + ky) * k + kx]) * in.at(n, i, iy, ix);
                            }
                    float v = float(acc);
                    if (relu) v = v >= 0.0f ? v : v * relu_slope;  // slope 0: ReLU
                    if (!scale.empty()) v = v * scale[o] + shift[o];
                    out.at(n, o, y, x) = v;
                }
    return out;
}

Tensor4 conv_transpose2d(const Tensor4 &in, const std::vector<float> &weight, const std::vector<float> &bias,
                         int out_c, int k, int stride, int pad, int output_padding) {
    int oh = (in.h - 1) * stride - 2 * pad + k + output_padding;
    int ow = (in.w - 1) * stride - 2 * pad + k + output_padding;
    Tensor4 out(in.n, out_c, oh, ow);
    std::vector<double> acc(out.v.size(), 0.0);
    // Scatter form (how the op is defined): every input pixel spreads over a k x k window.
    for (int n = 0; n < in.n; ++n)
        for (int i = 0; i < in.c; ++i)
            for (int y = 0; y < in.h; ++y)
                for (int x = 0; x < in.w; ++x)
                    for (int o = 0; o < out_c; ++o)
                        for (int ky = 0; ky < k; ++ky)
                            for (int kx = 0; kx < k; ++kx) {
                                int oy = y * stride - pad + ky, ox = x * stride - pad + kx;
                                if (oy < 0 || oy >= oh || ox < 0 || ox >= ow) continue;
                                acc[((size_t(n) * out_c + o) * oh + oy) * ow + ox] +=
                                    double(weight[((size_t(i) * out_c + o) * k + ky) * k + kx]) * in.at(n, i, y, x);
                            }
    for (int n = 0; n < in.n; ++n)
        for (int o = 0; o < out_c; ++o)
            for (int y = 0; y < oh; ++y)
                for (int x = 0; x < ow; ++x)
                    out.at(n, o, y, x) = float(acc[((size_t(n) * out_c + o) * oh + y) * ow + x] + bias[o]);
    return out;
}

Tensor4 maxpool2(const Tensor4 &in) {
    Tensor4 out(in.n, in.c, in.h / 2, in.w / 2);
    for (int n = 0; n < in.n; ++n)
        for (int c = 0; c < in.c; ++c)
            for (int y = 0; y < out.h; ++y)
                for (int x = 0; x < out.w; ++x) {
                    float m = in.at(n, c, 2 * y, 2 * x);
                    m = std::max(m, in.at(n, c, 2 * y, 2 * x + 1));
                    m = std::max(m, in.at(n, c, 2 * y + 1, 2 * x));
                    m = std::max(m, in.at(n, c, 2 * y + 1, 2 * x + 1));
                    out.at(n, c, y, x) = m;
                }
    return out;
}

Tensor4 upsample_nearest2(const Tensor4 &in) {
    Tensor4 out(in.n, in.c, in.h * 2, in.w * 2);
    for (int n = 0; n < in.n; ++n)
        for (int c = 0; c < in.c; ++c)
            for (int y = 0; y < out.h; ++y)
                for (int x = 0; x < out.w; ++x) out.at(n, c, y, x) = in.at(n, c, int(std::floor(y * 0.5f)), int(std::floor(x * 0.5f)));
    return out;
}

// aten's area_pixel_compute_source_index + compute_indices_weights_linear, float math.
static void source_index(int dst, int in_size, int out_size, bool align_corners, int &i0, int &i1, float &l0, float &l1) {
    float src;
    if (align_corners) {
        float scale = out_size > 1 ? float(in_size - 1) / float(out_size - 1) : 0.0f;
        src = scale * float(dst);
    } else {
        float scale = 0.5f;  // 1 / scale_factor
        src = scale * (float(dst) + 0.5f) - 0.5f;
        if (src < 0) src = 0;
    }
    i0 = int(src);
    i1 = i0 + (i0 < in_size - 1 ? 1 : 0);
    l1 = src - float(i0);
    l0 = 1.0f - l1;
}

Tensor4 upsample_bilinear2(const Tensor4 &in, bool align_corners) {
    Tensor4 out(in.n, in.c, in.h * 2, in.w * 2);
    for (int n = 0; n < in.n; ++n)
        for (int c = 0; c < in.c; ++c)
            for (int y = 0; y < out.h; ++y)
                for (int x = 0; x < out.w; ++x) {
                    int y0, y1, x0, x1;
                    float ly0, ly1, lx0, lx1;
                    source_index(y, in.h, out.h, align_corners, y0, y1, ly0, ly1);
                    source_index(x, in.w, out.w, align_corners, x0, x1, lx0, lx1);
                    float top = in.at(n, c, y0, x0) * lx0 + in.at(n, c, y0, x1) * lx1;
                    float bottom = in.at(n, c, y1, x0) * lx0 + in.at(n, c, y1, x1) * lx1;
                    out.at(n, c, y, x) = top * ly0 + bottom * ly1;
                }
    return out;
}

Tensor4 concat(const Tensor4 &skip, const Tensor4 &up, bool skip_first, Match match) {
    Tensor4 s = skip, u = up;
    if (match == Match::Crop) {
        int dy = (skip.h - up.h) / 2, dx = (skip.w - up.w) / 2;
        s = Tensor4(skip.n, skip.c, up.h, up.w);
        for (int n = 0; n < s.n; ++n)
            for (int c = 0; c < s.c; ++c)
                for (int y = 0; y < s.h; ++y)
                    for (int x = 0; x < s.w; ++x) s.at(n, c, y, x) = skip.at(n, c, y + dy, x + dx);
    } else if (match == Match::Pad) {
        int dy = skip.h - up.h, dx = skip.w - up.w;
        int top = dy / 2, left = dx / 2;  // F.pad(x, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])
        u = Tensor4(up.n, up.c, skip.h, skip.w);
        for (int n = 0; n < u.n; ++n)
            for (int c = 0; c < u.c; ++c)
                for (int y = 0; y < up.h; ++y)
                    for (int x = 0; x < up.w; ++x) u.at(n, c, y + top, x + left) = up.at(n, c, y, x);
    }
    const Tensor4 &a = skip_first ? s : u, &b = skip_first ? u : s;
    Tensor4 out(a.n, a.c + b.c, a.h, a.w);
    for (int n = 0; n < out.n; ++n)
        for (int c = 0; c < out.c; ++c)
            for (int y = 0; y < out.h; ++y)
                for (int x = 0; x < out.w; ++x)
                    out.at(n, c, y, x) = c < a.c ? a.at(n, c, y, x) : b.at(n, c - a.c, y, x);
    return out;
}

Tensor4 sigmoid(const Tensor4 &in) {
    Tensor4 out = in;
    for (float &v : out.v) v = float(1.0 / (1.0 + std::exp(-double(v))));
    return out;
}

Tensor4 softmax_channels(const Tensor4 &in) {
    Tensor4 out = in;
    for (int n = 0; n < in.n; ++n)
        for (int y = 0; y < in.h; ++y)
            for (int x = 0; x < in.w; ++x) {
                double m = -1e300, s = 0;
                for (int c = 0; c < in.c; ++c) m = std::max(m, double(in.at(n, c, y, x)));
                for (int c = 0; c < in.c; ++c) s += std::exp(double(in.at(n, c, y, x)) - m);
                for (int c = 0; c < in.c; ++c) out.at(n, c, y, x) = float(std::exp(double(in.at(n, c, y, x)) - m) / s);
            }
    return out;
}

Tensor4 conv2d_padded(const Tensor4 &in, const std::vector<float> &weight, const std::vector<float> &bias, int out_c,
                      int k, int pad, int dilation, const char *padding_mode, int act) {
    const int span = dilation * (k - 1) + 1;
    Tensor4 out(in.n, out_c, in.h + 2 * pad - span + 1, in.w + 2 * pad - span + 1);
    const std::string mode = padding_mode;
    // PyTorch pads first (F.pad with the mode), then convolves the padded image.
    auto at = [&](int n, int c, int y, int x, bool &inside) {
        inside = true;
        if (y >= 0 && y < in.h && x >= 0 && x < in.w) return in.at(n, c, y, x);
        if (mode == "zeros") { inside = false; return 0.0f; }
        if (mode == "replicate") return in.at(n, c, std::min(std::max(y, 0), in.h - 1), std::min(std::max(x, 0), in.w - 1));
        const int ry = y < 0 ? -y : y >= in.h ? 2 * (in.h - 1) - y : y;  // reflect
        const int rx = x < 0 ? -x : x >= in.w ? 2 * (in.w - 1) - x : x;
        return in.at(n, c, ry, rx);
    };
    for (int n = 0; n < in.n; ++n)
        for (int o = 0; o < out_c; ++o)
            for (int y = 0; y < out.h; ++y)
                for (int x = 0; x < out.w; ++x) {
                    double acc = bias[size_t(o)];
                    for (int i = 0; i < in.c; ++i)
                        for (int ky = 0; ky < k; ++ky)
                            for (int kx = 0; kx < k; ++kx) {
                                bool inside = true;
                                const float v = at(n, i, y + ky * dilation - pad, x + kx * dilation - pad, inside);
                                if (inside) acc += double(weight[((size_t(o) * in.c + i) * k + ky) * k + kx]) * v;
                            }
                    double v = acc;
                    if (act == 1) v = v > 0 ? v : std::expm1(v);
                    if (act == 2) v = 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
                    out.at(n, o, y, x) = float(v);
                }
    return out;
}

Tensor4 avgpool2(const Tensor4 &in) {
    Tensor4 out(in.n, in.c, in.h / 2, in.w / 2);
    for (int n = 0; n < in.n; ++n)
        for (int c = 0; c < in.c; ++c)
            for (int y = 0; y < out.h; ++y)
                for (int x = 0; x < out.w; ++x)
                    out.at(n, c, y, x) = float((double(in.at(n, c, 2 * y, 2 * x)) + in.at(n, c, 2 * y, 2 * x + 1) +
                                                in.at(n, c, 2 * y + 1, 2 * x) + in.at(n, c, 2 * y + 1, 2 * x + 1)) / 4.0);
    return out;
}

Tensor4 add(const Tensor4 &a, const Tensor4 &b, bool relu) {
    Tensor4 out = a;
    for (size_t i = 0; i < out.v.size(); ++i) {
        const float v = a.v[i] + b.v[i];
        out.v[i] = relu && v < 0 ? 0.0f : v;
    }
    return out;
}

Tensor4 multiply_broadcast(const Tensor4 &x, const Tensor4 &alpha) {
    Tensor4 out = x;
    for (int n = 0; n < x.n; ++n)
        for (int c = 0; c < x.c; ++c)
            for (int y = 0; y < x.h; ++y)
                for (int i = 0; i < x.w; ++i) out.at(n, c, y, i) = x.at(n, c, y, i) * alpha.at(n, 0, y, i);
    return out;
}

Tensor4 group_norm(const Tensor4 &in, int groups, double eps, const std::vector<float> &gamma,
                   const std::vector<float> &beta, bool relu, float relu_slope) {
    Tensor4 out = in;
    const int per = in.c / groups;
    for (int n = 0; n < in.n; ++n)
        for (int g = 0; g < groups; ++g) {
            // Two passes in double: the textbook definition, independent of the pipeline's one pass.
            double sum = 0, count = double(per) * in.h * in.w;
            for (int c = g * per; c < (g + 1) * per; ++c)
                for (int y = 0; y < in.h; ++y)
                    for (int x = 0; x < in.w; ++x) sum += in.at(n, c, y, x);
            const double mean = sum / count;
            double sq = 0;
            for (int c = g * per; c < (g + 1) * per; ++c)
                for (int y = 0; y < in.h; ++y)
                    for (int x = 0; x < in.w; ++x) sq += (in.at(n, c, y, x) - mean) * (in.at(n, c, y, x) - mean);
            const double rstd = 1.0 / std::sqrt(sq / count + eps);
            for (int c = g * per; c < (g + 1) * per; ++c)
                for (int y = 0; y < in.h; ++y)
                    for (int x = 0; x < in.w; ++x) {
                        double v = (in.at(n, c, y, x) - mean) * rstd;
                        if (!gamma.empty()) v = v * gamma[size_t(c)] + beta[size_t(c)];
                        if (relu) v = v >= 0 ? v : v * relu_slope;
                        out.at(n, c, y, x) = float(v);
                    }
        }
    return out;
}

}  // namespace unetgen::reference
