// aot_build.cpp — build_library(): spec IR -> Halide -> static library, headers, shared library.
//
// One weight plan (chosen for the first target) serves every target, since the manifest is
// shared; each target gets its own lowering + schedule (tile sizes follow the vector ISA).
// Several targets become one library whose entry point dispatches at run time
// (Halide's compile_multitarget). The shared library wraps the static one with a tiny C file
// exporting only `unetgen_get_network`, so its Halide runtime copy stays private to it.
#include "driver/aot_build.h"

#include "driver/generated_headers.h"
#include "codegen/lowering.h"
#include "codegen/manifest.h"
#include "common/file_digest.h"
#include "common/manifest_tag.h"
#include "schedules/schedule.h"

#include <Halide.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <climits>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <sys/wait.h>

namespace unetgen::driver {

using namespace codegen;  // the passes this driver runs: weight plan, lowering, manifest
namespace fs = std::filesystem;

namespace {

class Stopwatch {
public:
    double seconds() const {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    }
private:
    std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

std::string format_seconds(double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f s", s);
    return buf;
}

std::vector<Halide::Target> parse_targets(const std::string &name, const std::vector<std::string> &strings) {
    std::vector<Halide::Target> targets;
    for (const std::string &s : strings.empty() ? std::vector<std::string>{"host"} : strings) {
        if (s != "host" && !Halide::Target::validate_target_string(s))
            throw std::runtime_error("cannot build " + name + " for target '" + s +
                                     "': it is not a Halide target string (e.g. host, x86-64-linux-avx2, host-cuda)");
        targets.push_back(s == "host" ? Halide::get_host_target() : Halide::Target(s));
    }
    for (const Halide::Target &t : targets) {
        const Halide::Target &first = targets.front();
        if (t.arch != first.arch || t.os != first.os || t.bits != first.bits)
            throw std::runtime_error("cannot build " + name + " for targets " + first.to_string() + " and " +
                                     t.to_string() + " together: one library needs one arch-os-bits");
        // A library is a GPU library or not (its descriptor, weights upload and driver check are
        // all or nothing), so a CPU variant beside a CUDA one could never be reached.
        if (t.has_gpu_feature() != first.has_gpu_feature())
            throw std::runtime_error("cannot build " + name + " for targets " + first.to_string() + " and " +
                                     t.to_string() + " together: a library's targets must all use the GPU or none; "
                                     "build the CPU library separately (--target host) as the fallback");
    }
    return targets;
}

void write_file(const fs::path &path, const std::string &text) {
    std::ofstream out(path, std::ios::binary);
    out << text;
    if (!out.good()) throw std::runtime_error("cannot write " + path.string() + ": the file cannot be written");
}

std::string shell_quote(const std::string &s) {
    std::string q = "'";
    for (char ch : s) q += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
    return q + "'";
}

// Links NAME.so from a generated C file and NAME.a with the system compiler.
void link_shared_library(const AotOptions &opts, const fs::path &dir) {
    const fs::path stub = dir / (opts.name + "_shared.c");
    write_file(stub, shared_library_source(opts.name));
    std::string cmd = shell_quote(opts.cc) + " -shared -fPIC -O2 -fvisibility=hidden";
    for (const std::string &inc : generated_include_dirs()) cmd += " -I" + shell_quote(inc);
    cmd += " -I" + shell_quote(dir.string());
    cmd += " -o " + shell_quote((dir / (opts.name + ".so")).string()) + " " + shell_quote(stub.string()) + " " +
           shell_quote((dir / (opts.name + ".a")).string());
    // Keep libHalide's symbols (inside the process that dlopens us) apart from our runtime copy.
    cmd += " -Wl,--exclude-libs,ALL -Wl,--no-undefined -lpthread -ldl -lm";
    cmd += " 2>&1";
    std::string output;
    FILE *pipe = popen(cmd.c_str(), "r");
    if (!pipe) throw std::runtime_error("cannot link " + opts.name + ".so with " + opts.cc + ": cannot start it");
    char buf[512];
    while (fgets(buf, sizeof buf, pipe)) output += buf;
    int status = pclose(pipe);
    fs::remove(stub);
    if (status != 0) {
        std::string why = WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status)) : "it was killed";
        throw std::runtime_error("cannot link " + opts.name + ".so with " + opts.cc + " (" + why + "): " + output);
    }
}

}  // namespace

std::string library_name_problem(const std::string &name) {
    if (name.empty()) return "it is empty";
    if (name.size() > 64) return "it is longer than 64 characters";
    if (std::isdigit((unsigned char)name[0])) return "it starts with a digit";
    for (char ch : name)
        if (!(std::isalnum((unsigned char)ch) || ch == '_'))
            return "it must be a C identifier (letters, digits and _)";
    return "";
}

