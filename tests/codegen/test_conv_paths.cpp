// test_conv_paths.cpp — the conv paths a CPU build really takes, op by op, against the naive
// references: Winograd F(2x2, 3x3) 3x3 convs, direct convs and k2s2 transposed convs, with the
// packing the CPU policy chooses ('ohwi', o_block 16 where it divides) and the CPU schedules.
//
// test_ops.cpp covers the lowering's index math over many layouts; this file instead takes the
// layout, offsets and o_block from the project's own planner (plan_weights with
// packing_policy_for the host), so a change to the production policy is tested as shipped.
// Every element's packed index is cross-checked against an explicit 'ohwi' formula written here.
#include "codegen/lowering.h"
#include "common/winograd.h"
#include "reference_ops.h"
#include "op_harness.h"
#include "schedules/schedule.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <sstream>

using namespace unetgen;
using codegen::LayerPacking;
using reference::Tensor4;
using namespace unetgen::op_harness;

namespace {

Halide::Target host() { return Halide::get_host_target(); }

// The schedules under test: none, the host's tiles (AVX-512 on the dev and bench machines),
// and the other x86 family's tiles (the real target's tiles are chosen by ISA, not by host).
struct Mode {
    std::string name;
    bool scheduled;
    schedules::CpuTiles tiles;
};

std::vector<Mode> modes() {
    const Halide::Target avx512("x86-64-linux-avx-avx2-fma-avx512-avx512_skylake"), avx2("x86-64-linux-avx-avx2-fma");
    return {{"unscheduled", false, {}},
            {"avx512 tiles", true, schedules::cpu_tiles_for(avx512)},
            {"avx2 tiles", true, schedules::cpu_tiles_for(avx2)}};
}

// A one-layer network (input -> conv or transposed conv) planned by the project's planner with
// the host CPU's packing policy: the LayerPacking a real build of such a layer gets.
// winograd false: as `unetgen build --no-winograd` plans it.
// u_at_load: as `--winograd-weights-at-load` packs Winograd convs.
LayerPacking production_packing(bool transpose, int in_c, int out_c, int k, bool bn_after_relu, bool winograd = true,
                                bool u_at_load = false) {
    Network net;
    Layer input;
    input.name = "input";
    input.op = LayerOp::Input;
    input.out_channels = in_c;
    Layer conv;
    conv.name = transpose ? "up0" : "enc0.conv0";
    conv.op = transpose ? LayerOp::ConvTranspose : LayerOp::Conv;
    conv.inputs = {0};
    conv.in_channels = in_c;
    conv.out_channels = out_c;
    conv.kernel = k;
    conv.stride = transpose ? 2 : 1;
    conv.bias = true;
    conv.conv_module = conv.name;
    if (bn_after_relu) {
        conv.norm = NormKind::BatchNorm;
        conv.norm_order = NormOrder::ConvReluNorm;
        conv.bn_module = "enc0.bn0";
    }
    net.layers = {input, conv};
    codegen::PackingPolicy policy = schedules::packing_policy_for({host()});
    policy.winograd = policy.winograd && winograd;
    policy.winograd_weights_at_load = u_at_load;
    codegen::WeightPlan plan = codegen::plan_weights(net, policy);
    REQUIRE(plan.layers.size() == 1);
    return plan.layers[0];
}

// The 'ohwi' rule with o blocked, spelled out: [o / ob][h][w][i][o % ob] (no block: [o][h][w][i]).
int64_t ohwi_index(const LayerPacking &p, int o, int i, int h, int w) {
    const int ob = p.o_block, K = p.kernel, I = p.in_channels;
    if (ob == 0) return ((int64_t(o) * K + h) * K + w) * I + i;
    return (((int64_t(o / ob) * K + h) * K + w) * I + i) * ob + o % ob;
}

// Fills the packed buffer (sized by the plan) from PyTorch-shaped tensors; every slot the plan
// does not assign holds a huge sentinel, so a read from a wrong slot shows as a mismatch. A
// Winograd packing gets U = G g G^T (common/winograd.h, as the runtime packs it).
Halide::Buffer<float> pack(const LayerPacking &p, int64_t packed_floats, const std::vector<float> &weight,
                           const std::vector<float> &bias, const std::vector<float> &scale,
                           const std::vector<float> &shift) {
    REQUIRE(p.layout == "ohwi");
    Halide::Buffer<float> b{int(packed_floats + 16)};
    b.fill(1e9f);
    const int O = p.out_channels, I = p.in_channels, K = p.kernel;
    if (p.winograd_u) {
        const WinogradMatrices wm = winograd_matrices(p.winograd);
        REQUIRE(wm.n == p.winograd + 2);
        for (int o = 0; o < O; ++o)
            for (int i = 0; i < I; ++i) {
                double g[9], u[36];
                for (int k = 0; k < 9; ++k) g[k] = weight[(size_t(o) * I + i) * 9 + size_t(k)];
                winograd_transform_kernel(wm, g, u);
                for (int t = 0; t < wm.n * wm.n; ++t)
                    b(int(p.weight_offset + winograd_packed_index<int64_t>(O, I, o, i, t))) = float(u[t]);
            }
    }
    for (int o = 0; o < O && !p.winograd_u; ++o)
        for (int i = 0; i < I; ++i)
            for (int h = 0; h < K; ++h)
                for (int w = 0; w < K; ++w) {
                    size_t src = p.transpose ? ((size_t(i) * O + o) * K + h) * K + w : ((size_t(o) * I + i) * K + h) * K + w;
                    int64_t idx = codegen::packed_index_value(p, o, i, h, w);
                    REQUIRE(idx == ohwi_index(p, o, i, h, w));
                    b(int(p.weight_offset + idx)) = weight[src];
                }
    for (int o = 0; o < O; ++o) b(int(p.bias_offset + o)) = bias[o];
    if (!scale.empty()) {
        REQUIRE(p.scale_offset >= 0);
        for (int o = 0; o < O; ++o) b(int(p.scale_offset + o)) = scale[o];
        for (int o = 0; o < O; ++o) b(int(p.shift_offset + o)) = shift[o];
    }
    return b;
}

// packed_floats of a plan holding only `p` (offsets are aligned, so the end of its last block).
int64_t packed_end(const LayerPacking &p) {
    int64_t end = p.weight_offset + (p.winograd_u ? winograd_weight_floats(p.winograd, p.out_channels, p.in_channels)
                                                : int64_t(p.out_channels) * p.in_channels * p.kernel * p.kernel);
    end = std::max(end, p.bias_offset + p.out_channels);
    if (p.shift_offset >= 0) end = std::max(end, p.shift_offset + p.out_channels);
    return end;
}

struct ConvCase {
    int n, cin, cout, h, w, k, pad;
    bool relu, affine, stage_input;
    int want_o_block;  // what the production policy must choose for these channels
    float relu_slope = 0;  // LeakyReLU (`block act = leaky_relu`) when nonzero
};

// WinogradAtLoad: U packed by the runtime's rule (`--winograd-weights-at-load`), not transformed per call.
enum class Path { Direct, Winograd, WinogradAtLoad };

void check_conv(const ConvCase &cc, Path path, uint32_t seed) {
    Tensor4 in = random_tensor(cc.n, cc.cin, cc.h, cc.w, seed);
    std::vector<float> weight = random_vec(size_t(cc.cout) * cc.cin * cc.k * cc.k, seed + 1);
    std::vector<float> bias = random_vec(cc.cout, seed + 2);
    std::vector<float> scale, shift;
    if (cc.affine) {
        scale = random_vec(cc.cout, seed + 3, 0.5f, 2.0f);
        shift = random_vec(cc.cout, seed + 4);
    }
    Tensor4 want = reference::conv2d(in, weight, bias, cc.cout, cc.k, cc.pad, cc.relu, scale, shift, cc.relu_slope);
    const bool winograd = path != Path::Direct;
    LayerPacking p = production_packing(false, cc.cin, cc.cout, cc.k, cc.affine, winograd, path == Path::WinogradAtLoad);
    REQUIRE(p.o_block == cc.want_o_block);
    // The production choice: a CPU build plans these convs as Winograd F(2x2, 3x3), the rest directly.
    REQUIRE(p.winograd == (winograd ? 2 : 0));
    REQUIRE(p.winograd_u == (path == Path::WinogradAtLoad));
    Halide::ImageParam weights(Halide::Float(32), 1, "weights");
    weights.set(pack(p, packed_end(p), weight, bias, scale, shift));
    Halide::Buffer<float> inbuf = to_buffer(in);

    codegen::ConvOp op;
    op.name = "conv";
    op.kernel = cc.k;
    op.pad = cc.pad;
    op.relu = cc.relu;
    op.relu_slope = cc.relu_slope;
    op.post_affine = cc.affine;
    op.stage_input = cc.stage_input;
    for (const Mode &m : modes()) {
        codegen::ConvStages s = winograd ? codegen::lower_conv_winograd(tensor_of(inbuf), op, p, weights)
                                         : codegen::lower_conv(tensor_of(inbuf), op, p, weights);
        REQUIRE(s.winograd.enabled == winograd);
        REQUIRE(s.winograd.weights_t.defined() == (path == Path::Winograd));
        if (m.scheduled) schedules::schedule_cpu_conv(s, m.tiles);
        std::ostringstream what;
        what << (path == Path::Winograd ? "winograd F(2x2,3x3)" : path == Path::WinogradAtLoad ? "winograd F(2x2,3x3), U at load" : "direct") << " conv k" << cc.k << " pad " << cc.pad
             << " " << cc.cin << "->" << cc.cout << " " << cc.w << "x" << cc.h << " n" << cc.n << " relu " << cc.relu << " slope " << cc.relu_slope
             << " affine " << cc.affine << " staged " << cc.stage_input << " ohwi/" << p.o_block << ", " << m.name;
        require_close(realize(s.result, want.n, want.c, want.h, want.w), want, what.str());
    }
}

}  // namespace

