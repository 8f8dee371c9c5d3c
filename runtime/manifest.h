// manifest.h — parse_manifest(): the network manifest (docs/architecture.md, "The manifest") as
// checked C++ values, plus the size rules built from its "sizes".
//
// The manifest comes from our own compiler, but a library may be stale or hand-edited, so every
// field is checked (types, ranges, offsets inside packed_floats) and a problem is a Failure with
// UNETGEN_ERR_BAD_NETWORK rather than undefined behaviour later.
#pragma once

#include "common/size_program.h"
#include "common/tile_geometry.h"

#include <cstdint>
#include <string>
#include <vector>

namespace unetgen::rt {

struct ManifestTensor {
    std::string name;
    std::vector<int64_t> shape;
};

struct PackingEntry {
    std::string layer;
    bool transposed = false;          // kind "conv_transpose": PyTorch weight [i, o, k, k]
    std::string weight, bias, bn;     // bias / bn empty when null
    double bn_eps = 1e-5;
    bool bn_after_relu = false;       // bn_position "after_relu"
    bool sample_norm = false;         // "norm" instance / group: bn (if any) is packed unfolded to scale / shift
    int out_channels = 0, in_channels = 0, kernel = 0;
    std::string layout;               // permutation of "oihw"
    int o_block = 0;
    int winograd = 0;                 // optional "winograd" 2 or 4: packed as U of F(m x m, 3x3) (common/winograd.h)
    bool winograd_bf16 = false;       // "winograd_format" "bf16_vnni_panel16": U as bf16 VNNI pairs, 16-column panels
    bool transpose_bf16 = false;      // conv_transpose "gemm_format" "bf16_vnni_panel16" (common/winograd.h)
    int64_t weight_offset = 0, bias_offset = 0, scale_offset = -1, shift_offset = -1;
    std::string prelu;                // optional "prelu": nn.PReLU's weight (one slope), packed at act_offset
    int64_t act_offset = -1;
    int size_node = -1;               // optional "size": SizeProgram node of the output extent
};

struct Manifest {
    int format = 0;
    std::string name;
    int in_channels = 0, classes = 0;
    std::string activation;           // "none" | "sigmoid" | "softmax"
    double threshold = 0.5;
    std::vector<double> mean, std;    // in_channels each
    SizeProgram sizes;
    int output_node = 0;
    std::vector<ManifestTensor> tensors;
    int64_t packed_floats = 0;
    std::vector<PackingEntry> packing;
    // The layers as the tile planner sees them (sizes = `sizes`); empty for libraries built
    // before windowed pipelines, which segment whole images only.
    TileGeometry geometry;
    // Some layer normalises with the image's own statistics (instance / group norm): its output
    // at any pixel depends on the whole image, so it runs on whole images only (no tiles, windows
    // or mirrored borders), exactly as PyTorch does.
    bool sample_statistics = false;
    // The patch of sliding-window inference (border = SLIDING; 0: the spec has none) and its step.
    int patch_h = 0, patch_w = 0;
    double patch_step = 0.5;
};

Manifest parse_manifest(const char *json_text);

// The packed index of weight element (o, i, h, w) under `e`'s layout and o_block.
int64_t packed_weight_index(const PackingEntry &e, int o, int i, int h, int w);

}  // namespace unetgen::rt
