// lower_conv_transpose.cpp — lower_conv_transpose(): PyTorch's ConvTranspose2d (any k, s, p, op).
//
// Gather form: output x receives input ix through tap kx when x + pad = ix * stride + kx. For a
// given x only the taps kx = (x + pad) mod stride + stride * j contribute, j = 0 .. ceil(k/s)-1,
// reading ix = floor((x + pad) / stride) - j; taps past the kernel and inputs outside the
// tensor contribute zero. So the reduction is over (jx, jy, i), not over the whole kernel.
//
// Phase form (op.phases, the CPU's): the same sums grouped by output phase. Output x = s X + a
// (a = x mod s) takes taps kx = r_a + s j, r_a = (a + pad) mod s, from input X + e_a - j,
// e_a = (a + pad) div s. accum(X, Y, c, phase = b s + a, n) is one small correlation per phase;
// where the schedule unrolls the phase, r_a, e_a and the tap test are constants, so each phase
// sums only its own taps (k3 s2: 4, 2, 2 and 1 of the 4 the gather form computes for every
// output) and a vector of pixels reads one dense row of a zero-padded input copy. In the gather
// form a vector of output pixels mixes phases: its lanes read taps and inputs by gather (MONAI's
// UNet: its 2-class top ConvTranspose ran at 3 GFLOP/s on an Intel Xeon). With k = s (UNet's
// 2x2 up-convs) every tap is live in both forms; the phase form is then one GEMM of the input's
// pixels by the phases' weights, which its schedule blocks for the cache.
#include "codegen/lowering.h"

namespace unetgen::codegen {

namespace {

ConvStages lower_phases(const Tensor &in, const ConvTransposeOp &op, const LayerPacking &packing,
                        const Halide::ImageParam &weights) {
    using Halide::Expr;
    using Halide::Func;
    Dims d;
    ConvStages s(packing);
    const int st = op.stride, k = op.kernel, taps = (k + st - 1) / st;
    s.phase_stride = st;
    // k = s, no padding: every read lies inside the input, so the copy needs no zero border.
    if (k == st && op.pad == 0 && op.output_padding == 0) {
        s.staged = Func(op.name + "_in");
        s.staged(d.x, d.y, d.c, d.n) = in.f(d.x, d.y, d.c, d.n);
    } else {
        s.staged = zero_exterior(in, op.name + "_in");
    }
    s.staged_concat_at = in.concat_at;
    s.r = Halide::RDom(0, taps, 0, taps, 0, packing.in_channels, op.name + "_r");
    const Halide::RVar &jx = s.r.x, &jy = s.r.y, &ri = s.r.z;
    const Halide::Var &ph = s.phase;

    const Expr qa = ph % st + op.pad, qb = ph / st + op.pad;
    const Expr kx = qa % st + st * jx, ky = qb % st + st * jy;
    Expr w = weights(int(packing.weight_offset) +
                     packed_index(packing, d.c, ri, Halide::min(ky, k - 1), Halide::min(kx, k - 1)));
    Expr term = w * s.staged(d.x + qa / st - jx, d.y + qb / st - jy, ri, d.n);
    if (k % st != 0) term = Halide::select(kx < k && ky < k, term, 0.0f);

    s.accum = Func(op.name + "_acc");
    s.accum(d.x, d.y, d.c, ph, d.n) = weights(int(packing.bias_offset) + d.c);
    s.accum(d.x, d.y, d.c, ph, d.n) += term;
    s.result = Func(op.name);
    s.result(d.x, d.y, d.c, d.n) = s.accum(d.x / st, d.y / st, d.c, (d.y % st) * st + d.x % st, d.n);
    return s;
}

}  // namespace

ConvStages lower_conv_transpose(const Tensor &in, const ConvTransposeOp &op, const LayerPacking &packing,
                                const Halide::ImageParam &weights) {
    using Halide::Expr;
    using Halide::Func;
    Dims d;
    if (op.phases && !packing.transpose_bf16) return lower_phases(in, op, packing, weights);
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
