// lower_sample_norm.cpp — lower_sample_norm(): InstanceNorm2d / GroupNorm after a conv, with the
// statistics of each sample (PyTorch's, in train and eval alike), then the conv unit's activation.
//
// out(x, y, c, n) = act((v - mean(g, n)) * rstd(g, n) * gamma(c) + beta(c)), g = c / (C / groups),
// mean and the biased variance over the group's channels and the whole H x W, rstd = 1/sqrt(var + eps).
// Sums run in float64 (sum and sum of squares in one pass over the conv's output, which the
// schedule has materialised anyway): E[v^2] - mean^2 in double keeps ~1e-9 of the variance for
// the extents an image has, better than PyTorch's float32 Welford, and costs one read, not two.
// The normalised Func itself is elementwise: consumers compute it inline, like a fused BN.
#include "codegen/lowering.h"

#include <stdexcept>

namespace unetgen::codegen {

SampleNormStages lower_sample_norm(const Tensor &in, const SampleNormOp &op, const LayerPacking &packing,
                                   const Halide::ImageParam &weights) {
    using Halide::Expr;
    using Halide::Func;
    if (op.groups <= 0 || in.channels % op.groups != 0)
        throw std::logic_error("cannot normalise " + op.name + ": " + std::to_string(in.channels) +
                               " channels do not split into " + std::to_string(op.groups) + " groups");
    Dims d;
    SampleNormStages s;
    const int per_group = in.channels / op.groups;

    // Per column: (sum, sum of squares) over y; a column reduction reads rows of the conv's output
    // in order, so the schedule vectorises it along x.
    s.cols = Func(op.name + "_cols");
    s.ry = Halide::RDom(0, in.height, op.name + "_ry");
    s.cols(d.x, d.c, d.n) = Halide::Tuple(Expr(0.0), Expr(0.0));
    Expr v = Halide::cast<double>(in.f(d.x, s.ry, d.c, d.n));
    s.cols(d.x, d.c, d.n) = Halide::Tuple(s.cols(d.x, d.c, d.n)[0] + v, s.cols(d.x, d.c, d.n)[1] + v * v);

    // Per group: the columns of its channels.
    s.sums = Func(op.name + "_sums");
    s.rg = Halide::RDom(0, in.width, 0, per_group, op.name + "_rg");
    Expr c = d.c * per_group + s.rg.y;  // d.c is the group here
    s.sums(d.c, d.n) = Halide::Tuple(Expr(0.0), Expr(0.0));
    s.sums(d.c, d.n) = Halide::Tuple(s.sums(d.c, d.n)[0] + s.cols(s.rg.x, c, d.n)[0],
                                     s.sums(d.c, d.n)[1] + s.cols(s.rg.x, c, d.n)[1]);

    // Per group: float mean and 1 / sqrt(var + eps).
    s.stats = Func(op.name + "_stats");
    Expr count = Halide::cast<double>(in.width) * Halide::cast<double>(in.height) * per_group;
    Expr mean = s.sums(d.c, d.n)[0] / count;
    Expr var = Halide::max(s.sums(d.c, d.n)[1] / count - mean * mean, Expr(0.0));
    s.stats(d.c, d.n) = Halide::Tuple(Halide::cast<float>(mean),
                                      Halide::cast<float>(Expr(1.0) / Halide::sqrt(var + Expr(op.eps))));

    s.result = Func(op.name);
    Expr g = Halide::clamp(d.c, 0, in.channels - 1) / per_group;
    Expr y = (in.f(d.x, d.y, d.c, d.n) - s.stats(g, d.n)[0]) * s.stats(g, d.n)[1];
    if (op.affine) {
        Expr o = Halide::clamp(d.c, 0, in.channels - 1);
        y = y * weights(int(packing.scale_offset) + o) + weights(int(packing.shift_offset) + o);
    }
    if (op.relu) y = unit_activation(y, op.act, op.relu_slope, op.prelu_offset, weights);
    s.result(d.x, d.y, d.c, d.n) = y;
    return s;
}

}  // namespace unetgen::codegen
