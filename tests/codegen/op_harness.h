// op_harness.h — what the op tests share: random tensors, Halide buffers from and to the
// reference's Tensor4, and the 1e-5 comparison (relative, absolute below magnitude 1).
#pragma once

#include "codegen/lowering.h"
#include "reference_ops.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

namespace unetgen::op_harness {

using reference::Tensor4;

inline std::vector<float> random_vec(size_t count, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(lo, hi);
    std::vector<float> v(count);
    for (float &f : v) f = dist(rng);
    return v;
}

inline Tensor4 random_tensor(int n, int c, int h, int w, uint32_t seed) {
    Tensor4 t(n, c, h, w);
    t.v = random_vec(t.v.size(), seed);
    return t;
}

inline Halide::Buffer<float> to_buffer(const Tensor4 &t) {
    Halide::Buffer<float> b(t.w, t.h, t.c, t.n);
    for (int n = 0; n < t.n; ++n)
        for (int c = 0; c < t.c; ++c)
            for (int y = 0; y < t.h; ++y)
                for (int x = 0; x < t.w; ++x) b(x, y, c, n) = t.at(n, c, y, x);
    return b;
}

inline codegen::Tensor tensor_of(const Halide::Buffer<float> &b) {
    return codegen::Tensor{Halide::BoundaryConditions::repeat_edge(b), b.dim(2).extent(), b.dim(0).extent(),
                           b.dim(1).extent()};
}

// A ConvTranspose2d(k, stride, pad, output_padding) as the lowering takes it, in the gather or
// the phase form.
inline codegen::ConvTransposeOp conv_transpose_op(int k, int stride, int pad, int op_pad, bool phases) {
    codegen::ConvTransposeOp op;
    op.name = "upconv";
    op.kernel = k;
    op.stride = stride;
    op.pad = pad;
    op.output_padding = op_pad;
    op.phases = phases;
    return op;
}

// Realizes f over n x c x h x w through a plain wrapper (f keeps its own schedule).
inline Tensor4 realize(const Halide::Func &f, int n, int c, int h, int w) {
    codegen::Dims d;
    Halide::Func out("test_out");
    out(d.x, d.y, d.c, d.n) = f(d.x, d.y, d.c, d.n);
    Halide::Buffer<float> b = out.realize({w, h, c, n});
    Tensor4 t(n, c, h, w);
    for (int ni = 0; ni < n; ++ni)
        for (int ci = 0; ci < c; ++ci)
            for (int y = 0; y < h; ++y)
                for (int x = 0; x < w; ++x) t.at(ni, ci, y, x) = b(x, y, ci, ni);
    return t;
}

inline void require_close(const Tensor4 &got, const Tensor4 &want, const std::string &what) {
    INFO(what);
    REQUIRE(got.v.size() == want.v.size());
    size_t bad = 0, first = 0;
    float worst = 0.0f;
    for (size_t i = 0; i < got.v.size(); ++i) {
        float g = got.v[i], w = want.v[i];
        float err = std::fabs(g - w) / std::max(1.0f, std::fabs(w));
        if (!(err <= 1e-5f)) {
            if (!bad) first = i;
            ++bad;
        }
        if (err > worst || std::isnan(err)) worst = err;
    }
    INFO("first mismatch at flat index " << first << ": got " << got.v[first] << ", want " << want.v[first] << "; "
                                         << bad << " bad of " << got.v.size() << ", worst relative error " << worst);
    CHECK(bad == 0);
}

}  // namespace unetgen::op_harness
