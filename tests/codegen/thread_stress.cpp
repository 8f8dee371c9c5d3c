// thread_stress.cpp — one model of a real generated library, 8 threads, mixed calls (sizes,
// output kinds, whole images and tiled budgets, both borders): every result must equal the same
// call made alone on one thread, bit for bit.
//
// usage: thread_stress BUILD_DIR [THREADS] [CALLS_PER_THREAD]
#include "tests/codegen/library_test_support.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Call {
    int h, w;
    unetgen_output_kind kind;
    size_t budget;
    unetgen_border border;
    int min_tiles;
};

// The result of one call (floats or mask bytes as bytes), or empty with the error on failure;
// *tiles gets the plan's tile count.
std::vector<uint8_t> run(const unetgen_model *model, const Call &c, std::string &error, int *tiles = nullptr) {
    const int ch = unetgen_model_in_channels(model);
    std::vector<uint8_t> in(size_t(ch) * size_t(c.h) * size_t(c.w));
    for (size_t i = 0; i < in.size(); ++i) in[i] = uint8_t((i * 2654435761u) >> 24);
    unetgen_segment_args a{};
    a.input_format = UNETGEN_INPUT_U8_NHWC;
    a.input = in.data();
    a.n = 1, a.channels = ch, a.h = c.h, a.w = c.w;
    a.output_kind = c.kind;
    a.memory_budget = c.budget;
    a.border = c.border;
    unetgen_tile_plan plan{};
    if (unetgen_plan_segment(model, &a, &plan) != UNETGEN_OK) return error = unetgen_last_error(), std::vector<uint8_t>{};
    if (tiles) *tiles = plan.rows * plan.cols;
    const size_t count = size_t(plan.out_h) * size_t(plan.out_w) *
                         (c.kind == UNETGEN_OUTPUT_MASK ? 1 : size_t(unetgen_model_classes(model)));
    const size_t bytes = c.kind == UNETGEN_OUTPUT_MASK ? 1 : sizeof(float);
    std::vector<uint8_t> out(count * bytes);
    a.output = out.data();
    a.output_capacity = count;
    if (unetgen_segment(model, &a) != UNETGEN_OK) return error = unetgen_last_error(), std::vector<uint8_t>{};
    return out;
}

}  // namespace

int main(int argc, char **argv) {
    if (argc < 2) return std::fprintf(stderr, "usage: thread_stress BUILD_DIR [THREADS] [CALLS]\n"), 2;
    const int threads = argc > 2 ? std::atoi(argv[2]) : 8, calls = argc > 3 ? std::atoi(argv[3]) : 6;
    unetgen_library *lib = nullptr;
    if (unetgen_library_open(argv[1], &lib) != UNETGEN_OK) return std::fprintf(stderr, "%s\n", unetgen_last_error()), 1;
    const unetgen_network_desc *net = unetgen_library_network(lib);
    unetgen_model *model = nullptr;
    std::string load_error;
    if (load_synthetic(net, &model, load_error) != UNETGEN_OK) return std::fprintf(stderr, "%s\n", load_error.c_str()), 1;
    unetgen_set_num_threads(model, 2);
    const std::vector<Call> mix = {
        {64, 64, UNETGEN_OUTPUT_PROBS, 0, UNETGEN_BORDER_NONE, 1},
        {96, 128, UNETGEN_OUTPUT_MASK, 0, UNETGEN_BORDER_NONE, 1},
        {384, 320, UNETGEN_OUTPUT_LOGITS, size_t(9) << 20, UNETGEN_BORDER_NONE, 4},  // tiled
        {75, 53, UNETGEN_OUTPUT_MASK, 0, UNETGEN_BORDER_MIRROR, 1},
        {330, 301, UNETGEN_OUTPUT_PROBS, size_t(8) << 20, UNETGEN_BORDER_MIRROR, 4},  // tiled, mirrored
    };
    std::vector<std::vector<uint8_t>> want(mix.size());
    for (size_t k = 0; k < mix.size(); ++k) {
        std::string error;
        int tiles = 0;
        want[k] = run(model, mix[k], error, &tiles);
        if (want[k].empty()) return std::fprintf(stderr, "FAIL: call %zu alone: %s\n", k, error.c_str()), 1;
        if (tiles < mix[k].min_tiles)
            return std::fprintf(stderr, "FAIL: call %zu runs in %d tiles, the mix needs >= %d\n", k, tiles, mix[k].min_tiles), 1;
        std::printf("call %zu: %dx%d, %d tile(s)\n", k, mix[k].h, mix[k].w, tiles);
    }
    std::atomic<int> mismatches{0}, failures{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
        pool.emplace_back([&, t] {
            for (int i = 0; i < calls; ++i) {
                const size_t k = size_t(t + i) % mix.size();
                std::string error;
                std::vector<uint8_t> got = run(model, mix[k], error);
                if (got.empty()) {
                    ++failures;
                    std::fprintf(stderr, "thread %d call %zu: %s\n", t, k, error.c_str());
                } else if (got != want[k]) {
                    ++mismatches;
                }
            }
        });
    for (std::thread &th : pool) th.join();
    unetgen_model_free(model);
    unetgen_library_close(lib);
    std::printf("%d threads x %d calls over %zu kinds: %d failed, %d differ from the single-thread result\n", threads,
                calls, mix.size(), failures.load(), mismatches.load());
    return failures == 0 && mismatches == 0 ? 0 : 1;
}
