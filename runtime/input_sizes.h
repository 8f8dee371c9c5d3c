// input_sizes.h — check_input_size(): accept an h x w input or explain why not, with the nearest
// extents the network takes (from the manifest's size program).
#pragma once

#include "runtime/manifest.h"

#include <cstdint>
#include <vector>

namespace unetgen::rt {

// Output extent for an accepted input extent `in` (H and W use the same program).
int64_t output_extent(const Manifest &m, int64_t in);

// Accepted extents nearest to `in`, ascending (at most `count`).
std::vector<int64_t> nearest_extents(const Manifest &m, int64_t in, int count);

// Throws Failure(UNETGEN_ERR_BAD_SIZE) for a size the network cannot take, e.g. "cannot segment a
// 570x570 input with ronneberger2015: the network takes sizes where <rule> (at dec2.crop), and 570
// breaks it; nearest: 556, 572, 588".
void check_input_size(const Manifest &m, int64_t h, int64_t w);

}  // namespace unetgen::rt
