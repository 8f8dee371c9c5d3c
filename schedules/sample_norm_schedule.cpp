// sample_norm_schedule.cpp — schedule_cpu_sample_norm() / schedule_gpu_sample_norm(): the
// statistics of an instance / group norm (codegen/lower_sample_norm.cpp).
//
// The norm adds one read of the conv's output, which is materialised anyway: column sums walk it
// row by row (contiguous vector loads, the W-wide accumulator row stays in L1), then a short
// reduction over columns and channels per group. The normalisation itself stays inline in the
// consumer's staged input, where BatchNorm's affine would sit.
#include "schedules/schedule.h"

#include <algorithm>

namespace unetgen::schedules {

using Halide::TailStrategy;
using Halide::Var;

void schedule_cpu_sample_norm(codegen::SampleNormStages &s, const CpuTiles &tiles, bool channels_innermost) {
    codegen::Dims d;
    Var xo("xo"), xi("xi"), task("task");
    const int lanes = std::max(1, tiles.vector);  // two float64 vectors per float32 vector read
    s.sums.compute_root();
    s.stats.compute_root();
    if (channels_innermost) {
        // The conv stores channels innermost: sum along them, a vector of channels per pixel, rows in
        // order; tasks are column blocks (each column's sums are its own).
        s.cols.compute_root().reorder_storage(d.c, d.x, d.n).vectorize(d.c, lanes, TailStrategy::GuardWithIf);
        s.cols.update()
            .split(d.x, xo, xi, 16, TailStrategy::GuardWithIf)
            .reorder(d.c, xi, s.ry, xo, d.n)
            .vectorize(d.c, lanes, TailStrategy::GuardWithIf)
            .parallel(xo);
        return;
    }
    s.cols.compute_root().fuse(d.c, d.n, task).parallel(task).vectorize(d.x, lanes, TailStrategy::GuardWithIf);
    s.cols.update()
        .split(d.x, xo, xi, lanes, TailStrategy::GuardWithIf)
        .reorder(xi, xo, s.ry, d.c, d.n)
        .vectorize(xi)
        .fuse(d.c, d.n, task)
        .parallel(task);
}

void schedule_gpu_sample_norm(codegen::SampleNormStages &s) {
    codegen::Dims d;
    Var xo("xo"), xi("xi"), co("co"), ci("ci");
    // One thread per column and channel, a warp along x so its loads coalesce.
    s.cols.compute_root().gpu_tile(d.x, d.c, xo, co, xi, ci, 32, 1, TailStrategy::GuardWithIf);
    s.cols.update().gpu_tile(d.x, d.c, xo, co, xi, ci, 32, 1, TailStrategy::GuardWithIf);
    // Per group (indexed by d.c): few threads, each summing its group's columns.
    for (Halide::Func *f : {&s.sums, &s.stats}) f->compute_root().gpu_tile(d.c, co, ci, 32, TailStrategy::GuardWithIf);
    s.sums.update().gpu_tile(d.c, co, ci, 32, TailStrategy::GuardWithIf);
}

}  // namespace unetgen::schedules
