/* unetgen_bf16_gemm.h — the GEMMs of a `--precision bf16` build (its Winograd convs' batched
 * GEMMs, and its 2x2 transposed convs as one GEMM of 4 x out_channels columns with one point):
 * bf16 operands, float32 accumulation, on AMX tiles where the CPU has AMX-BF16, else on
 * AVX512-BF16 dot products where it has those (AMD Zen 4, Intel parts with AMX not exposed),
 * else on plain float arithmetic (same products, same sums up to their order: slow, but the
 * same network). unetgen_bf16_gemm_path() says which this CPU takes.
 *
 * Why a hand-written kernel: Halide 14's AMX lowering only matches a reduction of one bf16 pair
 * per tile instruction (16x16x2: measured 223 GFLOP/s a core, no faster than fp32 FMA), while
 * one 16x16x32 tdpbf16ps per instruction reaches 3.5 TFLOP/s a core on the Intel Xeon the bench
 * runs on. The pipeline calls it as an extern stage (codegen/lower_bf16_gemm.cpp): per task,
 * M_t(o, row) = sum_i V_t(i, row) U_t(o, i) for every transformed point t, where
 *   V  uint16 bf16 bits [i (K, innermost), tx, ty, t, n]  the input transform (dense)
 *   U  inside the float32 weights buffer at float offset `offset`: bf16 bits, VNNI pairs in
 *      panels of 16 columns, [t][o / 16][i / 2][o % 16][i % 2] (common/winograd.h,
 *      winograd_bf16_index; the runtime packs it). A panel is K / 2 rows of 64 bytes.
 *   M  float32 [o (O, innermost), tx, ty, t, n]
 * K is a multiple of 32, O of 16 (codegen::winograd_for guarantees both).
 *
 * Included by the NAME_unetgen.h of a bf16 build (so NAME.a and NAME.so get it, like
 * unetgen_pool.h); weak definitions, AMX code behind target attributes, so the including
 * translation unit needs no special flags. Returns 0, or -1 on a malformed call. */
#ifndef UNETGEN_BF16_GEMM_H
#define UNETGEN_BF16_GEMM_H

#include "HalideRuntime.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

static inline float unetgen_bf16_to_float(uint16_t b) {
    uint32_t u = (uint32_t)b << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Which arithmetic the GEMMs run on, best first; asked once (unetgen_bf16_gemm_path). */
enum {
    UNETGEN_BF16_PLAIN = 0,  /* plain float over the same bf16 operands (no bf16 instructions) */
    UNETGEN_BF16_AMX = 1,    /* AMX-BF16 tiles (tdpbf16ps), with Linux's grant of the tile state */
    UNETGEN_BF16_AVX512 = 2, /* AVX512-BF16 dot products (vdpbf16ps), e.g. AMD Zen 4 */
    UNETGEN_BF16_AVX512F = 3 /* AVX-512 float FMAs over the bf16 widened (no bf16 instructions) */
};
__attribute__((weak)) int unetgen_bf16_path_state = -1;
__attribute__((weak)) int unetgen_bf16_gemm_path(void) {
    int s = __atomic_load_n(&unetgen_bf16_path_state, __ATOMIC_ACQUIRE);
    if (s >= 0) return s;
    s = UNETGEN_BF16_PLAIN;
#if defined(__x86_64__)
    unsigned a, b, c, d;
    /* CPUID.(7,0):EDX bit 22 AMX-BF16, bit 24 AMX-TILE; ARCH_REQ_XCOMP_PERM (0x1023) for
       XFEATURE_XTILEDATA (18): without the grant the first tile instruction faults. */
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d) && (d & (1u << 22)) && (d & (1u << 24)) &&
        syscall(SYS_arch_prctl, 0x1023, 18) == 0) {
        s = UNETGEN_BF16_AMX;
    } else if (__get_cpuid_count(7, 1, &a, &b, &c, &d) && (a & (1u << 5)) && __builtin_cpu_supports("avx512f")) {
        /* CPUID.(7,1):EAX bit 5 AVX512-BF16 (and the OS saves zmm state: what avx512f reports) */
        s = UNETGEN_BF16_AVX512;
    } else if (__builtin_cpu_supports("avx512f")) {
        s = UNETGEN_BF16_AVX512F;
    }
