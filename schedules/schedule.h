// schedule.h — per-target schedules for a lowered network (the "how"; codegen/ holds the "what").
//
// apply_schedule() picks a strategy from the target: a CPU schedule (register-tiled convs whose
// tile sizes depend on the vector ISA) or a CUDA schedule (gpu_blocks / gpu_threads tiles).
// The weight layout the schedule wants is chosen before lowering (packing_policy_for), because
// lowering reads weights in that layout and one manifest serves every target of a build.
#pragma once

#include "codegen/lowering.h"
#include "common/tile_geometry.h"

#include <Halide.h>

#include <utility>
#include <vector>

namespace unetgen::schedules {

// Register tile of the CPU conv micro-kernel: `o_tile` output channels x `y_tile` rows x one
// vector of `vector` pixels, accumulated in registers over (i, ky, kx).
struct CpuTiles {
    int vector = 8;
    int o_tile = 4;
    int y_tile = 3;
    int block_pixels = 128;  // columns per conv task (keeps the input strip of a task in L2)
    int staged_rows = 4;     // rows per parallel task of the zero-padded input copies
    // Channel-vectorised convs (activations stored channels-innermost): a register tile of
    // c_vectors vectors of output channels x px_tile pixels of one row, acc_regs accumulators.
    int acc_regs = 16;
    int max_c_vectors = 4;
    int weight_block_bytes = 1300 * 1024;  // a tile's weight block stays under this (~L2)
    int channels_per_task_row = 64;       // rows per conv task: in_channels / this (1 to 16)
    int pad_channel_bytes = 1024;         // activations with a pixel this wide get a cache line more
};

// Floats a pixel of a `channels`-channel activation takes in storage: wide ones get one extra
// cache line per pixel, so the pixels a register tile broadcasts from (a pixel stride apart) do
// not all map to the same few L1 sets (a 2 KiB / 4 KiB stride aliases them).
int stored_channels(int channels, const CpuTiles &tiles);

// The network's geometry and what `target`'s schedule stores per layer (buffer_footprint.cpp):
// what the tile planner needs to know about memory. `ln` is the network lowered and scheduled
// for `target` (the schedule records its rounding in the ConvStages).
TileGeometry tile_geometry_of(const Network &net, const codegen::LoweredNetwork &ln, const Halide::Target &target);

// Tile sizes for a CPU target (by its widest vector ISA).
CpuTiles cpu_tiles_for(const Halide::Target &target);

// The weight layout the schedules of `targets` want (the first target decides; all share it),
// with which 3x3 convs run as Winograd (CPU; every conv direct on GPU).
codegen::PackingPolicy packing_policy_for(const std::vector<Halide::Target> &targets);

// Schedules every Func of `net` for `target` (CUDA schedule when the target has CUDA).
void apply_schedule(codegen::LoweredNetwork &net, const Halide::Target &target);

// How lower_network arranges the algorithm for `target` (CPU: transposed convs in phase form).
codegen::LoweringChoices lowering_choices_for(const Halide::Target &target);

void apply_cpu_schedule(codegen::LoweredNetwork &net, const CpuTiles &tiles);
void apply_gpu_schedule(codegen::LoweredNetwork &net);

// Per-op pieces, exposed so tests (and per-layer tuning) can schedule single-op pipelines.
void schedule_cpu_conv(codegen::ConvStages &s, const CpuTiles &tiles);  // direct or Winograd stages
void schedule_cpu_conv_winograd(codegen::ConvStages &s, const CpuTiles &tiles);
// A materialised elementwise stage (a conv's zero-padded input with what is inlined into it).
// channels > 0: bound c to [0, channels); concat_at > 0: it copies a concat split there
// (Tensor::concat_at). Returns the (x, y) granularity its loops round up to.
std::pair<int, int> schedule_cpu_staged(Halide::Func &staged, const CpuTiles &tiles, int channels = 0, int concat_at = 0);
void schedule_cpu_conv_transpose(codegen::ConvStages &s, const CpuTiles &tiles);
void schedule_cpu_output(Halide::Func &output, Halide::Func &softmax_max, Halide::Func &softmax_sum,
                         const Halide::Expr &activate, const CpuTiles &tiles);
void schedule_gpu_conv(codegen::ConvStages &s);
// The statistics of an instance / group norm after a conv (sample_norm_schedule.cpp).
// `channels_innermost`: how the conv stores what the norm reads (ConvStages::channels_innermost).
void schedule_cpu_sample_norm(codegen::SampleNormStages &s, const CpuTiles &tiles, bool channels_innermost = false);
void schedule_gpu_sample_norm(codegen::SampleNormStages &s);
void schedule_gpu_output(Halide::Func &output, Halide::Func &softmax_max, Halide::Func &softmax_sum,
                         const Halide::Expr &activate);

}  // namespace unetgen::schedules