// (a) 3x3 same convs with whole 16-channel blocks: what a CPU build lowers as Winograd.
// Tolerance stays 1e-5: F(2x2, 3x3)'s transforms have coefficients 0, +-1 and +-1/2 only (exact
// in float32), so its rounding is a few more adds per term than the direct sum.
TEST_CASE("Winograd 3x3 convs with the production packing and CPU schedule match the reference",
          "[codegen][conv][winograd]") {
    const ConvCase cases[] = {
        {1, 16, 16, 9, 13, 3, 1, true, false, true, 16},   // odd sizes, bias + ReLU
        {1, 32, 16, 16, 16, 3, 1, true, true, true, 16},   // even, BN after ReLU (scale/shift)
        {2, 16, 32, 9, 13, 3, 1, true, true, true, 16},    // odd, batch 2, BN after ReLU
        {1, 32, 32, 16, 16, 3, 1, false, false, true, 16}, // even, bias only (no ReLU clamps errors)
        {1, 16, 16, 9, 13, 3, 1, true, false, true, 16, 0.01f},  // LeakyReLU(0.01) (nnU-Net)
        {2, 16, 32, 9, 13, 3, 1, true, true, true, 16, 0.1f},    // LeakyReLU(0.1), then BN (scale/shift)
    };
    uint32_t seed = 1000;
    for (const ConvCase &cc : cases) {
        check_conv(cc, Path::Winograd, seed += 10);
        check_conv(cc, Path::WinogradAtLoad, seed);
    }
}