#endif
    __atomic_store_n(&unetgen_bf16_path_state, s, __ATOMIC_RELEASE);
    return s;
}

/* The path's name, for `unetgen bench` / `run` and applications that log it. */
__attribute__((weak)) const char *unetgen_bf16_gemm_path_name(int path) {
    return path == UNETGEN_BF16_AMX      ? "AMX-BF16"
           : path == UNETGEN_BF16_AVX512  ? "AVX512-BF16"
           : path == UNETGEN_BF16_AVX512F ? "AVX-512 float FMAs"
                                          : "plain float arithmetic";
}

#ifndef UNETGEN_BF16_PATH_ONLY /* defined by code that only asks which path (no Halide runtime) */
/* Every kernel: C[rows][cols] = sum_k A[row][k] B(k, o) for cols (a multiple of 16) columns
   from B's first panel; a panel holds 16 columns (16 K bf16 values). */
#define UNETGEN_BF16_PANEL(B, K, o) ((B) + (int64_t)((o) / 16) * 16 * (K))

/* The portable path, in float. */
__attribute__((weak)) void unetgen_bf16_gemm_plain(const uint16_t *A, int64_t a_stride, const uint16_t *B, int cols, int K,
                                                   float *C, int64_t c_stride, int rows) {
    for (int r = 0; r < rows; ++r) {
        float *c = C + r * c_stride;
        for (int o = 0; o < cols; ++o) c[o] = 0.0f;
        for (int o0 = 0; o0 < cols; o0 += 16) {
            const uint16_t *panel = UNETGEN_BF16_PANEL(B, K, o0);
            for (int kp = 0; kp < K / 2; ++kp) {
                const float a0 = unetgen_bf16_to_float(A[r * a_stride + 2 * kp]);
                const float a1 = unetgen_bf16_to_float(A[r * a_stride + 2 * kp + 1]);
                const uint16_t *b = panel + kp * 32;
                for (int o = 0; o < 16; ++o)
                    c[o0 + o] += a0 * unetgen_bf16_to_float(b[2 * o]) + a1 * unetgen_bf16_to_float(b[2 * o + 1]);
            }
        }
    }
}

#if defined(__x86_64__)
/* AMX: C tiles of 16 rows x 16 floats, two by two (tmm0-3), from two A tiles (16 rows x 32
   bf16, tmm4-5) and two B tiles (16 pair rows of a panel, 1 KiB in one piece, tmm6-7) per 32
   of K. Rows come in whole 16s (the caller pads the last block); cols in 16s. */
struct unetgen_amx_config {
    uint8_t palette, start_row;
    uint8_t reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
};

__attribute__((weak, target("amx-tile,amx-bf16"))) void unetgen_bf16_gemm_amx(const uint16_t *A, int64_t a_stride,
                                                                                 const uint16_t *B, int cols, int K,
                                                                                 float *C, int64_t c_stride, int rows) {
    struct unetgen_amx_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; ++t) {
        cfg.colsb[t] = 64;
        cfg.rows[t] = 16;
    }
    _tile_loadconfig(&cfg);
    const long as = (long)(a_stride * 2), bs = 64, cs = (long)(c_stride * 4);
    for (int r = 0; r < rows; r += 32) {
        const int two_r = r + 16 < rows;
        for (int o = 0; o < cols; o += 32) {
            const int two_o = o + 16 < cols;
            _tile_zero(0);
            _tile_zero(1);
            _tile_zero(2);
            _tile_zero(3);
            for (int k = 0; k < K; k += 32) {
                const uint16_t *a = A + r * a_stride + k, *b = UNETGEN_BF16_PANEL(B, K, o) + (int64_t)(k / 2) * 32;
                _tile_loadd(4, a, as);
                _tile_loadd(6, b, bs);
                _tile_dpbf16ps(0, 4, 6);
                if (two_o) {
                    _tile_loadd(7, b + 16 * (int64_t)K, bs);
                    _tile_dpbf16ps(1, 4, 7);
                }
                if (two_r) {
                    _tile_loadd(5, a + 16 * a_stride, as);
                    _tile_dpbf16ps(2, 5, 6);
                    if (two_o) _tile_dpbf16ps(3, 5, 7);
                }
            }
            float *c = C + r * c_stride + o;
            _tile_stored(0, c, cs);
            if (two_o) _tile_stored(1, c + 16, cs);
            if (two_r) {
                _tile_stored(2, c + 16 * c_stride, cs);
                if (two_o) _tile_stored(3, c + 16 * c_stride + 16, cs);
            }
        }
    }
    _tile_release();
}
#endif

