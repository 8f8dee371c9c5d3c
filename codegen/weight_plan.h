// weight_plan.h — where every conv's folded weights live in the packed buffer, and in what order.
//
// The plan is the one source of truth shared by the lowering (which reads weights(offset + index))
// and the manifest (which tells the runtime how to pack). Layouts are chosen for the schedule:
// an `o_block` keeps the output channels of one register tile contiguous, so the inner loop
// reads them as consecutive scalars.
#pragma once

#include "dsl/network_ir.h"

#include <Halide.h>

#include <string>
#include <vector>

namespace unetgen::codegen {

// One conv / transposed conv / head in the packed buffer (see docs/architecture.md, "The manifest").
struct LayerPacking {
    int layer = -1;                  // index into Network::layers
    std::string name;                // layer name, e.g. "enc0.conv0"
    bool transpose = false;          // kind "conv_transpose" (PyTorch weight [i, o, k, k])
    std::string weight, bias, bn;    // tensor names; bias / bn empty when absent
    double bn_eps = 1e-5;
    bool bn_after_relu = false;
    // Instance / group norm: its gamma / beta (bn = the norm module when affine, else empty) are
    // packed unfolded at scale_offset / shift_offset (1 and 0 without affine).
    NormKind sample_norm = NormKind::None;
    std::string prelu;               // nn.PReLU's weight (one slope), packed at act_offset; empty when none
    int out_channels = 0, in_channels = 0, kernel = 0;
    std::string layout = "oihw";     // packed order, outermost first, letters o, i, h, w
    int o_block = 0;                 // >0: o split as [o / o_block] outermost, [o % o_block] innermost
    int winograd = 0;                // 2 or 4: runs as Winograd F(m x m, 3x3); 0: directly
    bool winograd_u = false;         // packed as U = G g G^T (common/winograd.h; layout unused), else raw
    bool winograd_bf16 = false;      // U packed as bf16 VNNI pairs, GEMMs by runtime/unetgen_bf16_gemm.h
    bool transpose_bf16 = false;     // a 2x2 stride-2 transposed conv as one bf16 GEMM (common/winograd.h)
    int64_t weight_offset = 0, bias_offset = 0, scale_offset = -1, shift_offset = -1, act_offset = -1;
};

// What layout the schedule wants; chosen per target family by schedules/.
struct PackingPolicy {
    int conv_o_block = 8;            // preferred o_block for convs (largest power of two <= this dividing o)
    std::string conv_layout = "oihw";
    std::string transpose_layout = "ihwo";  // o innermost: a vector of output channels is one load
    int transpose_o_block = 0;              // like conv_o_block, for transposed convs
    int align_floats = 16;           // every block starts on a 64-byte boundary
    // Which 3x3 convs run as Winograd (winograd_for): the choice can fix the packing (U,
    // transformed once at load), so it is made here, once for every target of a build.
    bool winograd = false;
    int64_t winograd_max_pairs = 512 * 1024;  // measured: 1024 -> 512 at 32x32 gains, 1024 -> 1024 at 16x16 loses
    int winograd4_max_channels = 0;           // convs with both counts up to this use F(4x4, 3x3)
    // Pack U at load (the runtime transforms once) instead of transforming in every call. Off:
    // measured on Intel Xeon (480 MiB L3, 23 GB/s), milesial_transposed 3x256x256 F(2x2): no
    // faster (the GEMMs then stream U from memory, where the per-call transform left it in
    // cache), and the resident weights grow by 16/9 for those layers.
    bool winograd_weights_at_load = false;
    // `--precision bf16`: F(2x2) Winograd convs with in_channels % 32 == 0 take bf16 U (packed at
    // load) and bf16 V into GEMMs with float32 sums (AMX where the CPU has it); the rest stays fp32.
    bool winograd_bf16 = false;
};

// m (2 or 4) when `l` runs as Winograd F(m x m, 3x3) under `policy`, else 0: a 3x3 stride-1
// undilated conv (not the head) with channels in whole blocks of 16 and at most
// winograd_max_pairs (input, output) channel pairs unless it takes bf16.
int winograd_for(const Layer &l, const PackingPolicy &policy);

// Whether a Winograd F(m x m) conv `l` takes bf16 GEMMs under `policy` (`--precision bf16`: F(2x2)
// with in_channels % 32 == 0; then the pair limit does not apply, U being packed at load).
bool winograd_takes_bf16(const Layer &l, const PackingPolicy &policy, int m);

struct WeightPlan {
    std::vector<LayerPacking> layers;  // in canonical (execution) order
    int64_t packed_floats = 0;
    // The packing of layer `layer_index`, or nullptr.
    const LayerPacking *find(int layer_index) const;
};

// Assigns offsets and layouts to every Conv, ConvTranspose and Head layer of `net`.
WeightPlan plan_weights(const Network &net, const PackingPolicy &policy);

// Packed index (relative to weight_offset) of element (o, i, h, w) — for conv_transpose the same
// named dims of PyTorch's [i, o, k, k] — in `p`'s layout, as a Halide Expr.
Halide::Expr packed_index(const LayerPacking &p, const Halide::Expr &o, const Halide::Expr &i,
                          const Halide::Expr &h, const Halide::Expr &w);

// The same index for concrete values (tests and packers use it to cross-check).
int64_t packed_index_value(const LayerPacking &p, int64_t o, int64_t i, int64_t h, int64_t w);

}  // namespace unetgen::codegen
