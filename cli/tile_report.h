// tile_report.h — what `unetgen check` says about large images: the receptive field, the
// alignment, the halo a tile reads, and the tile plan for a size within a memory budget.
#pragma once

#include "common/tile_plan.h"
#include "dsl/network_ir.h"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <string>

namespace unetgen::cli {

struct TileReport {
    int64_t receptive_field = 0;  // input pixels one output pixel depends on (one axis, image centre)
    int64_t alignment = 1;        // output grid where every level's pixels line up (2^pools)
    int64_t whole_peak = 0;       // bytes of one whole-image pass
    size_t budget = 0;
    TilePlan plan;
    // Instance / group norms: every output pixel depends on the whole image, so the runtime runs
    // it in one piece only (the plan is then only consulted for whether that fits).
    bool whole_image_only = false;
    int patch_h = 0, patch_w = 0;  // the spec's sliding-window patch (0: none) and step
    double patch_step = 0.5;
};

// Lowers `net` for `target` (no compilation), takes its geometry and plans an h x w input of one
// image within `budget` bytes (0: the runtime's default), as `unetgen run` would (8-bit pixels
// in, a class mask out).
TileReport tile_report(const Network &net, int64_t h, int64_t w, size_t budget, const std::string &target = "host");

std::string tile_report_text(const TileReport &r);
nlohmann::json tile_report_json(const TileReport &r);

}  // namespace unetgen::cli