#if defined(__x86_64__)
/* The accumulators both block kernels share: NR x NC zmm registers (inlined with constants). */
__attribute__((always_inline, target("avx512f"))) static inline void unetgen_bf16_acc_zero(__m512 acc[6][4], const int NR,
                                                                                         const int NC) {
#pragma GCC unroll 6
    for (int r = 0; r < NR; ++r)
#pragma GCC unroll 4
        for (int c = 0; c < NC; ++c) acc[r][c] = _mm512_setzero_ps();
}
__attribute__((always_inline, target("avx512f"))) static inline void unetgen_bf16_acc_store(__m512 acc[6][4], float *C,
                                                                                          int64_t c_stride, const int NR,
                                                                                          const int NC) {
#pragma GCC unroll 6
    for (int r = 0; r < NR; ++r)
#pragma GCC unroll 4
        for (int c = 0; c < NC; ++c) _mm512_storeu_ps(C + r * c_stride + 16 * c, acc[r][c]);
}

/* The block kernels: accumulators of NR rows x NC vectors of 16 columns in zmm registers; per
   pair of K, NC loads of B's pairs (64 bytes: 16 columns x 2), then per row its pair of A
   broadcast into NC products. Inlined with constant NR / NC, so the loops unroll.
   unetgen_bf16_dp_block: one vdpbf16ps per accumulator (AVX512-BF16). */
__attribute__((always_inline, target("avx512f,avx512bf16"))) static inline void unetgen_bf16_dp_block(
    const uint16_t *A, int64_t a_stride, const uint16_t *B, int K, float *C, int64_t c_stride, const int NR, const int NC) {
    __m512 acc[6][4];
    unetgen_bf16_acc_zero(acc, NR, NC);
    for (int kp = 0; kp < K / 2; ++kp) {
        const uint16_t *b = B + (int64_t)kp * 32; /* panel c at b + 16 K c */
        __m512i bv[4];
#pragma GCC unroll 4
        for (int c = 0; c < NC; ++c) bv[c] = _mm512_loadu_si512((const void *)(b + (int64_t)16 * K * c));
#pragma GCC unroll 6
        for (int r = 0; r < NR; ++r) {
            int32_t pair;
            memcpy(&pair, A + r * a_stride + 2 * kp, sizeof pair);
            const __m512i av = _mm512_set1_epi32(pair);
#pragma GCC unroll 4
            for (int c = 0; c < NC; ++c) acc[r][c] = _mm512_dpbf16_ps(acc[r][c], (__m512bh)av, (__m512bh)bv[c]);
        }
    }
    unetgen_bf16_acc_store(acc, C, c_stride, NR, NC);
}

/* GCC 12's own _mm512_slli_epi32 trips -Wmaybe-uninitialized (its _mm512_undefined source),
   which an application's -Werror should not see. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
/* unetgen_bf16_fma_block: AVX-512F alone, two float FMAs per accumulator and pair. Each 32-bit
   lane of B holds a pair (even k low): the even value is the lane shifted up 16, the odd one
   the lane with its low half cleared (bf16 is float's upper half). */
