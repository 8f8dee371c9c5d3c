// cmd_build.cpp — `unetgen build SPEC [-o DIR] [--target T ...] [--name NAME] [--profile]
// [--no-winograd] [--winograd4-max-channels N] [--winograd-max-pairs N]`.
//
// `--profile` adds Halide's `profile` target feature (per-Func timing, Funcs named after layers).
//
// int run_build(const BuildCommandOptions &opts)
//   Reads and validates the spec (all errors at once, exit 1), lowers it to the layer IR, and
//   compiles it ahead of time (driver/aot_build.h) into DIR (default generated/NAME), showing
//   each stage and its time on stderr. Exit codes: 0 ok, 1 spec errors, 2 build / usage errors.
#include "cli/commands.h"
#include "driver/aot_build.h"
#include "dsl/diagnostics.h"
#include "dsl/network_ir.h"
#include "dsl/parse_spec.h"

#include <CLI/CLI.hpp>
#include <Halide.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

namespace unetgen::cli {
namespace {

struct BuildCommandOptions {
    std::string spec;
    std::string out_dir;
    std::vector<std::string> targets;
    std::string name;
    bool profile = false;  // add Halide's profiler: the library reports time per Func (per layer)
    driver::BuildSwitches switches;
};

// The target strings with Halide's `profile` feature added ("host" resolved first).
std::vector<std::string> with_profiler(const std::vector<std::string> &targets) {
    std::vector<std::string> out;
    for (const std::string &t : targets.empty() ? std::vector<std::string>{"host"} : targets) {
        if (t != "host" && !Halide::Target::validate_target_string(t)) {
            out.push_back(t);  // parse_targets reports it
            continue;
        }
        Halide::Target target = t == "host" ? Halide::get_host_target() : Halide::Target(t);
        out.push_back(target.with_feature(Halide::Target::Profile).to_string());
    }
    return out;
}

int run_build(const BuildCommandOptions &opts) {
    const auto start = std::chrono::steady_clock::now();
    auto progress = [&](const std::string &line) {
        double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::fprintf(stderr, "[unetgen build %6.1f s] %s\n", t, line.c_str());
    };
    NetworkSpec spec;
    if (!load_spec_file(opts.spec, spec, std::cerr)) return 1;
    progress("parsed " + opts.spec + " (network " + spec.name + ")");
    const Network net = build_network(spec);
    progress("layer IR: " + std::to_string(net.layers.size()) + " layers, " + std::to_string(net.weights.size()) +
             " weight tensors");

    driver::AotOptions aot;
    aot.name = opts.name.empty() ? spec.name : opts.name;
    if (std::string why = driver::library_name_problem(aot.name); !why.empty()) {
        std::cerr << "unetgen build: error: cannot name the library '" << aot.name << "': " << why
                  << (opts.name.empty() ? " (set one with --name)" : "") << "\n";
        return 2;
    }
    aot.out_dir = opts.out_dir.empty() ? "generated/" + aot.name : opts.out_dir;
    aot.targets = opts.profile ? with_profiler(opts.targets) : opts.targets;
    aot.spec_file = opts.spec;
    if (const char *cc = std::getenv("CC"); cc && *cc) aot.cc = cc;
    aot.switches = opts.switches;
    try {
        driver::build_library(net, aot, progress);
    } catch (const std::exception &e) {
        std::cerr << "unetgen build: error: " << e.what() << "\n";
        return 2;
    }
    return 0;
}

}  // namespace

void add_build_command(CLI::App &app, int &exit_code) {
    auto opts = std::make_shared<BuildCommandOptions>();
    CLI::App *sub = app.add_subcommand("build", "compile a spec into a native library (static + shared) and headers");
    sub->add_option("spec", opts->spec, "the .unet spec file")->required();
    sub->add_option("-o,--output", opts->out_dir, "output directory (default generated/NAME)");
    sub->add_option("--target", opts->targets,
                    "Halide target, repeatable or comma-separated, e.g. host, x86-64-linux-avx512, host-cuda; several "
                    "give one library that runs the first the CPU supports (default host)")
        ->type_size(1)
        ->expected(1)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
        ->delimiter(',');
    sub->add_flag("--profile", opts->profile,
                  "add Halide's profiler: `unetgen bench --profile` then reports time per layer");
    sub->add_option("--name", opts->name, "library and function name (default: the spec's network name)");
    // Algorithm switches for experiments (recorded in build.json's "switches"; docs/architecture.md).
    sub->add_flag("--no-winograd", [opts](int64_t) { opts->switches.winograd = false; },
                  "compute every 3x3 conv directly (no Winograd F(2x2,3x3) / F(4x4,3x3)), e.g. to compare speed or rounding");
    sub->add_option("--winograd4-max-channels", opts->switches.winograd4_max_channels,
                    "use Winograd F(4x4,3x3) for 3x3 convs with up to N input and output channels (default: the "
                    "schedule's choice, off)")
        ->check(CLI::NonNegativeNumber);
    sub->add_option("--winograd-max-pairs", opts->switches.winograd_max_pairs,
                    "use Winograd only for convs with at most N input x output channel pairs (default: the schedule's "
                    "choice, 524288)")
        ->check(CLI::NonNegativeNumber);
    sub->add_option("--precision", opts->switches.precision,
                    "fp32 (default) or bf16: the Winograd convs' GEMMs (channels in multiples of 32) take bf16 "
                    "operands with float32 sums, on AMX tiles where the CPU has AMX-BF16 (about 3x the fp32 GEMM "
                    "there), in plain float arithmetic elsewhere (slow); the rest of the network stays fp32")
        ->check(CLI::IsMember({"fp32", "bf16"}));
    sub->add_flag("--winograd-weights-at-load", opts->switches.winograd_weights_at_load,
                  "pack Winograd convs' transformed kernels U = G g G^T once at load instead of transforming them on "
                  "every call (16/9 or 4x the layer's weight memory; default off: measured no faster on Intel Xeon)");
    sub->callback([opts, &exit_code] { exit_code = run_build(*opts); });
}

}  // namespace unetgen::cli
