// manifest.h — write_manifest(): the JSON the runtime packs weights by (docs/architecture.md).
#pragma once

#include "codegen/weight_plan.h"
#include "dsl/network_ir.h"

#include <string>

namespace unetgen::codegen {

// The manifest of `net` packed as `plan` says, pretty-printed (the same text is embedded in the
// generated descriptor and written to NAME.manifest.json). `name` is the library's name.
std::string write_manifest(const Network &net, const WeightPlan &plan, const std::string &name);

}  // namespace unetgen::codegen
