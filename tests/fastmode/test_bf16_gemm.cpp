// test_bf16_gemm.cpp — the extern GEMM of `--precision bf16` (runtime/unetgen_bf16_gemm.h) on each
// of its paths, AMX, AVX512-BF16 and AVX-512F (where this CPU has them; said when skipped) and plain
// float, against a double-precision sum of the same bf16 products: rows not a multiple of 16, output channels an
// odd number of 16-blocks, a window of points and tile rows inside bigger buffers, and the bounds
// query. Exit 0 when every case is within 1e-5 of the sum's scale.
#include "unetgen_bf16_gemm.h"
#include "common/winograd.h"  // bf16_bits and winograd_bf16_index: the rounding and layout the runtime packs with

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

// The Halide runtime's thread pool is not linked here: this stand-in runs the units of a big
// GEMM last to first (they must not depend on each other's order) and counts the calls.
int par_for_calls = 0;
extern "C" int halide_do_par_for(void *user_context, halide_task_t task, int min, int size, uint8_t *closure) {
    ++par_for_calls;
    for (int i = min + size - 1; i >= min; --i)
        if (int e = task(user_context, i, closure)) return e;
    return 0;
}

namespace {

uint16_t bf16(float f) { return unetgen::bf16_bits(f); }

struct Case {
    int K, O, TX, TY, points, t_min, t_count;
    int out_extra = 0;  // the output asks for this many more tiles each side in x than V holds
};

// One call over points [t_min, t_min + t_count) of a V holding all points; 0 when it matches.
int check(const Case &c, int path) {
    std::mt19937 g(unsigned(c.K * 131 + c.O * 7 + c.TX));
    std::uniform_real_distribution<float> d(-1, 1);
    const int rows = c.TX * c.TY;
    std::vector<uint16_t> V(size_t(c.K) * rows * c.points);
    for (auto &x : V) x = bf16(d(g));
    const int offset = 40;  // U starts 40 floats into the weights buffer
    std::vector<float> W(size_t(offset) + size_t(c.points) * c.O * c.K / 2 + 8, 0.0f);
    uint16_t *U = reinterpret_cast<uint16_t *>(W.data()) + 2 * offset;
    for (size_t i = 0; i < size_t(c.points) * c.O * c.K; ++i) U[i] = bf16(d(g));
    const int OX = c.TX + 2 * c.out_extra;  // the output's x extent (V's is TX, at min 0)
    std::vector<float> M(size_t(c.O) * OX * c.TY * c.t_count, -7.0f);
    halide_dimension_t vd[5] = {{0, c.K, 1, 0},
                                {0, c.TX, c.K, 0},
                                {0, c.TY, c.K * c.TX, 0},
                                {0, c.points, c.K * rows, 0},
                                {0, 1, c.K * rows * c.points, 0}};
    halide_dimension_t md[5] = {{0, c.O, 1, 0},
                                {-c.out_extra, OX, c.O, 0},
                                {0, c.TY, c.O * OX, 0},
                                {c.t_min, c.t_count, c.O * OX * c.TY, 0},
                                {0, 1, c.O * OX * c.TY * c.t_count, 0}};
    halide_dimension_t wd[1] = {{0, int(W.size()), 1, 0}};
    halide_buffer_t vb = {}, wb = {}, mb = {};
    vb.dimensions = 5;
    vb.dim = vd;
    wb.dimensions = 1;
    wb.dim = wd;
    mb.host = reinterpret_cast<uint8_t *>(M.data());
    mb.dimensions = 5;
    mb.dim = md;
    // Bounds query: V over all K channels of the output's tiles and points, the weights over U.
    halide_dimension_t qv[5] = {}, qw[1] = {};
    halide_buffer_t qvb = {}, qwb = {};
    qvb.dimensions = 5;
    qvb.dim = qv;
    qwb.dimensions = 1;
    qwb.dim = qw;
    if (unetgen_bf16_gemm(&qvb, &qwb, offset, c.O, c.K, c.points, &mb) != 0 || qv[0].extent != c.K ||
        qv[3].min != c.t_min || qv[3].extent != c.t_count || qv[1].extent != OX || qw[0].min != offset ||
        qw[0].extent != c.points * c.O * c.K / 2) {
        std::printf("FAIL bounds query K %d O %d\n", c.K, c.O);
        return 1;
    }
    vb.host = reinterpret_cast<uint8_t *>(V.data());
    wb.host = reinterpret_cast<uint8_t *>(W.data());
    unetgen_bf16_path_state = path;
    if (unetgen_bf16_gemm(&vb, &wb, offset, c.O, c.K, c.points, &mb) != 0) {
        std::printf("FAIL call returned an error\n");
        return 1;
    }
    double worst = 0, scale = 1;
    for (int tt = 0; tt < c.t_count; ++tt) {
        const int t = c.t_min + tt;
        for (int r = 0; r < rows; ++r)
            for (int o = 0; o < c.O; ++o) {
                const int x = r % c.TX, y = r / c.TX;
                const float got = M[size_t(tt) * c.O * OX * c.TY + (size_t(y) * OX + size_t(x + c.out_extra)) * c.O + o];
                double s = 0;
                for (int k = 0; k < c.K; ++k)
                    s += double(unetgen_bf16_to_float(V[size_t(t) * c.K * rows + size_t(r) * c.K + k])) *
                         unetgen_bf16_to_float(U[size_t(unetgen::winograd_bf16_index(c.O, c.K, o, k, t))]);
                worst = std::max(worst, std::fabs(s - got));
                scale = std::max(scale, std::fabs(s));
            }
    }
    const bool ok = worst <= 1e-5 * scale;
    std::printf("%s %s K %d O %d rows %d (%dx%d, output %d wide) points %d..%d: max|diff| %.3g (scale %.3g)\n",
                ok ? "ok  " : "FAIL", unetgen_bf16_gemm_path_name(path), c.K, c.O, rows, c.TX, c.TY, OX, c.t_min,
                c.t_min + c.t_count - 1, worst, scale);
    return ok ? 0 : 1;
}

}  // namespace

