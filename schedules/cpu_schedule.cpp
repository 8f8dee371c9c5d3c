// cpu_schedule.cpp — apply_cpu_schedule(): register-tiled, vectorised, parallel convs on CPU.
//
// Conv-like layers with a multiple of the vector width of output channels are vectorised over
// output channels: their results (and the zero-padded input copies) are stored channels-innermost,
// a register tile is c_vectors vectors of channels x px pixels of a row, and each reduction step
// loads c_vectors weight vectors (packed o-innermost) and broadcasts px inputs. Layers with few
// output channels (the head) keep the planar, pixel-vectorised tile (o_tile channels x y_tile rows
// x one vector). Bias, ReLU and the post-ReLU affine are applied as a tile is stored. Pooling,
// upsampling and concatenation are inlined into the input copy of the conv that consumes them.
// Tasks are (channel block, row block) pairs; see the helpers for the sizes (measured with
// tests/codegen/bench_conv).
#include "schedules/schedule.h"

#include <algorithm>
#include <numeric>

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

// Whether a conv-like layer is vectorised over its output channels (stored channels-innermost).
// A conv needs its o_block to hold whole vectors (weights for one vector are contiguous).
bool by_channels(const codegen::ConvStages &s, const CpuTiles &t, bool o_innermost = false) {
    if (t.vector < 2 || s.out_channels % t.vector != 0) return false;
    return o_innermost || (s.o_block > 0 && s.o_block % t.vector == 0);
}

// Vectors of output channels per register tile: as many as fit (and divide the channels) while
// the tile's weight block stays under weight_block_bytes.
int channel_vectors(const codegen::ConvStages &s, const CpuTiles &t) {
    int cv = 1;
    for (int c = 2; c <= t.max_c_vectors; c *= 2) {
        const double block = double(c) * t.vector * s.in_channels * s.kernel * s.kernel * 4;
        if (s.out_channels % (c * t.vector) == 0 && block <= t.weight_block_bytes) cv = c;
    }
    return cv;
}

// Rows of one task: a task reuses its weight block over rows x width pixels, so deep layers
// (many input channels, narrow images) take more rows; a U-Net halves the width as it doubles
// the channels, so in_channels / 64 rows keep that reuse roughly constant across levels.
int rows_per_task(const codegen::ConvStages &s, const CpuTiles &t) {
    return std::clamp(s.in_channels / t.channels_per_task_row, 1, 16);
}

// Storage extent of a channels-innermost activation (see stored_channels).
int padded_channels(int channels, const CpuTiles &t) { return stored_channels(channels, t); }

}  // namespace

std::pair<int, int> schedule_cpu_staged(Halide::Func &staged, const CpuTiles &t, int channels, int concat_at) {
    codegen::Dims d;
    if (channels > 0) staged.bound(d.c, 0, channels);
    Var yo("yo"), yi("yi");
    if (channels > 0 && channels % t.vector == 0) {
        // Channels-innermost like the convs that read it: whole vectors of channels per pixel.
        staged.reorder_storage(d.c, d.x, d.y, d.n)
            .bound_storage(d.c, padded_channels(channels, t))
            .compute_root()
            .split(d.y, yo, yi, t.staged_rows, TailStrategy::RoundUp);
        // A concat: channel parts of g = gcd(both inputs' channels), the part loop unrolled, so
        // within a part the input and its clamped channel index are constant and each vector is
        // one dense load (without this Halide gathers lane by lane: dec0_conv0_in of UNet001
        // 8.3 ms, memory-bound would be ~3).
        const int g = concat_at > 0 ? std::gcd(concat_at, channels - concat_at) : 0;
        if (g > 0 && g % t.vector == 0 && channels / g <= 16) {
            Var part("part"), cr("cr");
            staged.split(d.c, part, cr, g)
                .reorder(cr, part, d.x, yi, yo, d.n)
                .vectorize(cr, t.vector)
                .unroll(part)
                .parallel(yo);
        } else {
            staged.reorder(d.c, d.x, yi, yo, d.n).vectorize(d.c, t.vector).parallel(yo);
        }
        return {1, t.staged_rows};
    }
    staged.compute_root()
        .split(d.y, yo, yi, t.staged_rows, TailStrategy::RoundUp)
        .reorder(d.x, yi, d.c, yo, d.n)
        .vectorize(d.x, t.vector, TailStrategy::RoundUp)
        .parallel(yo);
    return {t.vector, t.staged_rows};
}

