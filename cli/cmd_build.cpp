// cmd_build.cpp — `unetgen build SPEC [-o DIR] [--target T ...] [--name NAME] [--profile]
// [--no-winograd] [--winograd4-max-channels N] [--winograd-max-pairs N] [--precision bf16
// [--weights W --calibrate IMG ... [--min-agreement P]]]`.
//
// `--profile` adds Halide's `profile` target feature (per-Func timing, Funcs named after layers).
// `--calibrate` builds an fp32 reference beside a bf16 build, prints both builds' mask agreement
// on each image (cli/calibration.h) and records it in build.json; below the floor, exit 2.
//
// int run_build(const BuildCommandOptions &opts)
//   Reads and validates the spec (all errors at once, exit 1), lowers it to the layer IR, and
//   compiles it ahead of time (driver/aot_build.h) into DIR (default generated/NAME), showing
//   each stage and its time on stderr. Exit codes: 0 ok, 1 spec errors, 2 build / usage errors.
#include "cli/calibration.h"
#include "cli/commands.h"
#include "driver/aot_build.h"
#include "dsl/diagnostics.h"
#include "dsl/network_ir.h"
#include "dsl/parse_spec.h"

#include <CLI/CLI.hpp>
#include <Halide.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <cstdlib>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

namespace unetgen::cli {
namespace {

namespace fs = std::filesystem;

struct BuildCommandOptions {
    std::string spec;
    std::string out_dir;
    std::vector<std::string> targets;
    std::string name;
    bool profile = false;  // add Halide's profiler: the library reports time per Func (per layer)
    driver::BuildSwitches switches;
    // --calibrate: a bf16 build's masks against an fp32 build's on these images, with `weights`.
    std::vector<std::string> calibrate;
    std::string weights;
    double min_agreement = 99.5;  // percent
};

// The calibration images are read (and their channels checked) before minutes of building.
bool check_calibration_options(const BuildCommandOptions &opts, const NetworkSpec &spec) {
    if (opts.calibrate.empty()) {
        if (!opts.weights.empty()) std::cerr << "unetgen build: note: --weights is used only with --calibrate\n";
        return true;
    }
    auto fail = [](const std::string &why) {
        std::cerr << "unetgen build: error: " << why << "\n";
        return false;
    };
    if (opts.switches.precision != "bf16")
        return fail("cannot calibrate an fp32 build: --calibrate measures a --precision bf16 build's masks against "
                    "fp32's");
    if (opts.weights.empty())
        return fail("cannot calibrate without weights: give the trained weights with --weights W.safetensors");
    if (!fs::is_regular_file(opts.weights)) return fail("cannot read " + opts.weights + ": no such file");
    try {
        for (const std::string &image : opts.calibrate) read_calibration_input(image, spec.in_channels);
    } catch (const std::exception &e) {
        return fail(e.what());
    }
    return true;
}

// Builds the fp32 reference beside the fast library, measures the agreement on every image,
// prints it and records it in build.json; below the floor the build fails (exit 2), the fast
// library left in place for inspection.
int calibrate(const Network &net, const driver::AotOptions &aot, const BuildCommandOptions &opts,
              const std::function<void(const std::string &)> &progress) {
    const fs::path ref_dir = fs::path(aot.out_dir) / "calibration-fp32";
    driver::AotOptions ref = aot;
    ref.out_dir = ref_dir.string();
    ref.targets = opts.targets;  // no profiler
    ref.switches.precision = "fp32";
    progress("calibration: building the fp32 reference in " + ref.out_dir);
    std::vector<ImageAgreement> results;
    try {
        driver::build_library(net, ref, [&](const std::string &line) { progress("calibration: " + line); });
        results = measure_agreement(aot.out_dir, ref.out_dir, opts.weights, opts.calibrate);
    } catch (const std::exception &e) {
        std::error_code ec;
        fs::remove_all(ref_dir, ec);
        std::cerr << "unetgen build: error: " << e.what() << "\n";
        return 2;
    }
    std::error_code ec;
    fs::remove_all(ref_dir, ec);
    double worst = 1.0;
    nlohmann::ordered_json images = nlohmann::ordered_json::array();
    for (const ImageAgreement &a : results) {
        worst = std::min(worst, a.agreement);
        std::fprintf(stderr, "calibration: %s: mask agreement with fp32 %.3f%% of %lld pixels, max|diff| of the output %.3g\n",
                     a.image.c_str(), 100 * a.agreement, (long long)a.pixels, a.max_diff);
        images.push_back({{"image", a.image}, {"pixels", a.pixels}, {"agreement", a.agreement}, {"max_diff", a.max_diff}});
    }
    const bool ok = 100 * worst >= opts.min_agreement;
    const fs::path build_json = fs::path(aot.out_dir) / "build.json";
    try {
        std::ifstream in(build_json);
        nlohmann::ordered_json build = nlohmann::ordered_json::parse(in);
        build["calibration"] = {{"reference", "fp32"}, {"weights", opts.weights}, {"images", images},
                                {"lowest_agreement", worst}, {"floor", opts.min_agreement / 100}, {"passed", ok}};
        std::ofstream(build_json) << build.dump(2) << "\n";
    } catch (const std::exception &e) {
        std::cerr << "unetgen build: error: cannot record the calibration in " << build_json.string() << ": " << e.what() << "\n";
        return 2;
    }
    if (!ok) {
        std::fprintf(stderr, "unetgen build: error: cannot accept the bf16 build of %s: its lowest mask agreement with fp32 "
                             "is %.3f%%, below the floor of %.3f%% (--min-agreement); build without --precision bf16, or "
                             "lower the floor knowingly\n", aot.name.c_str(), 100 * worst, opts.min_agreement);
        return 2;
    }
    std::fprintf(stderr, "calibration: lowest mask agreement %.3f%% on %zu image%s (floor %.3f%%), recorded in %s\n",
                 100 * worst, results.size(), results.size() == 1 ? "" : "s", opts.min_agreement, build_json.string().c_str());
    return 0;
}

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
    if (!check_calibration_options(opts, spec)) return 2;
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
    return opts.calibrate.empty() ? 0 : calibrate(net, aot, opts, progress);
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
    sub->add_option("--calibrate", opts->calibrate,
                    "with --precision bf16 and --weights: sample images (.png, or normalised float .npy) to measure "
                    "the fast build's class masks against an fp32 build's on; the build prints the agreement per "
                    "image, records it in build.json and fails below --min-agreement")
        ->type_size(1)
        ->expected(1, -1);
    sub->add_option("--weights,-w", opts->weights, "trained weights (safetensors) for --calibrate");
    sub->add_option("--min-agreement", opts->min_agreement,
                    "the lowest mask agreement with fp32, in percent, --calibrate accepts (default 99.5)")
        ->check(CLI::Range(0.0, 100.0));
    sub->callback([opts, &exit_code] { exit_code = run_build(*opts); });
}

}  // namespace unetgen::cli
