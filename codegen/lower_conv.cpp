// lower_conv.cpp — lower_conv(): a KxK conv unit, stride 1 or more (conv + bias [+ ReLU / LeakyReLU]
// [+ post-ReLU BN]).
//
// BatchNorm before the ReLU is already folded into the packed weight and bias by the runtime;
// BatchNorm after the ReLU (seed 000) cannot be folded into the conv, so it stays as a per-channel
// affine read from the packed buffer. The reduction runs over (kx, ky, i) with kx innermost.
#include "codegen/lowering.h"

namespace unetgen::codegen {

ConvStages lower_conv(const Tensor &in, const ConvOp &op, const LayerPacking &packing,
                      const Halide::ImageParam &weights) {
    using Halide::Expr;
    using Halide::Func;
    Dims d;
    ConvStages s(packing);

    // Zero padding: reads outside the input's extent see zeros. A valid conv reading a
    // materialised producer needs no copy: every tap it reads lies inside what it needs.
    Func src;
    if (op.pad > 0 || op.stage_input) {
        s.staged = padded_exterior(in, op.padding_mode, op.name + "_in");
        s.staged_concat_at = in.concat_at;
        src = s.staged;
    } else {
        src = in.f;
    }

    s.r = Halide::RDom(0, op.kernel, 0, op.kernel, 0, packing.in_channels, op.name + "_r");
    const Halide::RVar &kx = s.r.x, &ky = s.r.y, &ri = s.r.z;
    Expr o = d.c;
    Expr w = weights(int(packing.weight_offset) + packed_index(packing, o, ri, ky, kx));
    Expr bias = weights(int(packing.bias_offset) + o);

    s.accum = Func(op.name + "_acc");
    s.accum(d.x, d.y, d.c, d.n) = bias;
    s.accum(d.x, d.y, d.c, d.n) +=
        w * src(d.x * op.stride + kx * op.dilation - op.pad, d.y * op.stride + ky * op.dilation - op.pad, ri, d.n);

    s.result = Func(op.name);
    s.result(d.x, d.y, d.c, d.n) = conv_epilogue(s.accum(d.x, d.y, d.c, d.n), op, packing, weights, o);
    return s;
}

Halide::Expr unit_activation(const Halide::Expr &v, UnitActivation act, float slope, int64_t prelu_offset,
                             const Halide::ImageParam &weights) {
    // nn.ELU(): x where x > 0, else exp(x) - 1; nn.GELU(): x * (1 + erf(x / sqrt 2)) / 2.
    if (act == UnitActivation::Elu) return Halide::select(v > 0.0f, v, Halide::exp(v) - 1.0f);
    if (act == UnitActivation::Gelu) return 0.5f * v * (1.0f + Halide::erf(v * float(M_SQRT1_2)));
    // PyTorch's LeakyReLU and PReLU: x where x >= 0, else slope * x.
    if (prelu_offset >= 0) return Halide::select(v >= 0.0f, v, v * weights(int(prelu_offset)));
    return slope == 0 ? Halide::max(v, 0.0f) : Halide::select(v >= 0.0f, v, v * slope);
}

Halide::Expr conv_epilogue(Halide::Expr v, const ConvOp &op, const LayerPacking &packing,
                           const Halide::ImageParam &weights, const Halide::Expr &o) {
    if (op.relu) v = unit_activation(v, op.act, op.relu_slope, op.prelu_offset, weights);
    if (op.post_affine) v = v * weights(int(packing.scale_offset) + o) + weights(int(packing.shift_offset) + o);
    if (op.sigmoid) v = 1.0f / (1.0f + Halide::exp(-v));
    return v;
}

}  // namespace unetgen::codegen