int main() {
    const Case cases[] = {
        {32, 16, 5, 1, 4, 0, 4},      // fewer rows than one tile
        {64, 48, 37, 3, 16, 0, 16},   // 111 rows, three 16-column blocks
        {96, 32, 16, 2, 36, 10, 20},  // a window of F(4x4)'s 36 points
        {256, 64, 32, 4, 16, 0, 16},  // whole tiles only
        {64, 400, 21, 3, 1, 0, 1, 2},  // output wider than V (Halide's rounding): one GEMM per row, 256-column chunks
        {512, 512, 8, 8, 16, 0, 16},   // 2^28 multiply-adds: big enough for the thread pool, unit by unit
    };
    // The CPU's own path, and every path below it it can run (AMX parts have AVX512-BF16 too).
    const int best = unetgen_bf16_gemm_path();
    const bool have_amx = best == UNETGEN_BF16_AMX;
    const bool have_avx512 = best == UNETGEN_BF16_AVX512 || __builtin_cpu_supports("avx512bf16");
    if (!have_amx) std::printf("AMX-BF16 is not usable on this CPU: the AMX path is not checked here\n");
    const bool have_avx512f = __builtin_cpu_supports("avx512f");
    if (!have_avx512) std::printf("AVX512-BF16 is not usable on this CPU: its path is not checked here\n");
    if (!have_avx512f) std::printf("AVX-512F is not usable on this CPU: its path is not checked here\n");
    int failures = 0;
    for (const Case &c : cases) {
        failures += check(c, UNETGEN_BF16_PLAIN);
        if (have_amx) failures += check(c, UNETGEN_BF16_AMX);
        if (have_avx512) failures += check(c, UNETGEN_BF16_AVX512);
        if (have_avx512f) failures += check(c, UNETGEN_BF16_AVX512F);
    }
    // Only the last case is big enough to go to the thread pool, once per path checked.
    const int paths = 1 + int(have_amx) + int(have_avx512) + int(have_avx512f);
    if (par_for_calls != paths) {
        std::printf("FAIL the thread pool was asked %d times, expected %d (once per path for the 2^28 case)\n",
                    par_for_calls, paths);
        ++failures;
    }
    return failures ? 1 : 0;
}
