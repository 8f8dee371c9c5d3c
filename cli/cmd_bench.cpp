// cmd_bench.cpp — `unetgen bench DIR --size CxHxW [--weights W] [--batch N] [--threads N] [--runs N]
// [--warmup N] [--json] [--profile]`: time segment() on one input size.
//
// Reports the median and spread (min, p10, p90, max) of wall time per call, a line exactly
// `median: <ms> ms`, GFLOP/s from the manifest's "flops" entries (2 x multiply-accumulates per
// pixel of a size-program node, as `unetgen check` counts them) and peak RSS. Without --weights
// the model gets synthetic weights (timing does not depend on their values). Probabilities are
// computed (activation included), as an application would ask for them.
#include "cli/commands.h"
#include "cli/fast_mode_note.h"
#include "cli/memory_size.h"
#include "cli/synthetic_weights.h"
#include "runtime/manifest.h"
#include "runtime/unetgen.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>

namespace unetgen::cli {

namespace {

struct BenchOptions {
    std::string dir, weights, size, memory;
    int batch = 1, threads = 0, runs = 20, warmup = 3;
    bool json = false;
    bool profile = false;  // the library was built with --profile: print its per-layer report
};

// 2 x multiply-accumulates of one h x w image, or -1 when the manifest carries no "flops".
double flops_per_image(const char *manifest_json, int h, int w) {
    nlohmann::json m = nlohmann::json::parse(manifest_json);
    auto f = m.find("flops");
    if (f == m.end() || !f->is_array() || f->empty()) return -1;
    rt::Manifest mf = rt::parse_manifest(manifest_json);
    std::vector<int64_t> hs = mf.sizes.evaluate(h), ws = mf.sizes.evaluate(w);
    double total = 0;
    for (const auto &e : *f) {
        int node = e.at("size_node").get<int>();
        if (node < 0 || size_t(node) >= hs.size()) return -1;
        total += 2.0 * e.at("macs_per_pixel").get<double>() * double(hs[size_t(node)]) * double(ws[size_t(node)]);
    }
    return total;
}

double percentile(const std::vector<double> &sorted, double p) {
    double pos = p * double(sorted.size() - 1);
    size_t lo = size_t(pos);
    size_t hi = std::min(lo + 1, sorted.size() - 1);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - double(lo));
}

// The report itself comes from the Halide runtime inside the library, on stderr when the
// process exits (it covers warm-up and timed calls). Its Funcs are named after layers:
// enc1_conv0 (the conv's store: bias, ReLU), enc1_conv0_acc (its reduction), enc1_conv0_in (its
// zero-padded input copy, with any fused pool / upsample / concat), output (the activation).
void profile_note(const BenchOptions &o) {
    std::fflush(stdout);
    std::fprintf(stderr, "per-layer profile of %d calls follows (Halide profiler, time per Func; a conv layer is "
                         "NAME_acc + NAME, its input copy NAME_in):\n", o.runs + o.warmup);
}

void bench(const BenchOptions &o) {
    int c = 0, h = 0, w = 0;
    char extra = 0;
    if (std::sscanf(o.size.c_str(), "%dx%dx%d%c", &c, &h, &w, &extra) != 3 || c < 1 || h < 1 || w < 1)
        throw std::runtime_error("cannot benchmark size '" + o.size + "': write it as CxHxW, e.g. 3x256x256");
    if (o.runs < 1 || o.warmup < 0 || o.batch < 1)
        throw std::runtime_error("cannot benchmark: --runs and --batch must be >= 1, --warmup >= 0");
    Library lib(o.dir);
    const unetgen_network_desc *net = lib.network();
    if (o.profile && (!net->target || !std::strstr(net->target, "profile")))
        throw std::runtime_error("cannot profile " + o.dir + ": it was built without Halide's profiler (target " +
                                 (net->target ? net->target : "?") +
                                 "); rebuild it with `unetgen build SPEC -o DIR --profile`");
    std::vector<uint8_t> synthetic;
    Model model = o.weights.empty() ? (synthetic = synthetic_weights(net->manifest_json),
                                       Model::load_from_memory(net, synthetic.data(), synthetic.size()))
                                    : Model::load(net, o.weights);
    if (o.threads > 0) model.set_num_threads(o.threads);
    if (c != model.in_channels())
        throw std::runtime_error("cannot benchmark " + model.name() + " on " + o.size + ": the network takes " +
                                 std::to_string(model.in_channels()) + " channels");

    std::vector<float> input(size_t(o.batch) * size_t(c) * size_t(h) * size_t(w));
    for (size_t i = 0; i < input.size(); ++i) input[i] = float(int(i * 7919 % 255) - 127) / 128.0f;
    size_t count = 0;
    throw_if_failed(unetgen_output_count(model.get(), o.batch, h, w, UNETGEN_OUTPUT_PROBS, &count));
    std::vector<float> output(count);
    unetgen_segment_args a{};
    a.input_format = UNETGEN_INPUT_F32_NCHW;
    a.input = input.data();
    a.n = o.batch;
    a.channels = c;
    a.h = h;
    a.w = w;
    a.output_kind = UNETGEN_OUTPUT_PROBS;
    a.output = output.data();
    a.output_capacity = count;
    a.memory_budget = o.memory.empty() ? 0 : parse_memory_size(o.memory);
    unetgen_tile_plan plan{};
    throw_if_failed(unetgen_plan_segment(model.get(), &a, &plan));
    const std::string tiles = plan.rows * plan.cols == 1
                                  ? "one pass"
                                  : std::to_string(plan.rows) + "x" + std::to_string(plan.cols) + " tiles of " +
                                        std::to_string(plan.tile_h) + "x" + std::to_string(plan.tile_w) + ", " +
                                        std::to_string(int(plan.overlap * 100 + 0.5)) + "% recomputed";

    for (int i = 0; i < o.warmup; ++i) throw_if_failed(unetgen_segment(model.get(), &a));
    std::vector<double> ms;
    for (int i = 0; i < o.runs; ++i) {
        auto t0 = std::chrono::steady_clock::now();
        throw_if_failed(unetgen_segment(model.get(), &a));
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::vector<double> sorted = ms;
    std::sort(sorted.begin(), sorted.end());
    const double median = percentile(sorted, 0.5), p10 = percentile(sorted, 0.1), p90 = percentile(sorted, 0.9);
    double mean = 0;
    for (double v : ms) mean += v / double(ms.size());
    const double flop = flops_per_image(net->manifest_json, h, w) * o.batch;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    const double rss_mib = double(ru.ru_maxrss) / 1024.0;  // Linux reports KiB

    if (o.json) {
        nlohmann::json j = {{"network", model.name()}, {"target", net->target ? net->target : ""},
                            {"size", {c, h, w}}, {"batch", o.batch}, {"threads", o.threads},
                            {"runs", o.runs}, {"warmup", o.warmup}, {"median_ms", median},
                            {"mean_ms", mean}, {"min_ms", sorted.front()}, {"p10_ms", p10},
                            {"p90_ms", p90}, {"max_ms", sorted.back()}, {"times_ms", ms},
                            {"output", {a.out_h, a.out_w}}, {"peak_rss_mib", rss_mib},
                            {"tiles", {plan.rows, plan.cols}}, {"tile", {plan.tile_h, plan.tile_w}},
                            {"overlap", plan.overlap}, {"planned_peak_bytes", plan.peak_bytes},
                            {"fast_mode", fast_mode_note(net->manifest_json)}};
        if (flop > 0) {
            j["gflop"] = flop / 1e9;
            j["gflops"] = flop / 1e9 / (median / 1e3);
        }
        std::cout << j.dump(2) << "\n";
        if (o.profile) profile_note(o);
        return;
    }
    std::printf("%s [%s] %dx%dx%d batch %d -> %dx%d, threads %s, %d runs after %d warmup, %s\n", model.name().c_str(),
                net->target ? net->target : "?", c, h, w, o.batch, a.out_h, a.out_w,
                o.threads > 0 ? std::to_string(o.threads).c_str() : "default", o.runs, o.warmup, tiles.c_str());
    if (const std::string note = fast_mode_note(net->manifest_json); !note.empty()) std::printf("%s\n", note.c_str());
    std::printf("median: %.3f ms\n", median);
    std::printf("min %.3f / p10 %.3f / p90 %.3f / max %.3f ms, mean %.3f ms\n", sorted.front(), p10, p90, sorted.back(), mean);
    if (flop > 0) std::printf("GFLOP/s: %.2f (%.3f GFLOP per call)\n", flop / 1e9 / (median / 1e3), flop / 1e9);
    else std::printf("GFLOP/s: n/a (the manifest has no \"flops\")\n");
    std::printf("peak RSS: %.1f MiB\n", rss_mib);
    if (o.profile) profile_note(o);
}

}  // namespace

void add_bench_command(CLI::App &app, int &exit_code) {
    auto opts = std::make_shared<BenchOptions>();
    CLI::App *sub = app.add_subcommand("bench", "time segment() of a built network on one input size");
    sub->add_option("dir", opts->dir, "output directory of `unetgen build` (or its shared library)")->required();
    sub->add_option("--size,-s", opts->size, "input size CxHxW, e.g. 3x256x256")->required();
    sub->add_option("--weights,-w", opts->weights, "safetensors weights (default: synthetic)");
    sub->add_option("--batch", opts->batch, "images per call (default 1)");
    sub->add_option("--threads", opts->threads, "Halide thread pool size (default: all cores)");
    sub->add_option("--runs", opts->runs, "timed calls (default 20)");
    sub->add_option("--warmup", opts->warmup, "untimed calls first (default 3)");
    sub->add_option("--memory", opts->memory, "memory budget of segment(), e.g. 2GB (default 2 GiB): larger inputs run in tiles");
    sub->add_flag("--json", opts->json, "print one JSON object");
    sub->add_flag("--profile", opts->profile,
                  "print the per-layer profile (library built with `unetgen build --profile`) on stderr");
    sub->callback([opts, &exit_code] {
        try {
            bench(*opts);
            exit_code = 0;
        } catch (const std::exception &e) {
            std::cerr << "unetgen bench: error: " << e.what() << "\n";
            exit_code = 1;
        }
    });
}

}  // namespace unetgen::cli
