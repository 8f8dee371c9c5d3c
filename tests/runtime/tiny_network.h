// tiny_network.h — a three-layer network written by hand to test packing and segment():
//
//   A  enc0.conv0  conv 3x3 same, 2 -> 4, bias, BN before ReLU   layout "ihwo", o_block 2
//   B  enc0.conv1  conv 3x3 same, 4 -> 4, no bias, BN after ReLU  layout "hwoi"
//   C  up0         transposed conv k2 s2, 4 -> 3 classes, bias    layout "oihw"
//   softmax over the 3 classes when asked. Output extent 2*H; H must be even ("enc0.pool").
//
// tiny_pipeline() computes the network from the packed buffer with its own index arithmetic;
// tiny_reference() computes it in double straight from the unfolded PyTorch-layout tensors. If
// they agree, the runtime's BN folding and packing are what the manifest says.
#pragma once

#include "tests/runtime/test_support.h"

#include <HalideRuntime.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <map>

namespace unetgen::test {

constexpr int kTinyIn = 2, kTinyMid = 4, kTinyClasses = 3;

inline std::string tiny_manifest(const std::string &activation = "softmax") {
    using nlohmann::json;
    auto bn_tensors = [](const std::string &p, int c) {
        json a = json::array();
        for (const char *t : {"weight", "bias", "running_mean", "running_var"})
            a.push_back({{"name", p + "." + t}, {"shape", {c}}});
        return a;
    };
    json tensors = json::array();
    tensors.push_back({{"name", "enc0.conv0.weight"}, {"shape", {4, 2, 3, 3}}});
    tensors.push_back({{"name", "enc0.conv0.bias"}, {"shape", {4}}});
    for (auto &t : bn_tensors("enc0.bn0", 4)) tensors.push_back(t);
    tensors.push_back({{"name", "enc0.conv1.weight"}, {"shape", {4, 4, 3, 3}}});
    for (auto &t : bn_tensors("enc0.bn1", 4)) tensors.push_back(t);
    tensors.push_back({{"name", "up0.weight"}, {"shape", {4, 3, 2, 2}}});
    tensors.push_back({{"name", "up0.bias"}, {"shape", {3}}});
    json m = {
        {"format", 1}, {"name", "tiny"}, {"in_channels", kTinyIn}, {"classes", kTinyClasses},
        {"activation", activation}, {"threshold", 0.5}, {"mean", {0.5, 0.25}}, {"std", {0.5, 2.0}},
        {"sizes",
         {{"nodes", {{{"op", "input"}}, {{"op", "mul"}, {"a", 0}, {"k", 2}}, {{"op", "floordiv"}, {"a", 0}, {"k", 2}},
                     {{"op", "mul"}, {"a", 2}, {"k", 2}}}},
          {"constraints", {{{"kind", "positive"}, {"a", 0}, {"what", "input"}},
                           {{"kind", "eq"}, {"a", 0}, {"b", 3}, {"what", "enc0.pool"}}}},
          {"output", 1}}},
        {"tensors", tensors},
        {"packed_floats", 290},
        {"packing",
         {{{"layer", "enc0.conv0"}, {"kind", "conv"}, {"weight", "enc0.conv0.weight"}, {"bias", "enc0.conv0.bias"},
           {"bn", "enc0.bn0"}, {"bn_eps", 1e-5}, {"bn_position", "before_relu"}, {"out_channels", 4},
           {"in_channels", 2}, {"kernel", 3}, {"layout", "ihwo"}, {"o_block", 2}, {"weight_offset", 0},
           {"bias_offset", 72}, {"scale_offset", -1}, {"shift_offset", -1}},
          {{"layer", "enc0.conv1"}, {"kind", "conv"}, {"weight", "enc0.conv1.weight"}, {"bias", nullptr},
           {"bn", "enc0.bn1"}, {"bn_eps", 1e-3}, {"bn_position", "after_relu"}, {"out_channels", 4},
           {"in_channels", 4}, {"kernel", 3}, {"layout", "hwoi"}, {"o_block", 0}, {"weight_offset", 80},
           {"bias_offset", 224}, {"scale_offset", 228}, {"shift_offset", 232}},
          {{"layer", "up0"}, {"kind", "conv_transpose"}, {"weight", "up0.weight"}, {"bias", "up0.bias"},
           {"bn", nullptr}, {"out_channels", 3}, {"in_channels", 4}, {"kernel", 2}, {"layout", "oihw"},
           {"o_block", 0}, {"weight_offset", 236}, {"bias_offset", 284}, {"scale_offset", -1},
           {"shift_offset", -1}}}}};
    return m.dump(2);
}

// Trained-looking tensors with non-trivial BN statistics, in canonical order.
inline std::vector<TensorSpec> tiny_weights(uint32_t seed = 7) {
    std::vector<TensorSpec> t;
    auto add = [&](const std::string &name, std::vector<int64_t> shape, float lo_abs = 0.0f) {
        std::vector<float> v = pseudo_random(size_t(numel(shape)), seed++);
        if (lo_abs > 0)
            for (float &x : v) x = lo_abs + std::fabs(x);  // variances must be positive
        t.push_back({name, shape, v});
    };
    add("enc0.conv0.weight", {4, 2, 3, 3});
    add("enc0.conv0.bias", {4});
    for (const std::string bn : {"enc0.bn0", "enc0.bn1"}) {
        if (bn == "enc0.bn1") add("enc0.conv1.weight", {4, 4, 3, 3});
        add(bn + ".weight", {4});
        add(bn + ".bias", {4});
        add(bn + ".running_mean", {4});
        add(bn + ".running_var", {4}, 0.3f);
    }
    add("up0.weight", {4, 3, 2, 2});
    add("up0.bias", {3});
    return t;
}

// ---- the pipeline, from the packed buffer -----------------------------------------------------

inline float at(const halide_buffer_t *b, int x, int y, int c, int n) {
    const float *p = reinterpret_cast<const float *>(b->host);
    return p[x * b->dim[0].stride + y * b->dim[1].stride + c * b->dim[2].stride + n * b->dim[3].stride];
}

// Counts calls (for the thread test) — atomic because several threads call at once.
inline std::atomic<int> &tiny_calls() {
    static std::atomic<int> calls{0};
    return calls;
}

extern "C" inline int tiny_pipeline(halide_buffer_t *in, halide_buffer_t *weights, int activate, halide_buffer_t *out) {
    ++tiny_calls();
    const float *w = reinterpret_cast<const float *>(weights->host);
    const int W = in->dim[0].extent, H = in->dim[1].extent, N = in->dim[3].extent;
    if (in->dim[2].extent != kTinyIn || out->dim[2].extent != kTinyClasses || out->dim[0].extent != 2 * W ||
        out->dim[1].extent != 2 * H || out->dim[3].extent != N || weights->dim[0].extent != 290)
        return -1;
    float *o = reinterpret_cast<float *>(out->host);
    for (int n = 0; n < N; ++n) {
        std::vector<float> a(size_t(kTinyMid * H * W)), b(a.size());
        auto A = [&](int c, int y, int x) -> float & { return a[size_t((c * H + y) * W + x)]; };
        auto B = [&](int c, int y, int x) -> float & { return b[size_t((c * H + y) * W + x)]; };
        for (int c = 0; c < kTinyMid; ++c)  // layer A: layout [o/2][i][h][w][o%2], bias at 72
            for (int y = 0; y < H; ++y)
                for (int x = 0; x < W; ++x) {
                    float s = w[72 + c];
                    for (int i = 0; i < kTinyIn; ++i)
                        for (int ky = 0; ky < 3; ++ky)
                            for (int kx = 0; kx < 3; ++kx) {
                                int yy = y + ky - 1, xx = x + kx - 1;
                                if (yy < 0 || yy >= H || xx < 0 || xx >= W) continue;
                                s += w[(((c / 2 * kTinyIn + i) * 3 + ky) * 3 + kx) * 2 + c % 2] * at(in, xx, yy, i, n);
                            }
                    A(c, y, x) = std::max(s, 0.0f);
                }
        for (int c = 0; c < kTinyMid; ++c)  // layer B: layout [h][w][o][i], bias 224, scale 228, shift 232
            for (int y = 0; y < H; ++y)
                for (int x = 0; x < W; ++x) {
                    float s = w[224 + c];
                    for (int i = 0; i < kTinyMid; ++i)
                        for (int ky = 0; ky < 3; ++ky)
                            for (int kx = 0; kx < 3; ++kx) {
                                int yy = y + ky - 1, xx = x + kx - 1;
                                if (yy < 0 || yy >= H || xx < 0 || xx >= W) continue;
                                s += w[80 + ((ky * 3 + kx) * kTinyMid + c) * kTinyMid + i] * A(i, yy, xx);
                            }
                    B(c, y, x) = std::max(s, 0.0f) * w[228 + c] + w[232 + c];
                }
        for (int c = 0; c < kTinyClasses; ++c)  // layer C: transposed, layout [o][i][h][w], bias 284
            for (int y = 0; y < 2 * H; ++y)
                for (int x = 0; x < 2 * W; ++x) {
                    float s = w[284 + c];
                    for (int i = 0; i < kTinyMid; ++i)
                        s += w[236 + ((c * kTinyMid + i) * 2 + y % 2) * 2 + x % 2] * B(i, y / 2, x / 2);
                    o[x * out->dim[0].stride + y * out->dim[1].stride + c * out->dim[2].stride + n * out->dim[3].stride] = s;
                }
        if (activate)
            for (int y = 0; y < 2 * H; ++y)
                for (int x = 0; x < 2 * W; ++x) {
                    auto idx = [&](int c) {
                        return x * out->dim[0].stride + y * out->dim[1].stride + c * out->dim[2].stride +
                               n * out->dim[3].stride;
                    };
                    float mx = o[idx(0)], sum = 0;
                    for (int c = 1; c < kTinyClasses; ++c) mx = std::max(mx, o[idx(c)]);
                    for (int c = 0; c < kTinyClasses; ++c) sum += std::exp(o[idx(c)] - mx);
                    for (int c = 0; c < kTinyClasses; ++c) o[idx(c)] = std::exp(o[idx(c)] - mx) / sum;
                }
    }
    return 0;
}

// ---- the reference, in double from PyTorch-layout tensors --------------------------------------

// Logits n x classes x 2H x 2W for a planar NCHW input.
inline std::vector<double> tiny_reference(const std::vector<TensorSpec> &ts, const std::vector<float> &input, int N,
                                          int H, int W) {
    std::map<std::string, std::vector<float>> t;
    for (const TensorSpec &s : ts) t[s.name] = s.values;
    auto bn = [&](const std::string &p, int c, double v, double eps) {
        return (v - t[p + ".running_mean"][c]) / std::sqrt(double(t[p + ".running_var"][c]) + eps) * t[p + ".weight"][c] +
               t[p + ".bias"][c];
    };
    std::vector<double> out(size_t(N * kTinyClasses * 4 * H * W));
    for (int n = 0; n < N; ++n) {
        std::vector<double> a(size_t(kTinyMid * H * W)), b(a.size());
        auto conv3 = [&](const std::vector<float> &wt, int I, auto src, int c, int y, int x) {
            double s = 0;
            for (int i = 0; i < I; ++i)
                for (int ky = 0; ky < 3; ++ky)
                    for (int kx = 0; kx < 3; ++kx) {
                        int yy = y + ky - 1, xx = x + kx - 1;
                        if (yy >= 0 && yy < H && xx >= 0 && xx < W) s += wt[size_t(((c * I + i) * 3 + ky) * 3 + kx)] * src(i, yy, xx);
                    }
            return s;
        };
        auto inp = [&](int i, int y, int x) { return double(input[size_t(((n * kTinyIn + i) * H + y) * W + x)]); };
        auto av = [&](int i, int y, int x) { return a[size_t((i * H + y) * W + x)]; };
        for (int c = 0; c < kTinyMid; ++c)
            for (int y = 0; y < H; ++y)
                for (int x = 0; x < W; ++x) {
                    double v = conv3(t["enc0.conv0.weight"], kTinyIn, inp, c, y, x) + t["enc0.conv0.bias"][c];
                    a[size_t((c * H + y) * W + x)] = std::max(bn("enc0.bn0", c, v, 1e-5), 0.0);  // conv, BN, ReLU
                }
        for (int c = 0; c < kTinyMid; ++c)
            for (int y = 0; y < H; ++y)
                for (int x = 0; x < W; ++x) {
                    double v = conv3(t["enc0.conv1.weight"], kTinyMid, av, c, y, x);
                    b[size_t((c * H + y) * W + x)] = bn("enc0.bn1", c, std::max(v, 0.0), 1e-3);  // conv, ReLU, BN
                }
        for (int c = 0; c < kTinyClasses; ++c)
            for (int y = 0; y < 2 * H; ++y)
                for (int x = 0; x < 2 * W; ++x) out[size_t(((n * kTinyClasses + c) * 2 * H + y) * 2 * W + x)] = t["up0.bias"][c];
        for (int i = 0; i < kTinyMid; ++i)  // PyTorch's ConvTranspose2d: scatter each input pixel
            for (int y = 0; y < H; ++y)
                for (int x = 0; x < W; ++x)
                    for (int c = 0; c < kTinyClasses; ++c)
                        for (int ky = 0; ky < 2; ++ky)
                            for (int kx = 0; kx < 2; ++kx)
                                out[size_t(((n * kTinyClasses + c) * 2 * H + 2 * y + ky) * 2 * W + 2 * x + kx)] +=
                                    t["up0.weight"][size_t(((i * kTinyClasses + c) * 2 + ky) * 2 + kx)] *
                                    b[size_t((i * H + y) * W + x)];
    }
    return out;
}

}  // namespace unetgen::test
