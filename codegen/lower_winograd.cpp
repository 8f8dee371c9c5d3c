// lower_winograd.cpp — lower_conv_winograd(): a 3x3 stride-1 conv unit as Winograd F(2x2 or 4x4, 3x3).
//
// Same result as lower_conv() (bias [+ ReLU] [+ post-ReLU affine]) with n^2 multiplies per m x m
// output tile and input/output channel pair instead of 9 m^2 (Lavin & Gray 2016; n = m + 2:
// 16 for 4 outputs, or 36 for 16). With d an n x n input tile, g the 3x3 kernel and
// t = n * p + q indexing the transformed domain:
//   U = G g G^T (per output/input channel pair; by the runtime when it packs the weights, or by
//   the pipeline every call: LayerPacking::winograd_u), V = B^T d B (per input channel and tile),
//   M_t = sum_i U_t(o, i) V_t(i, tile) (n^2 independent GEMMs), Y = A^T M A.
// The transforms are exact in real arithmetic; in float32 the error grows with m (F(4x4)'s
// coefficients reach 8 and 1/24), which the parity tests bound for every spec. Tile (tx, ty)
// covers outputs (m tx.., m ty..) and reads input (m tx - pad .. m tx - pad + n - 1); inputs
// past the tensor are zeros (padded convs) or finite values the producer computed, and reach
// in-range outputs only through terms that cancel in real arithmetic (rounding-sized).
#include "codegen/lowering.h"
#include "common/winograd.h"

