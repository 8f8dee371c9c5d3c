// gpu_schedule.cpp — apply_gpu_schedule(): a CUDA schedule for every op.
//
// Convs (and the head) follow the shape of Halide's apps/conv_layer CUDA schedule, adapted to
// planar (x innermost) activations:
//   * a thread block owns a tile of pixels x a few output channels; a thread owns one column of
//     `rows` pixels x `o_tile` output channels, accumulated in registers (the accum Func lives at
//     the block level in MemoryType::Register, its loops mapped onto the same threads);
//   * the reduction over input channels is split into chunks; for each chunk the block first
//     fills shared memory with the zero-padded input tile (halo included), computed right there
//     from the producers — so pooling, upsampling, concatenation and padding never make a pass of
//     their own over global memory — then every thread runs the (ky, kx) taps unrolled over it;
//   * bias, ReLU (BatchNorm already folded) and a post-ReLU affine are applied as the tile is
//     stored.
// Threads run along x, so global reads and writes are coalesced and every weight a warp reads is
// the same address (one broadcast load). Layers with many channels (the bottleneck end of the U,
// where maps are small) take smaller pixel tiles and fewer channels per thread, so they still
// launch enough blocks to fill the GPU. Transposed convs have the same register tiles and read
// their (small, cached) input directly. Tiles round the image up: every conv result is an
// intermediate, so the extra pixels fall into its rounded-up allocation, and reads past a
// tensor's edge are clamped by the zero-exterior wrappers of the algorithm.
#include "schedules/schedule.h"

namespace unetgen::schedules {

namespace {

using Halide::MemoryType;
using Halide::RVar;
using Halide::TailStrategy;
using Halide::Var;

constexpr int kWarp = 32;  // a thread block is one warp; its lanes run along x

// One conv's tile shape: a block computes kWarp columns x `rows` rows x `o_tile` channels.
struct GpuConvTiles {
    int rows = 4;       // pixel rows per lane
    int o_tile = 8;     // output channels per lane
    int in_chunk = 16;  // input channels staged in shared memory at once
};

// Largest power of two <= limit dividing n.
int pow2_divisor(int n, int limit) {
    int b = 1;
    while (b * 2 <= limit && n % (b * 2) == 0) b *= 2;
    return b;
}

// Largest divisor of n that is <= limit (so input-channel chunks need no tail).
int divisor_at_most(int n, int limit) {
    for (int d = std::min(n, limit); d > 1; --d)
        if (n % d == 0) return d;
    return 1;
}

GpuConvTiles tiles_for(const codegen::ConvStages &s) {
    GpuConvTiles t;
    if (s.in_channels >= 256) {
        // Deep layers: maps are 1/8 .. 1/16 of the input; half the channels per lane doubles
        // the blocks (the channel blocks are where a small map's parallelism is).
        t.o_tile = 4;
    }
    t.o_tile = pow2_divisor(s.out_channels, t.o_tile);
    // Shared memory per block: in_chunk x (kWarp + k - 1) x (rows + k - 1) floats, at most
    // 16 x 34 x 6 x 4 B = 13 KB for k = 3 (the 48 KB static limit holds up to k = 9).
    t.in_chunk = divisor_at_most(s.in_channels, 16);
    return t;
}

// The pipeline output: one thread per pixel, looping over the classes (32x4-pixel blocks).
void gpu_tile_pixels(Halide::Func &f, const Halide::Var &thread_x) {
    codegen::Dims d;
    Var xo("xo"), yo("yo"), yi("yi");
    f.compute_root()
        .split(d.x, xo, thread_x, 32, TailStrategy::GuardWithIf)
        .split(d.y, yo, yi, 4, TailStrategy::GuardWithIf)
        .reorder(d.c, thread_x, yi, xo, yo, d.n)
        .gpu_blocks(xo, yo, d.n)
        .gpu_threads(thread_x, yi);
}

}  // namespace

void schedule_gpu_conv(codegen::ConvStages &s) {
    codegen::Dims d;
    const GpuConvTiles t = tiles_for(s);
    Var xo("xo"), xi("xi"), yo("yo"), yi("yi"), co("co"), ci("ci"), block("block");
    s.result.bound(d.c, 0, s.out_channels);
    s.result.compute_root()
        .split(d.x, xo, xi, kWarp, TailStrategy::RoundUp)
        .split(d.y, yo, yi, t.rows, TailStrategy::RoundUp)
        .split(d.c, co, ci, t.o_tile)
        .reorder(xi, yi, ci, xo, yo, co, d.n)
        .fuse(co, d.n, block)
        .gpu_blocks(xo, yo, block)
        .gpu_lanes(xi)
        .unroll(yi)
        .unroll(ci);
    s.round[0] = kWarp;
    s.round[1] = t.rows;

    // The accumulators: computed per block (one warp), held in registers striped across the
    // lanes (lane = column), rows x o_tile of them per lane.
    s.accum.compute_at(s.result, xo)
        .store_in(MemoryType::Register)
        .gpu_lanes(d.x)
        .unroll(d.y)
        .unroll(d.c);
    RVar rzo("rzo"), rzi("rzi");
    Halide::Stage upd = s.accum.update();
    if (s.staged.defined()) {
        upd.split(s.r.z, rzo, rzi, t.in_chunk).reorder(d.x, d.c, d.y, s.r.x, s.r.y, rzi, rzo);
    } else {
        upd.reorder(d.x, d.c, d.y, s.r.x, s.r.y, s.r.z);
    }
    upd.gpu_lanes(d.x).unroll(d.c).unroll(d.y).unroll(s.r.x).unroll(s.r.y);

    if (s.staged.defined()) {
        // The input tile of one chunk of input channels (plus the kernel's halo), in shared
        // memory, filled by the warp's lanes along x before the chunk's taps run.
        Var sxo("sxo"), sxi("sxi");
        s.staged.compute_at(s.accum, rzo)
            .store_in(MemoryType::GPUShared)
            .split(d.x, sxo, sxi, kWarp, TailStrategy::GuardWithIf)
            .reorder(sxi, sxo, d.y, d.c, d.n)
            .gpu_lanes(sxi);
    }
}

void schedule_gpu_output(Halide::Func &output, Halide::Func &softmax_max, Halide::Func &softmax_sum,
                         const Halide::Expr &activate) {
    Var xi("xi");
    gpu_tile_pixels(output, xi);
    if (softmax_max.defined()) {
        // Once per pixel (thread), not once per class: the class loop is inside the thread.
        softmax_max.compute_at(output, xi);
        softmax_sum.compute_at(output, xi);
    }
    output.specialize(activate != 0);
}

void apply_gpu_schedule(codegen::LoweredNetwork &net) {
    for (size_t li = 0; li < net.ops.size(); ++li) {
        switch (net.ops[li]) {
        case LayerOp::Conv:
        case LayerOp::Head:
        case LayerOp::ConvTranspose:
            schedule_gpu_conv(net.convs[li]);
            if (net.convs[li].norm.defined()) schedule_gpu_sample_norm(net.convs[li].norm);
            break;
        case LayerOp::Input:
        case LayerOp::MaxPool:
        case LayerOp::AvgPool:
        case LayerOp::Upsample:
        case LayerOp::Concat:
        case LayerOp::Add:
        case LayerOp::Multiply:  // not materialised (kLayerOps): inlined into a conv's shared-memory input tile
        case LayerOp::Count: break;
        }
    }
    schedule_gpu_output(net.output, net.softmax_max, net.softmax_sum, net.activate);
}

}  // namespace unetgen::schedules
