// cpu_winograd.cpp — schedule_cpu_conv_winograd(): the CPU schedule of a Winograd F(2x2, 3x3) conv.
//
// Work per call: the weight transform U unless it was packed at load (root, vectorised over
// output channels, a few ms for the largest layers), then per task (a block of tile rows): the
// input transform V of those rows
// (vectorised over input channels, the t unrolled so the tile loads are shared; it stays in
// cache, where a root V of a 512-channel layer cost 9 ms of memory traffic), the GEMMs
// M_t = U_t V_t with the same register tile as a direct conv (c_vectors vectors of output
// channels x px tiles, accumulators in registers, input channels innermost), and the output
// transform with bias / ReLU / affine, stored channels-innermost like every other conv.
// Tasks are tile-row blocks only (enough for a few cores; every level of a U-Net has >= 8).
#include "schedules/schedule.h"

#include <algorithm>

namespace unetgen::schedules {

using Halide::TailStrategy;
using Halide::Var;

void schedule_cpu_conv_winograd(codegen::ConvStages &s, const CpuTiles &t) {
    codegen::Dims d;
    codegen::WinogradStages &w = s.winograd;
    const int V = t.vector;
    // Tile rows per task: more for deep layers (narrow images), so a task's GEMMs reuse U_t.
    const int rows = std::clamp(s.in_channels / 128, 1, 8);
    int cv = 1;
    for (int c = 2; c <= t.max_c_vectors; c *= 2)
        if (s.out_channels % (c * V) == 0) cv = c;
    const int px = std::max(1, t.acc_regs / cv);
    auto padded = [&](int channels) { return stored_channels(channels, t); };

    Var tx("tx"), xf("xf"), ty("ty"), yf("yf"), tyi("tyi"), co("co"), ci("ci"), task("task");
    s.channels_innermost = true;
    s.result.bound(d.c, 0, s.out_channels)
        .reorder_storage(d.c, d.x, d.y, d.n)
        .bound_storage(d.c, padded(s.out_channels))
        .compute_root()
        .split(d.x, tx, xf, w.m, TailStrategy::RoundUp)
        .split(d.y, ty, yf, w.m, TailStrategy::RoundUp)
        .split(ty, task, tyi, rows, TailStrategy::GuardWithIf)
        .split(d.c, co, ci, V)
        .reorder(ci, xf, yf, co, tx, tyi, task, d.n)
        .vectorize(ci)
        .unroll(xf)
        .unroll(yf)
        .parallel(task);

    if (w.gemm.is_extern()) {
        // `--precision bf16`: the GEMMs of the task's rows in one call (runtime/unetgen_bf16_gemm.h).
        w.gemm.compute_at(s.result, task);
    } else {
        Var gxo("gxo"), gxi("gxi"), gco("gco"), gci("gci");
        w.gemm.compute_at(s.result, task)
            .split(d.c, gco, gci, cv * V)
            .split(d.x, gxo, gxi, px, TailStrategy::RoundUp)
            // Tile rows inside the output-channel block: a block of U_t (in_channels x cv vectors,
            // 256 KiB at 1024 inputs) stays in L2 over every tile of the task; with rows outside
            // it the whole U (32 MiB for 1024 -> 512) streamed from memory once per tile row
            // (measured, Intel Xeon, UNet001 transposed dec3_conv0: 24 -> 14 ms; the net 255 -> 235 ms).
            .reorder(gci, gxi, gxo, d.y, gco, w.t, d.n)
            .vectorize(gci, V)
            .unroll(gci)
            .unroll(gxi);
        w.gemm_acc.compute_at(w.gemm, gxo).vectorize(d.c, V).unroll(d.c).unroll(d.x);
        w.gemm_acc.update().reorder(d.c, d.x, s.r.x).vectorize(d.c, V).unroll(d.c).unroll(d.x);
    }

    Var vco("vco"), vci("vci");
    // The t and channel bounds stated: an extern GEMM's bounds query does not give Halide constant ones.
    w.input_t.bound(w.t, 0, (w.m + 2) * (w.m + 2))
        .bound(d.c, 0, s.in_channels)
        .bound_storage(d.c, padded(s.in_channels))
        .split(d.c, vco, vci, V)
        .reorder(vci, w.t, vco, d.x, d.y, d.n)
        .vectorize(vci)
        .unroll(w.t)
        .compute_at(s.result, task);

    // A zero-padded copy of a materialised input is left inline: V reads the producer itself
    // (the padding is a select on the tile's position, uniform over a vector of channels), so
    // the input is not written to memory and read back once more. Measured per layer on the
    // Intel Xeon (bf16, UNet001 transposed 3x256x256): 0.1-0.6 ms saved on each conv1 layer. A
    // copy with a pool, upsample, concat or norm inlined into it stays a buffer: reading those
    // in V (each input pixel in 4 tiles) cost up to 2.4x (dec0_conv0's concat 13.6 -> 32.9 ms),
    // and computing it per task instead (halo rows recomputed) cost 5-60% more.
    s.staged_inline = s.staged.defined() && s.staged_pad_only && s.in_channels % V == 0;

    if (w.weights_t.defined()) {  // U transformed per call (not packed at load)
        Var uco("uco"), uci("uci");
        w.weights_t.compute_root()
            .bound(d.c, 0, 16)
            .split(d.c, uco, uci, V)
            .reorder(uci, w.t, uco, w.i, w.ob)
            .vectorize(uci)
            .unroll(w.t)
            .parallel(w.ob);
    }
    // The result rounds to whole tiles (of the whole image's grid, see tile_geometry.h). The
    // GEMM's px-tile rounding stays inside the task (measured with trace_realizations: the
    // staged input is not widened by it).
    s.round[0] = s.round[1] = w.m;
    // Per task: V and M of `rows` tile rows, (m + 2)^2 values per tile and channel.
    s.task_rows = rows * w.m;
    s.task_bytes_per_column = int64_t(rows) * (w.m + 2) * (w.m + 2) * (padded(s.in_channels) + s.out_channels) * 4 / w.m;
}

}  // namespace unetgen::schedules