void build_library(const Network &net, const AotOptions &opts, const ProgressFn &progress) {
    if (std::string why = library_name_problem(opts.name); !why.empty())
        throw std::runtime_error("cannot build a library named '" + opts.name + "': " + why);
    Stopwatch total;
    const std::vector<Halide::Target> targets = parse_targets(opts.name, opts.targets);
    std::vector<std::string> target_strings;
    bool uses_gpu = false;
    for (const Halide::Target &t : targets) {
        target_strings.push_back(t.to_string());
        uses_gpu = uses_gpu || t.has_gpu_feature();
    }

    // The Winograd choice fixes the packing (U is transformed at load), so the switches apply
    // to the plan, once for every target.
    PackingPolicy policy = schedules::packing_policy_for(targets);
    const BuildSwitches &sw = opts.switches;
    policy.winograd = policy.winograd && sw.winograd;
    if (sw.winograd4_max_channels >= 0) policy.winograd4_max_channels = sw.winograd4_max_channels;
    if (sw.winograd_max_pairs >= 0) policy.winograd_max_pairs = sw.winograd_max_pairs;
    policy.winograd_weights_at_load = sw.winograd_weights_at_load;
    if (sw.precision != "fp32" && sw.precision != "bf16")
        throw std::runtime_error("cannot build " + opts.name + " with --precision " + sw.precision + ": it must be fp32 or bf16");
    if (sw.precision == "bf16" && uses_gpu)
        throw std::runtime_error("cannot build " + opts.name + " with --precision bf16 for a GPU target: its bf16 GEMMs "
                                 "are CPU code (AMX where the CPU has it); build the CUDA library in fp32");
    policy.winograd_bf16 = sw.precision == "bf16" && policy.winograd;
    const nlohmann::ordered_json switches = {{"winograd", policy.winograd},
                                             {"winograd4_max_channels", policy.winograd4_max_channels},
                                             {"winograd_max_pairs", policy.winograd_max_pairs},
                                             {"winograd_weights_at_load", policy.winograd_weights_at_load},
                                             {"precision", sw.precision}};
    const WeightPlan plan = plan_weights(net, policy);
    // The weights buffer is one Halide buffer: its extent and every offset are 32-bit.
    if (plan.packed_floats > int64_t(INT32_MAX))
        throw std::runtime_error("cannot build " + opts.name + ": its packed weights are " +
                                 std::to_string(plan.packed_floats) + " floats, and a Halide buffer holds at most " +
                                 std::to_string(INT32_MAX) + " (2^31 - 1)");
    // The first target's schedule decides the stored sizes the runtime plans tiles with (like
    // the weight layout, one manifest serves every target of a build).
    std::string manifest;

    const fs::path dir(opts.out_dir);
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec || !fs::is_directory(dir))
        throw std::runtime_error("cannot write into " + dir.string() + ": the directory cannot be created (" + ec.message() + ")");

    // Halide calls the factory once per target, then compiles what it returned; the progress
    // line of a target therefore closes when the next one starts (or at the end).
    Stopwatch stage;
    std::string current;
    auto close_stage = [&] {
        if (!current.empty()) progress("  " + current + " " + format_seconds(stage.seconds()));
        current.clear();
    };
    auto factory = [&](const std::string &fn_name, const Halide::Target &target) {
        close_stage();
        stage = Stopwatch();
        current = "compile " + target.to_string();
        progress("  lowering and scheduling for " + target.to_string() + " ...");
        LoweredNetwork ln = lower_network(net, plan, schedules::lowering_choices_for(target));
        schedules::apply_schedule(ln, target);
        if (manifest.empty())
            manifest = write_manifest(net, plan, opts.name, schedules::tile_geometry_of(net, ln, target));
        // The pipeline reads weights packed by this manifest only: a caller packing by another
        // (an edited or swapped descriptor) gets an error, not a silently wrong result.
        Halide::Pipeline pipeline(ln.output);
        const int32_t tag = manifest_tag(manifest.c_str());
        pipeline.add_requirement(ln.manifest_tag == tag, "cannot run", opts.name,
                                 ": the weights were packed by another manifest than the one it was built with "
                                 "(manifest tag", ln.manifest_tag, ", built with", tag,
                                 "); the descriptor's manifest was edited or comes from another build");
        return pipeline.compile_to_module(ln.arguments(), fn_name, target);
    };
    const std::string prefix = (dir / opts.name).string();
    try {
        Halide::compile_multitarget(opts.name,
                                    {{Halide::OutputFileType::static_library, prefix + ".a"},
                                     {Halide::OutputFileType::c_header, prefix + ".h"}},
                                    targets, {}, factory);
    } catch (const Halide::Error &e) {
        throw std::runtime_error("cannot compile " + opts.name + " with Halide: " + e.what());
    }
    close_stage();

    write_file(prefix + ".manifest.json", manifest);
    std::string joined;
    for (const std::string &t : target_strings) joined += (joined.empty() ? "" : ",") + t;
    GeneratedHeaderInfo info{opts.name, opts.spec_file, joined, uses_gpu, manifest, false};
    for (const LayerPacking &p : plan.layers) info.bf16_gemm = info.bf16_gemm || p.winograd_bf16 || p.transpose_bf16;
    write_file(prefix + "_unetgen.h", c_header_source(info));
    write_file(prefix + "_unetgen.hpp", cpp_header_source(info));

    stage = Stopwatch();
    link_shared_library(opts, dir);
    progress("  link " + opts.name + ".so " + format_seconds(stage.seconds()));

    // The runtime checks NAME.so against these before dlopen (a truncated or swapped file).
    const FileDigest so = file_digest((dir / (opts.name + ".so")).string());
    if (!so.ok) throw std::runtime_error("cannot record " + opts.name + ".so in build.json: the file cannot be read");
    nlohmann::ordered_json build = {{"name", opts.name},
                                    {"shared_library", opts.name + ".so"},
                                    {"shared_library_bytes", so.bytes},
                                    {"shared_library_fnv1a64", so.hex()},
                                    {"static_library", opts.name + ".a"},
                                    {"targets", target_strings},
                                    {"manifest", opts.name + ".manifest.json"},
                                    {"switches", switches}};
    write_file(dir / "build.json", build.dump(2) + "\n");
    progress("  done in " + format_seconds(total.seconds()) + ": " + dir.string());
}

}  // namespace unetgen::driver
