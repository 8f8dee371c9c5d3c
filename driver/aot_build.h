// aot_build.h — build_library(): a network compiled ahead of time into a directory of files.
#pragma once

#include "dsl/network_ir.h"

#include <functional>
#include <string>
#include <vector>

namespace unetgen::driver {

// The algorithm switches of `unetgen build` for experiments and diagnosis (documented build
// options, recorded in build.json's "switches"; docs/architecture.md). Defaults: the schedules'
// choices per target.
struct BuildSwitches {
    bool winograd = true;             // false (--no-winograd): every 3x3 conv direct
    int winograd4_max_channels = -1;  // >= 0 (--winograd4-max-channels N): F(4x4, 3x3) for convs up to N channels
    int64_t winograd_max_pairs = -1;  // >= 0 (--winograd-max-pairs N): Winograd only up to N channel pairs
    bool winograd_weights_at_load = false;  // --winograd-weights-at-load: U packed by the runtime, not per call
    std::string precision = "fp32";  // --precision bf16: Winograd GEMMs in bf16 with float32 sums (AMX)
};

struct AotOptions {
    std::string name;                  // library / function name (a C identifier)
    std::string out_dir;               // created if missing
    std::vector<std::string> targets;  // Halide target strings ("host" allowed); empty = host
    std::string spec_file;             // for the generated headers' comments
    std::string cc = "cc";             // the system C compiler that links NAME.so
    BuildSwitches switches;
};

// Progress lines ("stage ... 1.2 s") go here; the driver never prints on its own.
using ProgressFn = std::function<void(const std::string &line)>;

// Lowers, schedules and compiles `net` for every target, then writes into out_dir: NAME.a, NAME.h
// (Halide's), NAME_unetgen.h, NAME_unetgen.hpp, NAME.manifest.json, NAME.so and build.json.
// Throws std::runtime_error with a "cannot ..." sentence on any failure.
void build_library(const Network &net, const AotOptions &opts, const ProgressFn &progress);

// Checks a library name: empty when it is usable, else the rule it breaks.
std::string library_name_problem(const std::string &name);

}  // namespace unetgen::driver