// (b) Direct convs as a CPU build has them: 'ohwi' o_block 16 (8 for 24 channels), channel- or
// pixel-vectorised by the schedule depending on whether o_block holds whole vectors. A CPU build
// takes this path for 1x1 convs, channels not in whole 16-blocks, layers over
// winograd_max_pairs, and every 3x3 conv of `unetgen build --no-winograd` (the 16 -> 32 case).
TEST_CASE("direct convs with the production packing and CPU schedule match the reference",
          "[codegen][conv][direct]") {
    const ConvCase cases[] = {
        {1, 3, 16, 13, 9, 3, 1, true, false, true, 16},     // first layer: 3 input channels
        {1, 24, 32, 9, 13, 3, 1, true, true, true, 16},     // 24 inputs: not Winograd, BN after ReLU
        {1, 16, 24, 16, 16, 3, 1, true, false, true, 8},    // 24 outputs: o_block 8
        {1, 32, 16, 11, 7, 1, 0, false, false, false, 16},  // 1x1 reading its producer directly
        {2, 16, 32, 7, 10, 3, 0, true, false, false, 16},   // valid 3x3, batch 2, unstaged
        {1, 24, 32, 9, 13, 3, 1, true, false, true, 16, 0.1f},  // LeakyReLU(0.1) (MONAI BasicUNet)
    };
    uint32_t seed = 2000;
    for (const ConvCase &cc : cases) check_conv(cc, Path::Direct, seed += 10);
}