// Pixel-vectorised conv (planar storage): for layers with too few output channels for a vector
// (the head). o_tile channels x y_tile rows x one vector of pixels per register tile.
static void schedule_conv_by_pixels(codegen::ConvStages &s, const CpuTiles &t) {
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
    s.round[0] = t.vector;
    s.round[1] = t.y_tile;
}

// The tiling both channel-vectorised convs share: result stored channels-innermost in tiles of
// cv vectors of channels x px pixels of a row, tasks of (channel block, `rows` rows), and the
// accumulator computed per tile. Returns the accumulator's update for the caller's reduction order.
static Halide::Stage schedule_channel_tiles(codegen::ConvStages &s, const CpuTiles &t, int cv, int px, int rows) {
    codegen::Dims d;
    Var xo("xo"), xi("xi"), yo("yo"), yi("yi"), co("co"), ci("ci"), task("task");
    s.result.bound(d.c, 0, s.out_channels)
        .reorder_storage(d.c, d.x, d.y, d.n)
        .bound_storage(d.c, padded_channels(s.out_channels, t))
        .compute_root()
        .split(d.c, co, ci, cv * t.vector)
        .split(d.x, xo, xi, px, TailStrategy::RoundUp)
        .split(d.y, yo, yi, rows, TailStrategy::GuardWithIf)
        .reorder(ci, xi, xo, yi, co, yo, d.n)
        .vectorize(ci, t.vector)
        .unroll(ci)
        .unroll(xi)
        .fuse(co, yo, task)
        .parallel(task);
    s.accum.reorder_storage(d.c, d.x, d.y, d.n)
        .compute_at(s.result, xo)
        .vectorize(d.c, t.vector)
        .unroll(d.c)
        .unroll(d.x);
    s.round[0] = px;
    s.round[1] = 1;
    s.channels_innermost = true;
    return s.accum.update();
}

// Channel-vectorised conv: the result is stored channels-innermost, a register tile is
// c_vectors vectors of output channels x px pixels of one row; per reduction step (i innermost,
// then kx, ky) it loads c_vectors weight vectors (o_block layout, o innermost) and broadcasts px
// input values, so loads stay well under the FMAs. Tasks are (channel block, row) pairs; a task
// sweeps its row with one weight block, kept small enough to stay in L2.
static void schedule_conv_by_channels(codegen::ConvStages &s, const CpuTiles &t) {
    codegen::Dims d;
    const int cv = channel_vectors(s, t);
    const int px = std::max(1, t.acc_regs / cv);
    Halide::Stage upd = schedule_channel_tiles(s, t, cv, px, rows_per_task(s, t));
    upd.reorder(d.c, d.x, s.r.z, s.r.x, s.r.y).vectorize(d.c, t.vector).unroll(d.c).unroll(d.x);
    if (s.in_channels <= 4) upd.unroll(s.r.z).unroll(s.r.x);  // first layer: a short reduction
}

void schedule_cpu_conv(codegen::ConvStages &s, const CpuTiles &t) {
    if (s.winograd.enabled) {
        schedule_cpu_conv_winograd(s, t);
    } else if (by_channels(s, t)) {
        schedule_conv_by_channels(s, t);
    } else {
        schedule_conv_by_pixels(s, t);
    }
    if (s.staged.defined() && !s.staged_inline) {
        auto [rx, ry] = schedule_cpu_staged(s.staged, t, s.in_channels, s.staged_concat_at);
        s.staged_round[0] = rx;
        s.staged_round[1] = ry;
    }
}

// Phase-form transposed conv (lower_conv_transpose.cpp): result is computed in tiles of
// stride rows x stride * px columns, copied from the phase accumulators (px input columns x all
// stride^2 phases: a register tile, computed just before the tile; or, with many input
// channels, the task's whole input row, accumulated block of input channels by block), with
// the phases, taps and pixels unrolled so every tap test and weight offset is a constant. Many
// output channels: vectors of channels, a register tile of cv vectors x px pixels x the phases
// (stored channels-innermost, like the input copy). Few (the classes): vectors of pixels along
// a row of a planar input copy.
static constexpr int kPhaseInBlock = 64;  // input channels per block of a phase-form reduction