namespace unetgen::codegen {

namespace {

// The transform matrices of F(m x m, 3 x 3) (common/winograd.h) as rows of floats.
struct Matrices {
    int m, n;
    std::vector<std::vector<float>> BT, G, AT;  // n x n, n x 3, m x n
};

std::vector<std::vector<float>> rows_of(const double *a, int rows, int cols) {
    std::vector<std::vector<float>> out(static_cast<size_t>(rows), std::vector<float>(static_cast<size_t>(cols), 0.0f));
    for (int r = 0; r < rows; ++r)
        for (int c = 0; c < cols; ++c) out[size_t(r)][size_t(c)] = float(a[r * cols + c]);
    return out;
}

Matrices matrices_for(int m) {
    const WinogradMatrices w = winograd_matrices(m);
    return {w.m, w.n, rows_of(w.BT, w.n, w.n), rows_of(w.G, w.n, 3), rows_of(w.AT, w.m, w.n)};
}

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

// L X R^T for a rows x cols grid X (row-major Exprs), L: a x rows, R: b x cols -> a x b, as
// two passes so the row sums are shared Exprs (LLVM folds the duplicates once unrolled).
std::vector<Halide::Expr> sandwich(const std::vector<std::vector<float>> &L, const std::vector<Halide::Expr> &X,
                                   const std::vector<std::vector<float>> &R, int rows, int cols) {
    std::vector<Halide::Expr> left;  // (L X)[p][c]
    for (const auto &lrow : L)
        for (int c = 0; c < cols; ++c) {
            std::vector<Halide::Expr> column;
            for (int r = 0; r < rows; ++r) column.push_back(X[size_t(r * cols + c)]);
            left.push_back(combine(lrow, column));
        }
    std::vector<Halide::Expr> out;  // (L X R^T)[p][q]
    for (size_t p = 0; p < L.size(); ++p)
        for (const auto &rrow : R) {
            std::vector<Halide::Expr> row(left.begin() + long(p * cols), left.begin() + long((p + 1) * cols));
            out.push_back(combine(rrow, row));
        }
    return out;
}

}  // namespace

ConvStages lower_conv_winograd(const Tensor &in, const ConvOp &op, const LayerPacking &packing,
                               const Halide::ImageParam &weights) {
    using Halide::Expr;
    using Halide::Func;
    Dims d;
    ConvStages s(packing);
    s.winograd.enabled = true;
    if (packing.winograd != 2 && packing.winograd != 4)
        throw std::logic_error("cannot lower " + op.name + " as Winograd: the weight plan did not choose Winograd for it "
                               "(winograd = " + std::to_string(packing.winograd) + ", not 2 or 4)");
    const Matrices mat = matrices_for(packing.winograd);
    const int m = mat.m;
    s.winograd.m = mat.m;
    const int n = mat.n;
    const Halide::Var &t = s.winograd.t, &i = s.winograd.i, &ob = s.winograd.ob;

    Func src;
    if (op.pad > 0 || op.stage_input) {
        s.staged = padded_exterior(in, op.padding_mode, op.name + "_in");
        s.staged_concat_at = in.concat_at;
        s.staged_pad_only = !op.stage_input;
        src = s.staged;
    } else {
        src = in.f;
    }

    // V(i, tx, ty, t, n) = (B^T d B)[p][q], d[a][b] = src(m tx - pad + b, m ty - pad + a).
    std::vector<Expr> tile(size_t(n * n));
    for (int a = 0; a < n; ++a)
        for (int b = 0; b < n; ++b)
            tile[size_t(a * n + b)] = src(m * d.x - op.pad + b, m * d.y - op.pad + a, d.c, d.n);
    std::vector<Expr> v = sandwich(mat.BT, tile, mat.BT, n, n);
    s.winograd.input_t = Func(op.name + "_vt");

    // M(o, tx, ty, t, n) = sum_i U(o, i, t) V(i, tx, ty, t, n).
    s.r = Halide::RDom(0, packing.in_channels, op.name + "_r");
    if (packing.winograd_bf16) {
        // `--precision bf16`: V as bf16 bits, and the GEMMs in runtime/unetgen_bf16_gemm.h over
        // bf16 U packed at load.
        s.winograd.input_t(d.c, d.x, d.y, t, d.n) = bf16_bits(Halide::mux(t, v));
        s.winograd.gemm = bf16_gemm_stage(op.name + "_gemm", s.winograd.input_t, weights, packing,
                                          packing.out_channels, n * n, t);
    } else {
        s.winograd.input_t(d.c, d.x, d.y, t, d.n) = Halide::mux(t, v);
        Expr u;
        if (packing.winograd_u) {
            u = weights(int(packing.weight_offset) +
                        winograd_packed_index<Expr>(packing.out_channels, packing.in_channels, d.c, s.r.x, t));
        } else {
            // U(o % 16, i, o / 16, t) = (G g G^T)[p][q] from the raw kernels, once per call (root).
            std::vector<Expr> g(9);
            for (int r = 0; r < 3; ++r)
                for (int c = 0; c < 3; ++c)
                    g[size_t(r * 3 + c)] = weights(int(packing.weight_offset) +
                                                   packed_index(packing, ob * kWinogradOutBlock + d.c, i, r, c));
            s.winograd.weights_t = Func(op.name + "_wt");
            s.winograd.weights_t(d.c, i, ob, t) = Halide::mux(t, sandwich(mat.G, g, mat.G, 3, 3));
            u = s.winograd.weights_t(d.c % kWinogradOutBlock, s.r.x, d.c / kWinogradOutBlock, t);
        }
        s.winograd.gemm_acc = Func(op.name + "_gemm_acc");
        s.winograd.gemm_acc(d.c, d.x, d.y, t, d.n) = 0.0f;
        s.winograd.gemm_acc(d.c, d.x, d.y, t, d.n) += u * s.winograd.input_t(s.r.x, d.x, d.y, t, d.n);
        s.winograd.gemm = Func(op.name + "_gemm");
        s.winograd.gemm(d.c, d.x, d.y, t, d.n) = s.winograd.gemm_acc(d.c, d.x, d.y, t, d.n);
    }

    // Y[e][f] = (A^T M A)[e][f] for output (m tx + f, m ty + e).
    std::vector<Expr> mt(size_t(n * n));
    for (int k = 0; k < n * n; ++k) mt[size_t(k)] = s.winograd.gemm(d.c, d.x / m, d.y / m, k, d.n);
    std::vector<Expr> y = sandwich(mat.AT, mt, mat.AT, n, n);
    Expr o = d.c;
    Expr val = weights(int(packing.bias_offset) + o) + Halide::mux(d.x % m + m * (d.y % m), y);
    s.result = Func(op.name);
    s.result(d.x, d.y, d.c, d.n) = conv_epilogue(val, op, packing, weights, o);
    return s;
}

}  // namespace unetgen::codegen
