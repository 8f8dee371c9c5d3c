// fma_peak.cpp — the machine's fp32 FMA peak, measured, so benchmark tables can say "% of peak";
// and, where the CPU has them, the peaks of the reduced-precision units a fast mode could use:
// AVX512-BF16 dot products (vdpbf16ps, 32 bf16 products per instruction) and AMX-BF16 tiles
// (tdpbf16ps, 16x16x32 per instruction; Linux must grant the tile state: arch_prctl).
//
// Each thread keeps 12 independent vector accumulators busy in registers (enough to hide FMA
// latency on current x86 cores; -O3 unrolls the inner loop so they stay there) and the best of
// several repetitions is reported. Each thread's rate is taken over its own CPU time (not wall
// time), so other processes on a busy machine do not lower the peak; the peak is that per-core
// rate times the thread count. Built with -march=native by bench/. Measured on the Intel Xeon
// (2 threads): fp32 479, bf16 dot 240 (half the fp32 rate: no fast mode through it there), AMX
// 7379 GFLOP/s.
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <time.h>
#include <vector>

#if defined(__AVX512F__)
using vec = __m512;
static inline vec vset(float x) { return _mm512_set1_ps(x); }
static inline vec vfma(vec a, vec b, vec c) { return _mm512_fmadd_ps(a, b, c); }
static inline vec vadd(vec a, vec b) { return _mm512_add_ps(a, b); }
static inline float vsum(vec a) { return _mm512_reduce_add_ps(a); }
static const int kLanes = 16;
static const char *kIsa = "AVX-512";
#elif defined(__AVX2__) && defined(__FMA__)
using vec = __m256;
static inline vec vset(float x) { return _mm256_set1_ps(x); }
static inline vec vfma(vec a, vec b, vec c) { return _mm256_fmadd_ps(a, b, c); }
static inline vec vadd(vec a, vec b) { return _mm256_add_ps(a, b); }
static inline float vsum(vec a) {
    float t[8];
    _mm256_storeu_ps(t, a);
    float s = 0;
    for (float v : t) s += v;
    return s;
}
static const int kLanes = 8;
static const char *kIsa = "AVX2";
#else
#error "fma_peak needs AVX2+FMA or AVX-512"
#endif

static float kernel(long iters) {
    vec acc[12];
    for (int i = 0; i < 12; ++i) acc[i] = vset(0.001f * i);
    const vec a = vset(0.999999f), b = vset(1e-7f);
    for (long it = 0; it < iters; ++it)
        for (int i = 0; i < 12; ++i) acc[i] = vfma(acc[i], a, b);
    vec s = acc[0];
    for (int i = 1; i < 12; ++i) s = vadd(s, acc[i]);
    return vsum(s);
}

#if defined(__AVX512BF16__)
static float bf16_kernel(long iters) {
    __m512 acc[12];
    for (int i = 0; i < 12; ++i) acc[i] = _mm512_set1_ps(0.001f * i);
    const __m512bh a = (__m512bh)_mm512_set1_epi32(0x3f803f80), b = (__m512bh)_mm512_set1_epi32(0x33d633d6);
    for (long it = 0; it < iters; ++it)
        for (int i = 0; i < 12; ++i) acc[i] = _mm512_dpbf16_ps(acc[i], a, b);
    __m512 s = acc[0];
    for (int i = 1; i < 12; ++i) s = _mm512_add_ps(s, acc[i]);
    return _mm512_reduce_add_ps(s);
}
static const double kBf16Flops = 2.0 * 32 * 12;  // per iteration
#endif

#if defined(__AMX_BF16__) && defined(__AMX_TILE__)
// Four accumulator tiles, each C[16][16] += A[16][32] B[32][16] per instruction.
static float amx_kernel(long iters) {
    struct {
        uint8_t palette, start;
        uint8_t reserved[14];
        uint16_t colsb[16];
        uint8_t rows[16];
    } cfg = {};
    cfg.palette = 1;
    for (int t = 0; t < 8; ++t) {
        cfg.colsb[t] = 64;
        cfg.rows[t] = 16;
    }
    _tile_loadconfig(&cfg);
    alignas(64) static uint16_t a[16 * 32], b[16 * 32];
    alignas(64) float c[16 * 16];
    for (int i = 0; i < 16 * 32; ++i) a[i] = b[i] = 0x3f80;
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    _tile_loadd(4, a, 64);
    _tile_loadd(5, b, 64);
    _tile_loadd(6, a, 64);
    _tile_loadd(7, b, 64);
    for (long it = 0; it < iters; ++it) {
        _tile_dpbf16ps(0, 4, 5);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 6, 5);
        _tile_dpbf16ps(3, 6, 7);
    }
    _tile_stored(0, c, 64);
    _tile_release();
    return c[0];
}
static const double kAmxFlops = 2.0 * 16 * 16 * 32 * 4;  // per iteration
#endif

// The best (over repetitions) of threads x the slowest thread's rate, in GFLOP/s.
template <typename Kernel>
static double peak_of(int threads, long iters, double flops_per_iter, Kernel kernel, std::atomic<float> &sink) {
    double best = 0;
    for (int rep = 0; rep < 5; ++rep) {
        std::vector<double> rate(size_t(threads), 0.0);
        std::vector<std::thread> pool;
        for (int t = 0; t < threads; ++t)
            pool.emplace_back([&, t] {
                timespec a, b;
                clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
                sink = sink + kernel(iters);
                clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
                double s = double(b.tv_sec - a.tv_sec) + 1e-9 * double(b.tv_nsec - a.tv_nsec);
                rate[size_t(t)] = flops_per_iter * double(iters) / s / 1e9;
            });
        for (auto &th : pool) th.join();
        best = std::max(best, *std::min_element(rate.begin(), rate.end()) * threads);
    }
    return best;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? std::atoi(argv[1]) : int(std::thread::hardware_concurrency());
    const long iters = 20000000;
    std::atomic<float> sink{0};
    const double best = peak_of(threads, iters, 2.0 * kLanes * 12, kernel, sink);
    std::printf("{\"isa\": \"%s\", \"threads\": %d, \"gflops\": %.1f", kIsa, threads, best);
#if defined(__AVX512BF16__)
    std::printf(", \"bf16_dot_gflops\": %.1f", peak_of(threads, iters, kBf16Flops, bf16_kernel, sink));
#endif
#if defined(__AMX_BF16__) && defined(__AMX_TILE__)
    // ARCH_REQ_XCOMP_PERM (0x1023) for XFEATURE_XTILEDATA (18): without it a tile instruction faults.
    if (syscall(SYS_arch_prctl, 0x1023, 18) == 0)
        std::printf(", \"amx_bf16_gflops\": %.1f", peak_of(threads, iters / 8, kAmxFlops, amx_kernel, sink));
#endif
    std::printf(", \"sink\": %g}\n", double(sink.load()));
    return 0;
}
