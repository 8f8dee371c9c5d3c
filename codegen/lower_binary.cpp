// lower_binary.cpp — lower_add() and lower_multiply(): the elementwise layers of two inputs an
// attention gate needs (theta(x) + phi(g) with its ReLU; the skip scaled by the gate's map).
//
// Both are computed inline by their consumer (kLayerOps: not materialised), like a concat. Channel
// reads are clamped per input so bounds inference never asks a producer for channels it lacks.
#include "codegen/lowering.h"

namespace unetgen::codegen {

Tensor lower_add(const Tensor &a, const Tensor &b, bool relu, const std::string &name) {
    Dims d;
    Halide::Func f(name);
    Halide::Expr v = a.f(d.x, d.y, d.c, d.n) + b.f(d.x, d.y, d.c, d.n);
    f(d.x, d.y, d.c, d.n) = relu ? Halide::max(v, 0.0f) : v;
    return Tensor{f, a.channels, a.width, a.height};
}

Tensor lower_multiply(const Tensor &x, const Tensor &alpha, const std::string &name) {
    Dims d;
    Halide::Func f(name);
    // alpha has one channel (or x's): broadcast over x's channels as PyTorch's alpha * x does.
    Halide::Expr ac = alpha.channels == 1 ? Halide::Expr(0) : Halide::clamp(d.c, 0, alpha.channels - 1);
    f(d.x, d.y, d.c, d.n) = x.f(d.x, d.y, d.c, d.n) * alpha.f(d.x, d.y, ac, d.n);
    return Tensor{f, x.channels, x.width, x.height};
}

}  // namespace unetgen::codegen
