// library_cycles.cpp — open, load, segment, free and close a generated shared library many times:
// the process's resident memory must not grow with the cycles (issue 13: it grew ~8 MB a cycle
// while a closed library's cached buffers and Halide worker threads stayed behind).
//
// usage: library_cycles BUILD_DIR [CYCLES]
#include "cli/synthetic_weights.h"
#include "runtime/unetgen.h"

#include <cstdio>
#include <cstdlib>
#include <unistd.h>
#include <vector>

namespace {

long resident_kib() {
    long pages = 0, resident = 0;
    FILE *f = std::fopen("/proc/self/statm", "r");
    if (!f) return -1;
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = -1;
    std::fclose(f);
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

bool cycle(const char *dir) {
    unetgen_library *lib = nullptr;
    if (unetgen_library_open(dir, &lib) != UNETGEN_OK) return std::fprintf(stderr, "%s\n", unetgen_last_error()), false;
    const unetgen_network_desc *net = unetgen_library_network(lib);
    std::vector<uint8_t> weights = unetgen::cli::synthetic_weights(net->manifest_json);
    unetgen_model *model = nullptr;
    if (unetgen_model_load_from_memory(net, weights.data(), weights.size(), &model) != UNETGEN_OK)
        return std::fprintf(stderr, "%s\n", unetgen_last_error()), false;
    const int c = unetgen_model_in_channels(model), h = 160, w = 192;
    std::vector<float> in(size_t(c) * h * w, 0.25f);
    size_t count = 0;
    unetgen_output_count(model, 1, h, w, UNETGEN_OUTPUT_PROBS, &count);
    std::vector<float> out(count);
    unetgen_segment_args a{};
    a.input_format = UNETGEN_INPUT_F32_NCHW;
    a.input = in.data();
    a.n = 1, a.channels = c, a.h = h, a.w = w;
    a.output_kind = UNETGEN_OUTPUT_PROBS;
    a.output = out.data();
    a.output_capacity = count;
    const bool ok = unetgen_segment(model, &a) == UNETGEN_OK;
    if (!ok) std::fprintf(stderr, "%s\n", unetgen_last_error());
    unetgen_model_free(model);
    unetgen_library_close(lib);
    return ok;
}

}  // namespace

int main(int argc, char **argv) {
    if (argc < 2) return std::fprintf(stderr, "usage: library_cycles BUILD_DIR [CYCLES]\n"), 2;
    const int cycles = argc > 2 ? std::atoi(argv[2]) : 40;
    long after_warmup = 0;
    for (int i = 0; i < cycles; ++i) {
        if (!cycle(argv[1])) return 1;
        if (i == 4) after_warmup = resident_kib();
    }
    const long end = resident_kib();
    const double per_cycle = double(end - after_warmup) / double(cycles - 5);
    std::printf("resident after 5 cycles %ld KiB, after %d: %ld KiB (%.0f KiB a cycle)\n", after_warmup, cycles, end,
                per_cycle);
    // A closed library may leave allocator slack behind, not its buffers (hundreds of KiB a cycle).
    if (per_cycle > 256) {
        std::printf("FAIL: resident memory grows with each open/close cycle\n");
        return 1;
    }
    std::printf("ok: no growth per cycle\n");
    return 0;
}
