// winograd.h — Winograd F(m x m, 3 x 3) in one place: the transform matrices (Lavin & Gray
// 2016; points 0, +-1, +-2 for m = 4), the weight transform U = G g G^T, and where U lies in the
// packed weights buffer.
//
// The runtime transforms each Winograd conv's (BN-folded) kernels once, when it packs the
// weights (runtime/pack_weights.cpp); the pipeline's input / output transforms use B^T and A^T
// and its GEMMs read U where winograd_packed_index() says (codegen/lower_winograd.cpp). A
// manifest entry with "winograd": m is packed this way (docs/architecture.md, "The manifest").
// Header-only, no dependencies.
#pragma once

#include <cstdint>

namespace unetgen {

// n = m + 2 points per tile side; BT is n x n, G is n x 3, AT is m x n, row-major.
struct WinogradMatrices {
    int m = 0, n = 0;
    const double *BT = nullptr, *G = nullptr, *AT = nullptr;
};

inline constexpr double kWinogradF2BT[16] = {1, 0, -1, 0, 0, 1, 1, 0, 0, -1, 1, 0, 0, 1, 0, -1};
inline constexpr double kWinogradF2G[12] = {1, 0, 0, 0.5, 0.5, 0.5, 0.5, -0.5, 0.5, 0, 0, 1};
inline constexpr double kWinogradF2AT[8] = {1, 1, 1, 0, 0, 1, -1, -1};
inline constexpr double kWinogradF4BT[36] = {4, 0, -5, 0, 1, 0,  0, -4, -4, 1, 1, 0,  0, 4, -4, -1, 1, 0,
                                             0, -2, -1, 2, 1, 0, 0, 2, -1, -2, 1, 0,  0, 4, 0, -5, 0, 1};
inline constexpr double kWinogradF4G[18] = {1.0 / 4,  0,         0,         -1.0 / 6, -1.0 / 6, -1.0 / 6,
                                            -1.0 / 6, 1.0 / 6,   -1.0 / 6,  1.0 / 24, 1.0 / 12, 1.0 / 6,
                                            1.0 / 24, -1.0 / 12, 1.0 / 6,   0,        0,        1};
inline constexpr double kWinogradF4AT[24] = {1, 1, 1, 1, 1, 0, 0, 1, -1, 2, -2, 0,
                                             0, 1, 1, 4, 4, 0, 0, 1, -1, 8, -8, 1};

// The matrices of F(m x m, 3 x 3) for m = 2 or 4 (any other m: m = 0).
inline WinogradMatrices winograd_matrices(int m) {
    if (m == 2) return {2, 4, kWinogradF2BT, kWinogradF2G, kWinogradF2AT};
    if (m == 4) return {4, 6, kWinogradF4BT, kWinogradF4G, kWinogradF4AT};
    return {};
}

// The manifest's "winograd_format" of bf16 U (absent: float32).
inline constexpr const char *kWinogradFormatBf16 = "bf16_vnni_panel16";

// Output channels per block of U: a GEMM's weight vectors for consecutive input channels are
// consecutive in memory (one AVX-512 vector, two AVX2 vectors).
inline constexpr int kWinogradOutBlock = 16;

// Floats of a layer's U: n^2 points per output / input channel pair (out_channels % 16 == 0).
inline int64_t winograd_weight_floats(int m, int out_channels, int in_channels) {
    const int64_t n = m + 2;
    return n * n * out_channels * in_channels;
}

// The offset of U_t(o, i) from the layer's weight_offset: t outermost, then blocks of 16 output
// channels, the input channel, and o % 16 innermost. T is int64_t or Halide::Expr.
template <typename T>
T winograd_packed_index(int out_channels, int in_channels, const T &o, const T &i, const T &t) {
    const int blocks = out_channels / kWinogradOutBlock;
    return ((t * T(blocks) + o / T(kWinogradOutBlock)) * T(in_channels) + i) * T(kWinogradOutBlock) +
           o % T(kWinogradOutBlock);
}

// `--precision bf16`: U as bf16 bits in VNNI pairs, in panels of 16 output channels:
// [t][o / 16][i / 2][o % 16][i % 2], two to a float slot of the weights buffer
// (runtime/unetgen_bf16_gemm.h reads it so: an AMX tile of B, 16 pair rows x 16 columns, is then
// 1 KiB in one piece instead of 16 rows an out_channels stride apart). Needs in_channels % 32
// == 0 and out_channels % 16 == 0.
inline constexpr int kWinogradBf16InBlock = 32;
inline int64_t winograd_bf16_floats(int m, int out_channels, int in_channels) {
    return winograd_weight_floats(m, out_channels, in_channels) / 2;
}
// The index, in bf16 units from the layer's weight_offset * 2, of U_t(o, i).
inline int64_t winograd_bf16_index(int out_channels, int in_channels, int64_t o, int64_t i, int64_t t) {
    return (((t * (out_channels / 16) + o / 16) * (in_channels / 2) + i / 2) * 16 + o % 16) * 2 + i % 2;
}
// `--precision bf16`, a 2x2 stride-2 transposed conv (PyTorch weight [i, o, 2, 2]) as one GEMM
// with 4 x out_channels columns: column (kh * 2 + kw) * out_channels + o, bf16 VNNI pairs over i
// in panels of 16 columns (the layout above with one point), "gemm_format" in the manifest.
inline int64_t transpose_bf16_floats(int out_channels, int in_channels) {
    return int64_t(4) * out_channels * in_channels / 2;
}
inline int64_t transpose_bf16_index(int out_channels, int in_channels, int64_t o, int64_t i, int64_t kh, int64_t kw) {
    return winograd_bf16_index(4 * out_channels, in_channels, (kh * 2 + kw) * out_channels + o, i, 0);
}

// float -> bf16 bits, rounded to nearest even (finite values; what the pipeline does to V too).
inline uint16_t bf16_bits(float f) {
    uint32_t u;
    static_assert(sizeof u == sizeof f, "float is 32 bits");
    __builtin_memcpy(&u, &f, sizeof u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return uint16_t(u >> 16);
}

// U = G g G^T of one 3x3 kernel g (row-major, g[h * 3 + w]) into u[p * n + q], in double.
inline void winograd_transform_kernel(const WinogradMatrices &w, const double g[9], double *u) {
    double gg[6 * 3];  // (G g)[p][c], n <= 6
    for (int p = 0; p < w.n; ++p)
        for (int c = 0; c < 3; ++c) {
            double s = 0;
            for (int r = 0; r < 3; ++r) s += w.G[p * 3 + r] * g[r * 3 + c];
            gg[p * 3 + c] = s;
        }
    for (int p = 0; p < w.n; ++p)
        for (int q = 0; q < w.n; ++q) {
            double s = 0;
            for (int c = 0; c < 3; ++c) s += gg[p * 3 + c] * w.G[q * 3 + c];
            u[p * w.n + q] = s;
        }
}

}  // namespace unetgen
