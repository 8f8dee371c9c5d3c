// apply_schedule.cpp — apply_schedule(): pick the strategy for a target and the weight layout.
//
// CPU tile sizes follow the register file: AVX-512 has 32 vector registers (8 channels x 2 rows
// = 16 accumulators; 8 x 3 spills once LLVM hoists the kx taps' loads), AVX2 / SSE4.1 have 16
// (4 x 3 = 12 accumulators plus loads). Measured with tests/codegen/bench_conv.
#include "schedules/schedule.h"

namespace unetgen::schedules {

CpuTiles cpu_tiles_for(const Halide::Target &target) {
    CpuTiles t;
    t.vector = std::max(1, target.natural_vector_size(Halide::Float(32)));
    if (target.arch == Halide::Target::X86 && target.has_feature(Halide::Target::AVX512)) {
        t.o_tile = 8;
        t.y_tile = 2;
        t.acc_regs = 16;  // measured: 16 beats 24 (fewer RoundUp pixels, no spills)
    } else {
        t.o_tile = 4;
        t.y_tile = 3;
        t.acc_regs = 12;
        t.max_c_vectors = 2;  // measured (bench_conv, AVX2 on Zen 4): 2 x 6 runs at ~95 GFLOP/s a core, 4 x 3 at ~46
    }
    return t;
}

codegen::PackingPolicy packing_policy_for(const std::vector<Halide::Target> &targets) {
    codegen::PackingPolicy p;
    if (!targets.empty() && targets.front().has_gpu_feature()) {
        p.conv_o_block = 0;  // a GPU thread owns one output value: plain oihw
    } else {
        // Channel-vectorised convs: 16 output channels (one AVX-512 vector, two AVX2 vectors)
        // contiguous per (h, w, i), i next so the reduction's inner loop walks memory in order.
        p.conv_o_block = 16;
        p.conv_layout = "ohwi";
        // Transposed convs too: with o innermost over all channels, consecutive input channels
        // are 4 * out_channels floats apart and every reduction step touched a new page.
        p.transpose_o_block = 16;
        p.transpose_layout = "ohwi";
        // 3x3 convs as Winograd F(2x2, 3x3) (`unetgen build --no-winograd` and friends adjust
        // this: BuildSwitches); the GPU schedule computes every conv directly.
        p.winograd = true;
    }
    return p;
}

codegen::LoweringChoices lowering_choices_for(const Halide::Target &target) {
    codegen::LoweringChoices c;
    // Phase form on CPU: vectors of pixels or channels of one phase read dense rows and fixed
    // taps (measured, Intel Xeon: MONAI's UNet 1x256x256, whose four k3 s2 ConvTransposes took
    // 14 of 25 ms in the gather form, 23.4 -> 9.8 ms; with its reduction blocked for L1 the
    // k2 s2 ones of UNet001 transposed too, 226 -> 214 ms). The GPU schedule keeps one thread
    // per output value.
    c.transpose_phases = !target.has_gpu_feature();
    return c;
}

void apply_schedule(codegen::LoweredNetwork &net, const Halide::Target &target) {
    if (target.has_gpu_feature()) {
        apply_gpu_schedule(net);
    } else {
        apply_cpu_schedule(net, cpu_tiles_for(target));
    }
}

}  // namespace unetgen::schedules
