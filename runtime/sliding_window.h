// sliding_window.h — nnU-Net's sliding-window inference (border = SLIDING): the network runs on
// patches of the size it was trained on (`input patch` in the spec), overlapping by its step, and
// their logits are averaged with a Gaussian importance weight.
#pragma once

#include "runtime/model.h"
#include "runtime/unetgen.h"

#include <cstdint>
#include <vector>

namespace unetgen::rt {

// Patch origins along one axis of `image` pixels (image >= patch), as nnU-Net's
// compute_steps_for_sliding_window: ceil((image - patch) / (patch * step)) + 1 patches spread
// evenly, origins rounded half to even (numpy's round).
std::vector<int64_t> sliding_steps(int64_t image, int64_t patch, double step);

// nnU-Net's compute_gaussian(patch, sigma_scale 1/8): exp(-d^2 / (2 sigma^2)) per axis around
// patch // 2, sigma = patch / 8, zero beyond scipy's truncation radius int(4 sigma + 0.5), the
// zeros then raised to the smallest nonzero value; h x w, row-major.
std::vector<float> sliding_gaussian(int h, int w);

// unetgen_segment with border = SLIDING, host memory (args checked by the caller).
void segment_sliding(const unetgen_model &m, unetgen_segment_args &a, const std::string &what);

// The patch grid of such a call, for unetgen_plan_segment.
unetgen_tile_plan sliding_plan(const unetgen_model &m, const unetgen_segment_args &a, const std::string &what);

}  // namespace unetgen::rt
