// lower_winograd.cpp — lower_conv_winograd(): a 3x3 stride-1 conv unit as Winograd F(2x2, 3x3).
//
// Same result as lower_conv() (bias [+ ReLU] [+ post-ReLU affine]) with 16 multiplies per 2x2
// output tile and input/output channel pair instead of 36 (Lavin & Gray 2016). With d a 4x4
// input tile, g the 3x3 kernel and t = 4 * p + q indexing the 4x4 transformed domain:
//   U = G g G^T (per output/input channel pair; recomputed each call from the packed weights,
//   since the manifest's layouts are permutations only), V = B^T d B (per input channel and
//   tile), M_t = sum_i U_t(o, i) V_t(i, tile) (16 independent GEMMs), Y = A^T M A (2x2 outputs).
// The transforms are exact in real arithmetic; in float32 the error stays ~1e-6 relative (the
// parity tests check every spec). Tile (tx, ty) covers outputs (2tx.., 2ty..) and reads input
// (2tx - pad .. 2tx - pad + 3): an input column past the last one only feeds the discarded
// second output of a tile, so odd extents stay exact.
#include "codegen/lowering.h"

namespace unetgen::codegen {

namespace {

const float kBT[4][4] = {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}};
const float kG[4][3] = {{1, 0, 0}, {0.5f, 0.5f, 0.5f}, {0.5f, -0.5f, 0.5f}, {0, 0, 1}};
const float kAT[2][4] = {{1, 1, 1, 0}, {0, 1, -1, -1}};

// sum_k coef[k] * v[k], skipping zero coefficients and multiplying by +-1 as add / subtract.
Halide::Expr combine(const std::vector<float> &coef, const std::vector<Halide::Expr> &v) {
    Halide::Expr sum;
    for (size_t k = 0; k < coef.size(); ++k) {
        if (coef[k] == 0.0f) continue;
        Halide::Expr term = coef[k] == 1.0f || coef[k] == -1.0f ? v[k] : coef[k] * v[k];
        if (!sum.defined()) sum = coef[k] == -1.0f ? -term : term;
        else sum = coef[k] == -1.0f ? sum - term : sum + term;
    }
    return sum.defined() ? sum : Halide::Expr(0.0f);
}

}  // namespace

bool winograd_applies(const ConvOp &op, const LayerPacking &packing, int max_channels) {
    return op.kernel == 3 && packing.in_channels >= 16 && packing.in_channels % 16 == 0 &&
           packing.out_channels % 16 == 0 && packing.in_channels <= max_channels && packing.out_channels <= max_channels;
}

ConvStages lower_conv_winograd(const Tensor &in, const ConvOp &op, const LayerPacking &packing,
                               const Halide::ImageParam &weights) {
    using Halide::Expr;
    using Halide::Func;
    Dims d;
    ConvStages s;
    s.out_channels = packing.out_channels;
    s.in_channels = packing.in_channels;
    s.kernel = packing.kernel;
    s.o_block = packing.o_block;
    s.winograd.enabled = true;
    const Halide::Var &t = s.winograd.t, &i = s.winograd.i;

    Func src;
    if (op.pad > 0 || op.stage_input) {
        s.staged = zero_exterior(in, op.name + "_in");
        src = s.staged;
    } else {
        src = in.f;
    }

    // U(o % 16, i, o / 16, t) = (G g G^T)[p][q]: blocks of 16 output channels, so a GEMM's
    // weight vectors for consecutive input channels are consecutive in memory.
    const Halide::Var &ob = s.winograd.ob;
    std::vector<Expr> g(9);
    for (int r = 0; r < 3; ++r)
        for (int c = 0; c < 3; ++c)
            g[size_t(r * 3 + c)] =
                weights(int(packing.weight_offset) + packed_index(packing, ob * 16 + d.c, i, r, c));
    std::vector<Expr> u;
    for (int p = 0; p < 4; ++p)
        for (int q = 0; q < 4; ++q) {
            std::vector<float> coef(9);
            for (int r = 0; r < 3; ++r)
                for (int c = 0; c < 3; ++c) coef[size_t(r * 3 + c)] = kG[p][r] * kG[q][c];
            u.push_back(combine(coef, g));
        }
    s.winograd.weights_t = Func(op.name + "_wt");
    s.winograd.weights_t(d.c, i, ob, t) = Halide::mux(t, u);

    // V(i, tx, ty, t, n) = (B^T d B)[p][q], d[a][b] = src(2tx - pad + b, 2ty - pad + a).
    std::vector<Expr> tile(16);
    for (int a = 0; a < 4; ++a)
        for (int b = 0; b < 4; ++b)
            tile[size_t(a * 4 + b)] = src(2 * d.x - op.pad + b, 2 * d.y - op.pad + a, d.c, d.n);
    std::vector<Expr> v;
    for (int p = 0; p < 4; ++p)
        for (int q = 0; q < 4; ++q) {
            std::vector<float> coef(16);
            for (int a = 0; a < 4; ++a)
                for (int b = 0; b < 4; ++b) coef[size_t(a * 4 + b)] = kBT[p][a] * kBT[q][b];
            v.push_back(combine(coef, tile));
        }
    s.winograd.input_t = Func(op.name + "_vt");
    s.winograd.input_t(d.c, d.x, d.y, t, d.n) = Halide::mux(t, v);

    // M(o, tx, ty, t, n) = sum_i U(o, i, t) V(i, tx, ty, t, n).
    s.r = Halide::RDom(0, packing.in_channels, op.name + "_r");
    s.winograd.gemm_acc = Func(op.name + "_gemm_acc");
    s.winograd.gemm_acc(d.c, d.x, d.y, t, d.n) = 0.0f;
    s.winograd.gemm_acc(d.c, d.x, d.y, t, d.n) +=
        s.winograd.weights_t(d.c % 16, s.r.x, d.c / 16, t) * s.winograd.input_t(s.r.x, d.x, d.y, t, d.n);
    s.winograd.gemm = Func(op.name + "_gemm");
    s.winograd.gemm(d.c, d.x, d.y, t, d.n) = s.winograd.gemm_acc(d.c, d.x, d.y, t, d.n);

    // Y[e][f] = (A^T M A)[e][f] for output (2tx + f, 2ty + e).
    std::vector<Expr> m(16);
    for (int k = 0; k < 16; ++k) m[size_t(k)] = s.winograd.gemm(d.c, d.x / 2, d.y / 2, k, d.n);
    std::vector<Expr> y;
    for (int e = 0; e < 2; ++e)
        for (int f = 0; f < 2; ++f) {
            std::vector<float> coef(16);
            for (int p = 0; p < 4; ++p)
                for (int q = 0; q < 4; ++q) coef[size_t(p * 4 + q)] = kAT[e][p] * kAT[f][q];
            y.push_back(combine(coef, m));
        }
    Expr o = d.c;
    Expr val = weights(int(packing.bias_offset) + o) + Halide::mux(d.x % 2 + 2 * (d.y % 2), y);
    if (op.relu) val = Halide::max(val, 0.0f);
    if (op.post_affine) val = val * weights(int(packing.scale_offset) + o) + weights(int(packing.shift_offset) + o);
    s.result = Func(op.name);
    s.result(d.x, d.y, d.c, d.n) = val;
    return s;
}

}  // namespace unetgen::codegen
