// lower_activation.cpp — lower_activation(): the head's sigmoid / softmax, switched at run time.
//
// `activate` is a pipeline parameter, so one library returns raw logits or probabilities.
// Softmax subtracts the per-pixel maximum first (as PyTorch does) so exp never overflows.
#include "codegen/lowering.h"

namespace unetgen::codegen {

Halide::Func lower_activation(const Tensor &logits, Activation activation, const Halide::Expr &activate,
                              Halide::Func &softmax_max, Halide::Func &softmax_sum) {
    using Halide::Expr;
    Dims d;
    Halide::Func out("output");
    Expr v = logits.f(d.x, d.y, d.c, d.n);
    switch (activation) {
    case Activation::None:
        out(d.x, d.y, d.c, d.n) = v;
        break;
    case Activation::Sigmoid:
        out(d.x, d.y, d.c, d.n) = Halide::select(activate != 0, 1.0f / (1.0f + Halide::exp(-v)), v);
        break;
    case Activation::Softmax: {
        Halide::RDom rc(0, logits.channels, "classes");
        softmax_max = Halide::Func("softmax_max");
        softmax_max(d.x, d.y, d.n) = Halide::Float(32).min();
        softmax_max(d.x, d.y, d.n) = Halide::max(softmax_max(d.x, d.y, d.n), logits.f(d.x, d.y, rc, d.n));
        softmax_sum = Halide::Func("softmax_sum");
        softmax_sum(d.x, d.y, d.n) = 0.0f;
        softmax_sum(d.x, d.y, d.n) += Halide::exp(logits.f(d.x, d.y, rc, d.n) - softmax_max(d.x, d.y, d.n));
        Expr p = Halide::exp(v - softmax_max(d.x, d.y, d.n)) / softmax_sum(d.x, d.y, d.n);
        out(d.x, d.y, d.c, d.n) = Halide::select(activate != 0, p, v);
        break;
    }
    }
    return out;
}

}  // namespace unetgen::codegen
