// lower_conv_transpose.cpp — lower_conv_transpose(): PyTorch's ConvTranspose2d (any k, s, p, op).
//
// Gather form: output x receives input ix through tap kx when x + pad = ix * stride + kx. For a
// given x only the taps kx = (x + pad) mod stride + stride * j contribute, j = 0 .. ceil(k/s)-1,
// reading ix = floor((x + pad) / stride) - j; taps past the kernel and inputs outside the
// tensor contribute zero. So the reduction is over (jx, jy, i), not over the whole kernel.
#include "codegen/lowering.h"

namespace unetgen::codegen {

ConvStages lower_conv_transpose(const Tensor &in, const ConvTransposeOp &op, const LayerPacking &packing,
                                const Halide::ImageParam &weights) {
    using Halide::Expr;
    using Halide::Func;
    Dims d;
    ConvStages s(packing);
    if (packing.transpose_bf16) {
        // out(2x + kw, 2y + kh, o) = bias(o) + sum_i in(x, y, i) W(i, o, kh, kw): one GEMM of the
        // input's pixels by the (kh, kw, o) columns, in bf16 with float32 sums.
        const Halide::Var t("t");
        s.gemm_input = Func(op.name + "_a16");
        s.gemm_input(d.c, d.x, d.y, t, d.n) = bf16_bits(in.f(d.x, d.y, d.c, d.n));
        s.gemm = bf16_gemm_stage(op.name + "_gemm", s.gemm_input, weights, packing, 4 * packing.out_channels, 1, t);
        const Expr column = ((d.y % 2) * 2 + d.x % 2) * packing.out_channels + d.c;
        s.result = Func(op.name);
        s.result(d.x, d.y, d.c, d.n) =
            weights(int(packing.bias_offset) + d.c) + s.gemm(column, d.x / 2, d.y / 2, 0, d.n);
        return s;
    }

    Func src = zero_exterior(in, op.name + "_in");  // inlined: its select is cheap next to the FMAs
    const int taps = (op.kernel + op.stride - 1) / op.stride;
    s.r = Halide::RDom(0, taps, 0, taps, 0, packing.in_channels, op.name + "_r");
    const Halide::RVar &jx = s.r.x, &jy = s.r.y, &ri = s.r.z;

    Expr qx = d.x + op.pad, qy = d.y + op.pad;
    Expr kx = qx % op.stride + op.stride * jx, ky = qy % op.stride + op.stride * jy;
    Expr ix = qx / op.stride - jx, iy = qy / op.stride - jy;
    Expr tap_ok = kx < op.kernel && ky < op.kernel;
    // Clamped so a tap past the kernel never reads past the layer's block of the buffer.
    Expr kxc = Halide::min(kx, op.kernel - 1), kyc = Halide::min(ky, op.kernel - 1);
    Expr w = weights(int(packing.weight_offset) + packed_index(packing, d.c, ri, kyc, kxc));
    Expr bias = weights(int(packing.bias_offset) + d.c);

    s.accum = Func(op.name + "_acc");
    s.accum(d.x, d.y, d.c, d.n) = bias;
    Expr term = w * src(ix, iy, ri, d.n);
    if (op.kernel % op.stride != 0) term = Halide::select(tap_ok, term, 0.0f);
    s.accum(d.x, d.y, d.c, d.n) += term;

    s.result = Func(op.name);
    s.result(d.x, d.y, d.c, d.n) = s.accum(d.x, d.y, d.c, d.n);
    return s;
}

}  // namespace unetgen::codegen
