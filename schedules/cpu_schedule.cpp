// cpu_schedule.cpp — apply_cpu_schedule(): register-tiled, vectorised, parallel convs on CPU.
//
// Every conv-like layer is computed at root, tile by tile: a tile is o_tile output channels x
// y_tile rows x one vector of pixels, its accumulators live in registers (the accum Func is
// computed at the tile and fully unrolled), and the reduction over (i, ky, kx) runs inside.
// Bias, ReLU and the post-ReLU affine are applied as the tile is stored. Pooling, upsampling and
// concatenation are inlined into the zero-padded input copy of the conv that consumes them.
// Parallelism: tasks are (row block, column block) pairs, plenty for any core count; inside a
// task the channel blocks share one input strip.
#include "schedules/schedule.h"

namespace unetgen::schedules {

namespace {

using Halide::TailStrategy;
using Halide::Var;

// Largest power of two <= limit dividing n.
int pow2_divisor(int n, int limit) {
    int b = 1;
    while (b * 2 <= limit && n % (b * 2) == 0) b *= 2;
    return b;
}

}  // namespace

void schedule_cpu_staged(Halide::Func &staged, const CpuTiles &t, int channels) {
    codegen::Dims d;
    if (channels > 0) staged.bound(d.c, 0, channels);
    Var yo("yo"), yi("yi");
    staged.compute_root()
        .split(d.y, yo, yi, t.staged_rows, TailStrategy::RoundUp)
        .reorder(d.x, yi, d.c, yo, d.n)
        .vectorize(d.x, t.vector, TailStrategy::RoundUp)
        .parallel(yo);
}

void schedule_cpu_conv(codegen::ConvStages &s, const CpuTiles &t) {
    codegen::Dims d;
    Var xb("xb"), xo("xo"), xi("xi"), yo("yo"), yi("yi"), co("co"), ci("ci"), task("task");
    const int ot = pow2_divisor(s.out_channels, t.o_tile);
    // Channel bounds start at 0 (every reader clamps to them), so within a tile the o_block
    // index math folds to constants and each weight is one broadcast from a fixed offset.
    s.result.bound(d.c, 0, s.out_channels);
    // A task is a row block x a column block of block_pixels; inside it every channel block
    // re-reads the same input strip (in_channels x (y_tile + k - 1) rows x block), so the strip
    // stays in L2 however wide the image is.
    const int block_vectors = std::max(1, t.block_pixels / t.vector);
    s.result.compute_root()
        .split(d.x, xo, xi, t.vector, TailStrategy::RoundUp)
        .split(xo, xb, xo, block_vectors, TailStrategy::GuardWithIf)
        .split(d.y, yo, yi, t.y_tile, TailStrategy::RoundUp)
        .split(d.c, co, ci, ot)
        .reorder(xi, ci, yi, xo, co, xb, yo, d.n)
        .vectorize(xi)
        .unroll(ci)
        .unroll(yi)
        .fuse(xb, yo, task)
        .parallel(task);
    s.accum.compute_at(s.result, xo).vectorize(d.x).unroll(d.c).unroll(d.y);
    Halide::Stage upd = s.accum.update();
    // Rows innermost: one broadcast weight serves y_tile FMAs, so accumulators + y_tile input
    // vectors + one weight fit the register file (no spills).
    upd.reorder(d.x, d.y, d.c, s.r.x, s.r.y, s.r.z).vectorize(d.x).unroll(d.y).unroll(d.c);
    if (s.in_channels <= 4) upd.unroll(s.r.y);  // first layer: a short reduction, unroll it more
    if (s.staged.defined()) schedule_cpu_staged(s.staged, t, s.in_channels);
}

void schedule_cpu_conv_transpose(codegen::ConvStages &s, const CpuTiles &t) {
    // Vectorised over output channels (weights are packed o-innermost), a few pixels unrolled;
    // x tiles are a multiple of the stride so each unrolled pixel has a fixed tap parity.
    codegen::Dims d;
    Var xo("xo"), xi("xi"), co("co"), ci("ci"), task("task");
    const int vo = pow2_divisor(s.out_channels, t.vector);
    const int xt = 4;
    s.result.bound(d.c, 0, s.out_channels);
    s.result.compute_root()
        .split(d.x, xo, xi, xt, TailStrategy::RoundUp)
        .split(d.c, co, ci, vo)
        .reorder(xi, ci, xo, co, d.y, d.n)
        .vectorize(xi)
        .unroll(ci)
        .fuse(d.y, d.n, task)
        .parallel(task);
    s.accum.compute_at(s.result, xo).vectorize(d.c).unroll(d.x);
    s.accum.update().reorder(d.c, d.x, s.r.x, s.r.y, s.r.z).vectorize(d.c).unroll(d.x).unroll(s.r.x).unroll(s.r.y);
}

void schedule_cpu_output(Halide::Func &output, Halide::Func &softmax_max, Halide::Func &softmax_sum,
                         const Halide::Expr &activate, const CpuTiles &t) {
    codegen::Dims d;
    Var xo("xo"), xi("xi"), task("task");
    output.compute_root()
        .split(d.x, xo, xi, t.vector, TailStrategy::GuardWithIf)
        .reorder(xi, xo, d.c, d.y, d.n)
        .vectorize(xi)
        .fuse(d.y, d.n, task)
        .parallel(task);
    if (softmax_max.defined()) {
        for (Halide::Func *f : {&softmax_max, &softmax_sum}) {
            f->compute_at(output, task).vectorize(d.x, t.vector, TailStrategy::RoundUp);
            f->update().vectorize(d.x, t.vector, TailStrategy::RoundUp);
        }
    }
    // Logits only: skip the activation (and softmax's reductions) entirely.
    output.specialize(activate != 0);
}

void apply_cpu_schedule(codegen::LoweredNetwork &net, const CpuTiles &tiles) {
    for (size_t li = 0; li < net.ops.size(); ++li) {
        switch (net.ops[li]) {
        case LayerOp::Conv:
        case LayerOp::Head: schedule_cpu_conv(net.convs[li], tiles); break;
        case LayerOp::ConvTranspose: schedule_cpu_conv_transpose(net.convs[li], tiles); break;
        default: break;  // inlined into the consumer's staged input
        }
    }
    schedule_cpu_output(net.output, net.softmax_max, net.softmax_sum, net.activate, tiles);
}

}  // namespace unetgen::schedules
