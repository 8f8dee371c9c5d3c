// fma_peak.cpp — the machine's fp32 FMA peak, measured, so benchmark tables can say "% of peak".
//
// Each thread keeps 12 independent vector accumulators busy (enough to hide FMA latency on current
// x86 cores) and the best of several repetitions is reported. Each thread's rate is taken over its
// own CPU time (not wall time), so other processes on a busy machine do not lower the peak; the
// peak is that per-core rate times the thread count. Built with -march=native by bench/.
#include <immintrin.h>

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

int main(int argc, char **argv) {
    int threads = argc > 1 ? std::atoi(argv[1]) : int(std::thread::hardware_concurrency());
    const long iters = 20000000;
    double best = 0;
    std::atomic<float> sink{0};
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
                rate[size_t(t)] = 2.0 * kLanes * 12 * double(iters) / s / 1e9;
            });
        for (auto &th : pool) th.join();
        double slowest = *std::min_element(rate.begin(), rate.end());
        best = std::max(best, slowest * threads);
    }
    std::printf("{\"isa\": \"%s\", \"threads\": %d, \"gflops\": %.1f, \"sink\": %g}\n", kIsa, threads, best,
                double(sink.load()));
    return 0;
}