static void schedule_conv_transpose_phases(codegen::ConvStages &s, const CpuTiles &t) {
    codegen::Dims d;
    Var xo("xo"), xi("xi"), yt("yt"), yp("yp"), yi("yi"), co("co"), ci("ci"), task("task"), Xo("Xo"), Xi("Xi");
    const Halide::Var &ph = s.phase;
    const int st = s.phase_stride, phases = st * st;
    const int pairs = rows_per_task(s, t);  // input rows per task
    Halide::Stage upd = s.accum.update();
    const bool vector_of_channels = by_channels(s, t, s.o_block == 0);
    if (vector_of_channels) {
        // One vector of channels: a step loads a weight vector per tap (9 for k3 s2) and
        // broadcasts (px + 1) x 2 inputs, for 9 px FMAs; more vectors of channels load more
        // weights per FMA (measured, MONAI's UNet up3, 384 -> 64 at 16x16: cv 4 x px 1 1.9 ms).
        const int cv = 1;
        const int px = std::max(1, t.acc_regs / (cv * phases));
        s.channels_innermost = true;
        s.result.bound(d.c, 0, s.out_channels)
            .reorder_storage(d.c, d.x, d.y, d.n)
            .bound_storage(d.c, padded_channels(s.out_channels, t))
            .compute_root()
            .split(d.c, co, ci, cv * t.vector)
            .split(d.x, xo, xi, st * px, TailStrategy::RoundUp)
            .split(d.y, yp, yi, st, TailStrategy::RoundUp)
            .split(yp, yt, yp, pairs, TailStrategy::GuardWithIf)
            .reorder(ci, xi, yi, xo, yp, co, yt, d.n)
            .vectorize(ci, t.vector)
            .unroll(ci)
            .unroll(xi)
            .unroll(yi)
            .fuse(co, yt, task)
            .parallel(task);
        if (s.in_channels % kPhaseInBlock == 0 && s.in_channels > kPhaseInBlock) {
            // Input channels in blocks, each swept over the whole row of the task: the block's
            // weights (16 x 64 x taps floats, 16 KiB at k2) stay in L1 across the row, where a
            // tile's whole reduction re-read them from L2 (measured, Intel Xeon, UNet001
            // transposed k2 s2 1024 -> 512: up convs 4.3 -> 2.2 ms each; the net 235 -> 222 ms).
            // The accumulators of a row then live in memory between blocks.
            Halide::RVar rko("rko"), rki("rki");
            s.accum.reorder_storage(d.c, ph, d.x, d.y, d.n)
                .compute_at(s.result, yp)
                .reorder(d.c, ph, d.x, d.y)
                .vectorize(d.c, t.vector)
                .unroll(d.c)
                .unroll(ph);
            upd.split(d.x, Xo, Xi, px, TailStrategy::RoundUp)
                .split(s.r.z, rko, rki, kPhaseInBlock)
                .reorder(d.c, Xi, s.r.x, s.r.y, ph, rki, Xo, rko, d.y)
                .vectorize(d.c, t.vector)
                .unroll(d.c);
            // Per task: that row, cv vectors x the phases per input column.
            s.task_rows = st * pairs;
            s.task_bytes_per_column = int64_t(cv) * t.vector * phases * 4 / st;
        } else {
            s.accum.reorder_storage(d.c, d.x, ph, d.y, d.n)
                .compute_at(s.result, xo)
                .split(d.x, Xo, Xi, px, TailStrategy::RoundUp)
                .reorder(d.c, Xi, ph, d.y, Xo)
                .vectorize(d.c, t.vector)
                .unroll(d.c)
                .unroll(Xi)
                .unroll(ph);
            upd.split(d.x, Xo, Xi, px, TailStrategy::RoundUp)
                .reorder(d.c, Xi, s.r.x, s.r.y, ph, s.r.z, d.y, Xo)
                .vectorize(d.c, t.vector)
                .unroll(d.c);
        }
        s.round[0] = st * px;
    } else {
        const int ot = pow2_divisor(s.out_channels, t.o_tile);
        s.result.bound(d.c, 0, s.out_channels)
            .compute_root()
            .split(d.x, xo, xi, st * t.vector, TailStrategy::RoundUp)
            .split(d.y, yp, yi, st, TailStrategy::RoundUp)
            .split(yp, yt, yp, pairs, TailStrategy::GuardWithIf)
            .split(d.c, co, ci, ot)
            .reorder(xi, yi, ci, xo, yp, co, yt, d.n)
            .vectorize(xi, t.vector)
            .unroll(xi)
            .unroll(yi)
            .unroll(ci)
            .fuse(co, yt, task)
            .parallel(task);
        s.accum.compute_at(s.result, xo)
            .split(d.x, Xo, Xi, t.vector, TailStrategy::RoundUp)
            .reorder(Xi, d.c, ph, d.y, Xo)
            .vectorize(Xi)
            .unroll(d.c)
            .unroll(ph);
        upd.split(d.x, Xo, Xi, t.vector, TailStrategy::RoundUp)
            .reorder(Xi, d.c, s.r.x, s.r.y, ph, s.r.z, d.y, Xo)
            .vectorize(Xi)
            .unroll(d.c);
        s.round[0] = st * t.vector;
    }
    // The input copy, stored as the result is (channels-innermost, or planar rows of pixels). It
    // stays a buffer even of a materialised producer: left inline (read in place) it measured
    // slower (UNet001 transposed 221 against 214 ms).
    auto [rx, ry] = vector_of_channels ? schedule_cpu_staged(s.staged, t, s.in_channels, s.staged_concat_at)
                                       : schedule_cpu_staged(s.staged, t);
    s.staged_round[0] = rx;
    s.staged_round[1] = ry;
    upd.unroll(Xi).unroll(s.r.x).unroll(s.r.y).unroll(ph);
    s.round[1] = st;
}