__attribute__((always_inline, target("avx512f"))) static inline void unetgen_bf16_fma_block(
    const uint16_t *A, int64_t a_stride, const uint16_t *B, int K, float *C, int64_t c_stride, const int NR, const int NC) {
    __m512 acc[6][4];
    unetgen_bf16_acc_zero(acc, NR, NC);
    const __m512i high = _mm512_set1_epi32((int)0xffff0000u);
    for (int kp = 0; kp < K / 2; ++kp) {
        const uint16_t *b = B + (int64_t)kp * 32; /* panel c at b + 16 K c */
        __m512 even[4], odd[4];
#pragma GCC unroll 4
        for (int c = 0; c < NC; ++c) {
            const __m512i bv = _mm512_loadu_si512((const void *)(b + (int64_t)16 * K * c));
            even[c] = _mm512_castsi512_ps(_mm512_slli_epi32(bv, 16));
            odd[c] = _mm512_castsi512_ps(_mm512_and_si512(bv, high));
        }
#pragma GCC unroll 6
        for (int r = 0; r < NR; ++r) {
            const __m512 a0 = _mm512_set1_ps(unetgen_bf16_to_float(A[r * a_stride + 2 * kp]));
            const __m512 a1 = _mm512_set1_ps(unetgen_bf16_to_float(A[r * a_stride + 2 * kp + 1]));
#pragma GCC unroll 4
            for (int c = 0; c < NC; ++c) acc[r][c] = _mm512_fmadd_ps(a1, odd[c], _mm512_fmadd_ps(a0, even[c], acc[r][c]));
        }
    }
    unetgen_bf16_acc_store(acc, C, c_stride, NR, NC);
}

/* C[rows][cols] = A B with a block kernel: column blocks of 64 outside (B's block stays in
   L1 / L2 while every row passes), blocks of 6 rows inside; cols a multiple of 16, any rows.
   Each call of the block kernel has constant NR / NC. */
#define UNETGEN_DP_NC(BLOCK, NR, a, c)                                                \
    switch (nc) {                                                                   \
    case 4: BLOCK(a, a_stride, b, K, c, c_stride, NR, 4); break;                    \
    case 3: BLOCK(a, a_stride, b, K, c, c_stride, NR, 3); break;                    \
    case 2: BLOCK(a, a_stride, b, K, c, c_stride, NR, 2); break;                    \
    default: BLOCK(a, a_stride, b, K, c, c_stride, NR, 1); break;                   \
    }
#define UNETGEN_DP_GEMM(BLOCK)                                                        \
    for (int o = 0; o < cols; o += 64) {                                            \
        const int nc = cols - o >= 64 ? 4 : (cols - o) / 16;                        \
        const uint16_t *b = UNETGEN_BF16_PANEL(B, K, o);                            \
        for (int r = 0; r < rows; r += 6) {                                         \
            const uint16_t *a = A + r * a_stride;                                   \
            float *c = C + r * c_stride + o;                                        \
            if (rows - r >= 6) {                                                    \
                UNETGEN_DP_NC(BLOCK, 6, a, c)                                       \
            } else {                                                                \
                for (int rr = 0; rr < rows - r; ++rr) /* the last rows one by one */ \
                    UNETGEN_DP_NC(BLOCK, 1, a + rr * a_stride, c + rr * c_stride)   \
            }                                                                       \
        }                                                                           \
    }

__attribute__((weak, target("avx512f,avx512bf16"))) void unetgen_bf16_gemm_avx512(const uint16_t *A, int64_t a_stride,
                                                                                     const uint16_t *B, int cols, int K,
                                                                                     float *C, int64_t c_stride, int rows) {
    UNETGEN_DP_GEMM(unetgen_bf16_dp_block)
}

__attribute__((weak, target("avx512f"))) void unetgen_bf16_gemm_avx512f(const uint16_t *A, int64_t a_stride,
                                                                          const uint16_t *B, int cols, int K, float *C,
                                                                          int64_t c_stride, int rows) {
    UNETGEN_DP_GEMM(unetgen_bf16_fma_block)
}
#undef UNETGEN_DP_GEMM
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#undef UNETGEN_DP_NC
#endif

