// bench_conv.cpp — GFLOP/s of the CPU schedule on one conv layer (not a test; run by hand):
//     bench_conv [C_in C_out H W [runs]]
// Environment: BENCH_AUTO (Adams2019 autoscheduler instead of ours), BENCH_TARGET (Halide target, default host), BENCH_ACC / BENCH_CV / BENCH_WBLOCK /
// BENCH_CPR / BENCH_PADB (CpuTiles fields), BENCH_PROFILE, BENCH_ASM (writes /tmp/bench_conv.s).
// Prints wall-clock GFLOP/s and GFLOP/s per CPU-second (useful on a shared machine).
#include "codegen/lowering.h"
#include "schedules/schedule.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>

using namespace unetgen;

int main(int argc, char **argv) {
    int cin = argc > 4 ? std::atoi(argv[1]) : 128, cout = argc > 4 ? std::atoi(argv[2]) : 128;
    int h = argc > 4 ? std::atoi(argv[3]) : 128, w = argc > 4 ? std::atoi(argv[4]) : 128;
    int runs = argc > 5 ? std::atoi(argv[5]) : 10;
    Halide::Target target = std::getenv("BENCH_TARGET") ? Halide::Target(std::getenv("BENCH_TARGET")) : Halide::get_host_target();
    if (std::getenv("BENCH_PROFILE")) target = target.with_feature(Halide::Target::Profile);
    schedules::CpuTiles tiles = schedules::cpu_tiles_for(target);
    if (const char *o = std::getenv("BENCH_O_TILE")) tiles.o_tile = std::atoi(o);
    if (const char *y = std::getenv("BENCH_Y_TILE")) tiles.y_tile = std::atoi(y);
    if (const char *a = std::getenv("BENCH_ACC")) tiles.acc_regs = std::atoi(a);
    if (const char *c = std::getenv("BENCH_CV")) tiles.max_c_vectors = std::atoi(c);
    if (const char *b = std::getenv("BENCH_WBLOCK")) tiles.weight_block_bytes = std::atoi(b);
    if (const char *r = std::getenv("BENCH_CPR")) tiles.channels_per_task_row = std::atoi(r);
    const codegen::PackingPolicy policy = schedules::packing_policy_for({target});
    codegen::LayerPacking p;
    p.out_channels = cout;
    p.in_channels = cin;
    p.kernel = 3;
    p.o_block = cout % policy.conv_o_block == 0 ? policy.conv_o_block : 0;
    p.layout = policy.conv_layout;
    p.weight_offset = 0;
    p.bias_offset = int64_t(cout) * cin * 9;
    Halide::Buffer<float> wbuf{int(p.bias_offset + cout)}, in(w, h, cin, 1);
    wbuf.fill(0.01f);
    in.fill(1.0f);
    // The layer's input as the network stores it: channels innermost (BENCH_PLANAR: planar).
    const int pad_c = std::getenv("BENCH_PADC") ? std::atoi(std::getenv("BENCH_PADC")) : 0;
    if (!std::getenv("BENCH_PLANAR"))
        in = Halide::Buffer<float>::make_interleaved(w, h, cin + pad_c).embedded(3, 0);
    if (const char *pb = std::getenv("BENCH_PADB")) tiles.pad_channel_bytes = std::atoi(pb);
    in.fill(1.0f);
    Halide::ImageParam weights(Halide::Float(32), 1, "weights");
    weights.set(wbuf);
    codegen::Dims d;
    Halide::Func src("src");
    src(d.x, d.y, d.c, d.n) = in(Halide::clamp(d.x, 0, w - 1), Halide::clamp(d.y, 0, h - 1), d.c, d.n);
    codegen::ConvOp op;
    op.name = "conv";
    op.kernel = 3;
    op.pad = 1;
    op.relu = true;
    codegen::ConvStages s = codegen::lower_conv(codegen::Tensor{src, cin, w, h}, op, p, weights);
    Halide::Func out("out");
    out(d.x, d.y, d.c, d.n) = s.result(d.x, d.y, d.c, d.n);
    Halide::Pipeline pipeline(out);
    if (std::getenv("BENCH_AUTO")) {
        // Halide 14's Adams2019 autoscheduler on the same algorithm, for comparison.
        Halide::load_plugin("/usr/lib/x86_64-linux-gnu/halide14/libautoschedule_adams2019.so");
        out.set_estimates({{0, w}, {0, h}, {0, cout}, {0, 1}});
        weights.set_estimates({{0, int(p.bias_offset + cout)}});
        pipeline.auto_schedule("Adams2019", target, Halide::MachineParams(2, 32 << 20, 40));
    } else {
        schedules::schedule_cpu_conv(s, tiles);
    }
    if (std::getenv("BENCH_ASM")) {
        pipeline.compile_to_assembly("/tmp/bench_conv.s", {weights}, "bench", target);
        pipeline.compile_to_lowered_stmt("/tmp/bench_conv.stmt", {weights}, Halide::Text, target);
    }
    pipeline.compile_jit(target);
    Halide::Buffer<float> result(w, h, cout, 1);
    pipeline.realize(result);
    double best = 1e30;
    std::clock_t c0 = std::clock();
    auto t0 = std::chrono::steady_clock::now();
    for (int r = 0; r < runs; ++r) {
        auto a = std::chrono::steady_clock::now();
        pipeline.realize(result);
        best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count());
    }
    double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double cpu = double(std::clock() - c0) / CLOCKS_PER_SEC;
    double flops = 2.0 * cin * cout * 9 * double(h) * w;
    std::printf("conv3x3 %d->%d %dx%d, tiles v%d acc%d cv%d: best %.2f ms = %.1f GFLOP/s wall; %.1f GFLOP/s per CPU-second\n",
                cin, cout, w, h, tiles.vector, tiles.acc_regs, tiles.max_c_vectors, best * 1e3, flops / best * 1e-9,
                flops * runs / cpu * 1e-9);
    (void)wall;
    return 0;
}