void schedule_cpu_conv_transpose(codegen::ConvStages &s, const CpuTiles &t) {
    if (s.phase_stride > 0) return schedule_conv_transpose_phases(s, t);
    if (s.gemm.defined()) {  // `--precision bf16`: the extern GEMM per task of output rows
        codegen::Dims d;
        Var co("co"), ci("ci"), yi("yi"), task("task");
        const int rows = 8;  // output rows per task: 4 input rows of GEMM
        s.channels_innermost = true;
        s.result.bound(d.c, 0, s.out_channels)
            .reorder_storage(d.c, d.x, d.y, d.n)
            .compute_root()
            .split(d.y, task, yi, rows, TailStrategy::GuardWithIf)
            .split(d.c, co, ci, t.vector)
            .reorder(ci, co, d.x, yi, task, d.n)
            .vectorize(ci)
            .parallel(task);
        s.gemm.compute_at(s.result, task);
        Var gt = s.gemm_input.args()[3];
        s.gemm_input.bound(gt, 0, 1).bound(d.c, 0, s.in_channels).compute_at(s.result, task).vectorize(d.c, t.vector);
        // Per task: the GEMM's 4 x out_channels floats and the input's bf16 per input pixel.
        s.task_rows = rows;
        s.task_bytes_per_column = int64_t(rows / 2) * (16 * s.out_channels + 2 * s.in_channels) / 2;
        return;
    }
    if (by_channels(s, t, s.o_block == 0)) {  // o_block 0: the o-innermost layout
        // Like a channel-vectorised conv (weights are packed o-innermost); the pixel tile is
        // even so each unrolled pixel has a fixed tap parity (stride 2) and folds its weights.
        const int cv = channel_vectors(s, t);
        const int px = std::max(2, t.acc_regs / cv / 2 * 2);
        codegen::Dims d;
        schedule_channel_tiles(s, t, cv, px, 2 * rows_per_task(s, t))
            .reorder(d.c, d.x, s.r.z, s.r.x, s.r.y)
            .vectorize(d.c, t.vector)
            .unroll(d.c)
            .unroll(d.x)
            .unroll(s.r.x)
            .unroll(s.r.y);
        return;
    }
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
    s.round[0] = xt;
    s.round[1] = 1;
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
        case LayerOp::Head:
            schedule_cpu_conv(net.convs[li], tiles);
            if (net.convs[li].norm.defined())
                schedule_cpu_sample_norm(net.convs[li].norm, tiles, net.convs[li].channels_innermost);
            break;
        case LayerOp::ConvTranspose:
            schedule_cpu_conv_transpose(net.convs[li], tiles);
            if (net.convs[li].norm.defined())
                schedule_cpu_sample_norm(net.convs[li].norm, tiles, net.convs[li].channels_innermost);
            break;
        case LayerOp::Input:
        case LayerOp::MaxPool:
        case LayerOp::AvgPool:
        case LayerOp::Upsample:
        case LayerOp::Concat:
        case LayerOp::Add:
        case LayerOp::Multiply:  // not materialised (kLayerOps): inlined into the consumer's staged input
        case LayerOp::Count: break;
        }
    }
    schedule_cpu_output(net.output, net.softmax_max, net.softmax_sum, net.activate, tiles);
}

}  // namespace unetgen::schedules