namespace {

// Both forms of lower_conv_transpose: the gather form (GPU) and the phase form (CPU, what
// schedules::lowering_choices_for picks there).
void check_conv_transpose(int n, int cin, int cout, int h, int w, int want_o_block, uint32_t seed, int k = 2,
                          int stride = 2, int pad = 0, int op_pad = 0) {
    Tensor4 in = random_tensor(n, cin, h, w, seed);
    std::vector<float> weight = random_vec(size_t(cout) * cin * k * k, seed + 1);
    std::vector<float> bias = random_vec(cout, seed + 2);
    Tensor4 want = reference::conv_transpose2d(in, weight, bias, cout, k, stride, pad, op_pad);
    LayerPacking p = production_packing(true, cin, cout, k, false);
    REQUIRE(p.transpose);
    REQUIRE(p.o_block == want_o_block);
    Halide::ImageParam weights(Halide::Float(32), 1, "weights");
    weights.set(pack(p, packed_end(p), weight, bias, {}, {}));
    Halide::Buffer<float> inbuf = to_buffer(in);
    for (bool phases : {false, true}) {
        for (const Mode &m : modes()) {
            codegen::ConvStages s = codegen::lower_conv_transpose(
                tensor_of(inbuf), conv_transpose_op(k, stride, pad, op_pad, phases), p, weights);
            REQUIRE((s.phase_stride > 0) == phases);
            if (m.scheduled) schedules::schedule_cpu_conv_transpose(s, m.tiles);
            std::ostringstream what;
            what << "conv_transpose k" << k << " s" << stride << " p" << pad << " op" << op_pad << " " << cin << "->"
                 << cout << " " << w << "x" << h << " n" << n << " ohwi/" << p.o_block << (phases ? " phases" : " gather")
                 << ", " << m.name;
            require_close(realize(s.result, want.n, want.c, want.h, want.w), want, what.str());
        }
    }
}

}  // namespace

// (c) k2 s2 up-convs with the production 'ohwi' o_block 16 packing.
TEST_CASE("transposed k2s2 convs with the production packing and CPU schedule match the reference",
          "[codegen][conv_transpose]") {
    check_conv_transpose(1, 32, 16, 5, 7, 16, 3000);  // odd sizes
    check_conv_transpose(2, 16, 32, 4, 4, 16, 3010);  // even, batch 2, two o-blocks
    check_conv_transpose(1, 48, 24, 3, 5, 8, 3020);   // 24 outputs: o_block 8
    check_conv_transpose(1, 192, 16, 3, 5, 16, 3030); // phase form: input channels in 3 blocks
}

// (d) MONAI's ConvTranspose(k3, s2, p1, op1): many outputs (vectors of channels), the classes
// (vectors of pixels), odd sizes and batch 2; and a k4 s2 p1 and a k3 s3 for the phase algebra.
TEST_CASE("transposed k3s2 convs (MONAI's UNet) in both forms match the reference", "[codegen][conv_transpose]") {
    check_conv_transpose(1, 48, 32, 5, 7, 16, 3100, 3, 2, 1, 1);  // two o-blocks
    check_conv_transpose(2, 32, 16, 4, 3, 16, 3110, 3, 2, 1, 1);  // batch 2
    check_conv_transpose(1, 32, 2, 9, 6, 2, 3120, 3, 2, 1, 1);    // the 2-class top layer
    check_conv_transpose(1, 16, 3, 3, 5, 0, 3130, 4, 2, 1, 0);    // k4 s2 p1
    check_conv_transpose(1, 16, 16, 4, 5, 16, 3140, 3, 3, 0, 2);  // k3 s3, output_padding 2
    check_conv_transpose(1, 128, 16, 3, 4, 16, 3150, 3, 2, 1, 1); // input channels in 2 blocks
}