/* One call's GEMMs: units of (n, t, y) (one y per unit unless `flat`), each M_t = V_t U_t over
   the rows of its unit. */
struct unetgen_bf16_gemm_job {
    const struct halide_buffer_t *v, *out;
    const uint16_t *wbase;
    int O, K, x0, x1, y0, y1, flat, ny, nt, path;
};

/* Unit `index` of `job`; 0, or -1 when scratch could not be allocated. */
__attribute__((weak)) int unetgen_bf16_gemm_unit(const struct unetgen_bf16_gemm_job *job, int index) {
    const struct halide_buffer_t *v = job->v, *out = job->out;
    const int O = job->O, K = job->K, x0 = job->x0, x1 = job->x1, path = job->path;
    const int amx = path == UNETGEN_BF16_AMX;
    const int yi = index % job->ny, tt = index / job->ny % job->nt, n = index / job->ny / job->nt;
    const int y = job->flat ? job->y0 : job->y0 + yi;
    const int t = out->dim[3].min + tt, nn = out->dim[4].min + n;
    const int rows = (x1 - x0) * (job->flat ? job->y1 - job->y0 : 1);
    const int64_t as = v->dim[1].stride, cs = out->dim[1].stride;
    const uint16_t *A = (const uint16_t *)v->host + (int64_t)(x0 - v->dim[1].min) * as +
                        (int64_t)(y - v->dim[2].min) * v->dim[2].stride + (int64_t)(t - v->dim[3].min) * v->dim[3].stride +
                        (int64_t)(nn - v->dim[4].min) * v->dim[4].stride - v->dim[0].min;
    const uint16_t *B = job->wbase + (int64_t)t * O * K;
    float *C = (float *)out->host + (int64_t)(x0 - out->dim[1].min) * cs + (int64_t)(y - out->dim[2].min) * out->dim[2].stride +
               (int64_t)tt * out->dim[3].stride + (int64_t)n * out->dim[4].stride;
    const int whole = amx ? rows / 16 * 16 : 0;
    (void)whole;
#if defined(__x86_64__)
    if (whole > 0) unetgen_bf16_gemm_amx(A, as, B, O, K, C, cs, whole);
    if (amx && rows > whole) {
        /* The last rows of the GEMM, zero-padded to a block of 16. */
        const int chunk = O < 256 ? O : 256;
        uint16_t *pad_a = (uint16_t *)calloc((size_t)16 * (size_t)K, sizeof(uint16_t));
        float *pad_c = (float *)malloc(sizeof(float) * 16 * (size_t)chunk);
        if (pad_a == NULL || pad_c == NULL) {
            free(pad_a);
            free(pad_c);
            return -1;
        }
        for (int r = whole; r < rows; ++r) memcpy(pad_a + (r - whole) * K, A + r * as, sizeof(uint16_t) * (size_t)K);
        for (int o = 0; o < O; o += chunk) {
            const int cols = O - o < chunk ? O - o : chunk; /* a multiple of 16 */
            unetgen_bf16_gemm_amx(pad_a, K, UNETGEN_BF16_PANEL(B, K, o), cols, K, pad_c, chunk, 16);
            for (int r = whole; r < rows; ++r)
                memcpy(C + r * cs + o, pad_c + (r - whole) * chunk, sizeof(float) * (size_t)cols);
        }
        free(pad_a);
        free(pad_c);
    }
    if (path == UNETGEN_BF16_AVX512) unetgen_bf16_gemm_avx512(A, as, B, O, K, C, cs, rows);
    if (path == UNETGEN_BF16_AVX512F) unetgen_bf16_gemm_avx512f(A, as, B, O, K, C, cs, rows);
#endif
    if (path == UNETGEN_BF16_PLAIN) unetgen_bf16_gemm_plain(A, as, B, O, K, C, cs, rows);
    return 0;
}

__attribute__((weak)) int unetgen_bf16_gemm_unit_task(void *user_context, int index, uint8_t *closure) {
    (void)user_context;
    return unetgen_bf16_gemm_unit((const struct unetgen_bf16_gemm_job *)closure, index);
}

