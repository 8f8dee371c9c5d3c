// manifest.h — write_manifest(): the JSON the runtime packs weights by (docs/architecture.md).
#pragma once

#include "codegen/weight_plan.h"
#include "common/tile_geometry.h"
#include "dsl/network_ir.h"

#include <string>

namespace unetgen::codegen {

// The manifest of `net` packed as `plan` says, pretty-printed (the same text is embedded in the
// generated descriptor and written to NAME.manifest.json). `name` is the library's name;
// `geometry` (schedules::tile_geometry_of) is what the runtime plans tiles with.
std::string write_manifest(const Network &net, const WeightPlan &plan, const std::string &name,
                           const TileGeometry &geometry);

// The "geometry" field: every layer's op, shape parameters and stored channels.
std::string geometry_op_name(GeometryLayer::Op op);

}  // namespace unetgen::codegen
