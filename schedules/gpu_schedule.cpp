// gpu_schedule.cpp — apply_gpu_schedule(): a CUDA schedule for every op.
//
// Simple and correct first: every materialised stage is a grid of 16x16-pixel thread blocks,
// one block row per (channel, image); a thread owns one output value and runs the whole
// reduction in registers. Tiles guard their edges, so any extent works.
#include "schedules/schedule.h"

namespace unetgen::schedules {

namespace {

using Halide::TailStrategy;
using Halide::Var;

constexpr int kTile = 16;

void gpu_tile_4d(Halide::Func &f) {
    codegen::Dims d;
    Var xo("xo"), yo("yo"), xi("xi"), yi("yi"), cn("cn");
    f.compute_root()
        .gpu_tile(d.x, d.y, xo, yo, xi, yi, kTile, kTile, TailStrategy::GuardWithIf)
        .fuse(d.c, d.n, cn)
        .gpu_blocks(cn);
}

}  // namespace

void schedule_gpu_conv(codegen::ConvStages &s) {
    gpu_tile_4d(s.result);
    s.accum.compute_at(s.result, Var("xi"));
    if (s.staged.defined()) gpu_tile_4d(s.staged);
}

void schedule_gpu_output(Halide::Func &output, Halide::Func &softmax_max, Halide::Func &softmax_sum,
                         const Halide::Expr &activate) {
    gpu_tile_4d(output);
    if (softmax_max.defined()) {
        softmax_max.compute_at(output, Var("xi"));
        softmax_sum.compute_at(output, Var("xi"));
    }
    output.specialize(activate != 0);
}

void apply_gpu_schedule(codegen::LoweredNetwork &net) {
    for (size_t li = 0; li < net.ops.size(); ++li) {
        switch (net.ops[li]) {
        case LayerOp::Conv:
        case LayerOp::Head:
        case LayerOp::ConvTranspose: schedule_gpu_conv(net.convs[li]); break;
        default: break;
        }
    }
    schedule_gpu_output(net.output, net.softmax_max, net.softmax_sum, net.activate);
}

}  // namespace unetgen::schedules