/* The extern stage. Bounds query (v->host and w->host NULL): V over all K channels of the
   output's tiles, the weights over U. Otherwise M = V U per (t, n) over every row of the task:
   in Halide's thread pool, unit by unit, when the task is big (a deep layer's few tasks would
   otherwise leave cores idle: UNet001's enc4.conv1 has one task of 8 x 8 tiles), else in line. */
__attribute__((weak)) int unetgen_bf16_gemm(struct halide_buffer_t *v, struct halide_buffer_t *w, int offset, int O, int K,
                                             int points, struct halide_buffer_t *out) {
    if (v == NULL || w == NULL || out == NULL || out->dimensions != 5 || K % 32 != 0 || O % 16 != 0) return -1;
    if (v->host == NULL || w->host == NULL) {
        if (v->host == NULL) {
            v->dim[0].min = 0;
            v->dim[0].extent = K;
            for (int d = 1; d < 5; ++d) {
                v->dim[d].min = out->dim[d].min;
                v->dim[d].extent = out->dim[d].extent;
            }
        }
        if (w->host == NULL) {
            w->dim[0].min = offset;
            w->dim[0].extent = points * O * (K / 2);
        }
        return 0;
    }
    if (out->dim[0].min != 0 || out->dim[0].extent != O || out->dim[0].stride != 1 || v->dim[0].stride != 1 ||
        v->dim[0].min > 0 || v->dim[0].min + v->dim[0].extent < K)
        return -1;
    /* Halide may ask for more tiles than it computed V over (the output's allocation rounds
       up); those are never read, so the GEMMs cover the tiles both hold. */
    struct unetgen_bf16_gemm_job job;
    job.v = v;
    job.out = out;
    job.O = O;
    job.K = K;
    job.x0 = out->dim[1].min > v->dim[1].min ? out->dim[1].min : v->dim[1].min;
    job.x1 = out->dim[1].min + out->dim[1].extent < v->dim[1].min + v->dim[1].extent ? out->dim[1].min + out->dim[1].extent
                                                                                      : v->dim[1].min + v->dim[1].extent;
    job.y0 = out->dim[2].min > v->dim[2].min ? out->dim[2].min : v->dim[2].min;
    job.y1 = out->dim[2].min + out->dim[2].extent < v->dim[2].min + v->dim[2].extent ? out->dim[2].min + out->dim[2].extent
                                                                                      : v->dim[2].min + v->dim[2].extent;
    if (job.x1 <= job.x0 || job.y1 <= job.y0) return 0;
    /* Rows (x, y) flattened into one GEMM where both buffers hold exactly these x and are dense
       over y; else one GEMM per y. */
    job.flat = out->dim[1].min == job.x0 && out->dim[1].extent == job.x1 - job.x0 && v->dim[1].min == job.x0 &&
               v->dim[1].extent == job.x1 - job.x0 && out->dim[2].stride == out->dim[1].stride * out->dim[1].extent &&
               v->dim[2].stride == v->dim[1].stride * v->dim[1].extent;
    job.ny = job.flat ? 1 : job.y1 - job.y0;
    job.nt = out->dim[3].extent;
    job.path = unetgen_bf16_gemm_path();
    job.wbase = (const uint16_t *)w->host + 2 * (int64_t)(offset - w->dim[0].min);
    const int units = job.ny * job.nt * out->dim[4].extent;
    const double macs = (double)(job.x1 - job.x0) * (job.y1 - job.y0) * job.nt * out->dim[4].extent * O * K;
    if (units > 1 && macs >= (double)(1 << 28))
        return halide_do_par_for(NULL, unetgen_bf16_gemm_unit_task, 0, units, (uint8_t *)&job) == 0 ? 0 : -1;
    for (int u = 0; u < units; ++u)
        if (unetgen_bf16_gemm_unit(&job, u) != 0) return -1;
    return 0;
}

#endif /* UNETGEN_BF16_PATH_ONLY */

#ifdef __cplusplus
} /* extern "C" */
#endif
#endif
