// test_ops.cpp — every lowering function alone, against the naive references, with and without
// the CPU schedules (AVX-512 and AVX2 tile shapes), at odd and even sizes.
//
// Weights go through a packed buffer laid out by this file's own packer (written from the
// manifest's documented layout rule), so the lowering's index math is checked too.
#include "codegen/lowering.h"
#include "reference_ops.h"
#include "op_harness.h"
#include "schedules/schedule.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <random>
#include <sstream>

using namespace unetgen;
using codegen::LayerPacking;
using reference::Tensor4;
using namespace unetgen::op_harness;

namespace {

// Each check runs unscheduled and with one of the two CPU tile shapes, alternating between
// checks (JIT compiles dominate the test's time); the tiles are those the real targets get.
enum class Mode { Plain, Tiles512, Tiles256 };

std::vector<Mode> next_modes() {
    static int turn = 0;
    return {Mode::Plain, (turn++ % 2) ? Mode::Tiles256 : Mode::Tiles512};
}

schedules::CpuTiles tiles_of(Mode m) {
    return schedules::cpu_tiles_for(Halide::Target(m == Mode::Tiles512 ? "x86-64-linux-avx-avx2-fma-avx512-avx512_skylake"
                                                                       : "x86-64-linux-avx-avx2-fma"));
}
const char *mode_name(Mode m) { return m == Mode::Plain ? "unscheduled" : m == Mode::Tiles512 ? "avx512 tiles" : "avx2 tiles"; }

// The manifest's rule, read independently: dims in layout order, o split into an outer part at
// the front and an inner part last when o_block > 0, row-major.
int64_t doc_packed_index(const LayerPacking &p, int o, int i, int h, int w) {
    std::vector<std::pair<int, int>> dims;
    int ob = p.o_block;
    if (ob) dims.push_back({p.out_channels / ob, o / ob});
    for (char l : p.layout) {
        if (l == 'o' && !ob) dims.push_back({p.out_channels, o});
        if (l == 'i') dims.push_back({p.in_channels, i});
        if (l == 'h') dims.push_back({p.kernel, h});
        if (l == 'w') dims.push_back({p.kernel, w});
    }
    if (ob) dims.push_back({ob, o % ob});
    int64_t idx = 0;
    for (auto &d : dims) idx = idx * d.first + d.second;
    return idx;
}

// Packs PyTorch-shaped weight ([o,i,k,k], or [i,o,k,k] when transposed), bias, scale, shift into
// a buffer whose gaps hold a huge sentinel, so reading a wrong slot shows up as a mismatch.
Halide::Buffer<float> pack(const LayerPacking &p, const std::vector<float> &weight, const std::vector<float> &bias,
                           const std::vector<float> &scale, const std::vector<float> &shift) {
    int64_t total = std::max({p.weight_offset + int64_t(weight.size()), p.bias_offset + int64_t(bias.size()),
                              p.shift_offset + int64_t(shift.size())}) + 7;
    Halide::Buffer<float> b{int(total)};
    b.fill(1e9f);
    const int O = p.out_channels, I = p.in_channels, K = p.kernel;
    for (int o = 0; o < O; ++o)
        for (int i = 0; i < I; ++i)
            for (int h = 0; h < K; ++h)
                for (int w = 0; w < K; ++w) {
                    size_t src = p.transpose ? ((size_t(i) * O + o) * K + h) * K + w : ((size_t(o) * I + i) * K + h) * K + w;
                    int64_t idx = doc_packed_index(p, o, i, h, w);
                    REQUIRE(idx == codegen::packed_index_value(p, o, i, h, w));
                    b(int(p.weight_offset + idx)) = weight[src];
                }
    for (int o = 0; o < O; ++o) b(int(p.bias_offset + o)) = bias[o];
    for (size_t o = 0; o < scale.size(); ++o) b(int(p.scale_offset + o)) = scale[o];
    for (size_t o = 0; o < shift.size(); ++o) b(int(p.shift_offset + o)) = shift[o];
    return b;
}

LayerPacking make_packing(bool transpose, int out_c, int in_c, int k, const std::string &layout, int o_block, bool affine) {
    LayerPacking p;
    p.transpose = transpose;
    p.out_channels = out_c;
    p.in_channels = in_c;
    p.kernel = k;
    p.layout = layout;
    p.o_block = o_block;
    p.weight_offset = 3;  // deliberately unaligned
    p.bias_offset = p.weight_offset + int64_t(out_c) * in_c * k * k + 2;
    if (affine) {
        p.scale_offset = p.bias_offset + out_c + 1;
        p.shift_offset = p.scale_offset + out_c;
    }
    return p;
}

struct ConvCase {
    int n, cin, cout, h, w, k, pad;
    bool relu, affine;
    std::string layout;
    int o_block;
};

void check_conv(const ConvCase &cc, uint32_t seed) {
    Tensor4 in = random_tensor(cc.n, cc.cin, cc.h, cc.w, seed);
    std::vector<float> weight = random_vec(size_t(cc.cout) * cc.cin * cc.k * cc.k, seed + 1);
    std::vector<float> bias = random_vec(cc.cout, seed + 2);
    std::vector<float> scale, shift;
    if (cc.affine) {
        scale = random_vec(cc.cout, seed + 3, 0.5f, 2.0f);
        shift = random_vec(cc.cout, seed + 4);
    }
    Tensor4 want = reference::conv2d(in, weight, bias, cc.cout, cc.k, cc.pad, cc.relu, scale, shift);
    LayerPacking p = make_packing(false, cc.cout, cc.cin, cc.k, cc.layout, cc.o_block, cc.affine);
    Halide::ImageParam weights(Halide::Float(32), 1, "weights");
    weights.set(pack(p, weight, bias, scale, shift));
    Halide::Buffer<float> inbuf = to_buffer(in);
    for (bool staged : {true, false}) {
        for (Mode m : next_modes()) {
            codegen::ConvOp op;
            op.name = "conv";
            op.kernel = cc.k;
            op.pad = cc.pad;
            op.relu = cc.relu;
            op.post_affine = cc.affine;
            op.stage_input = staged;
            codegen::ConvStages s = codegen::lower_conv(tensor_of(inbuf), op, p, weights);
            if (m != Mode::Plain) schedules::schedule_cpu_conv(s, tiles_of(m));
            std::ostringstream what;
            what << "conv k" << cc.k << " pad " << cc.pad << " " << cc.cin << "->" << cc.cout << " " << cc.w << "x" << cc.h
                 << " n" << cc.n << " relu " << cc.relu << " affine " << cc.affine << " layout " << cc.layout << "/"
                 << cc.o_block << " staged " << staged << ", " << mode_name(m);
            require_close(realize(s.result, want.n, want.c, want.h, want.w), want, what.str());
        }
        if (cc.pad > 0) break;  // a padded conv always stages its input
    }
}

}  // namespace

TEST_CASE("conv matches the reference", "[codegen][conv]") {
    const ConvCase cases[] = {
        {1, 3, 8, 7, 13, 1, 0, false, false, "oihw", 8},   // 1x1 (head-like), first-layer channels
        {1, 5, 16, 9, 19, 3, 1, true, false, "oihw", 8},   // same, BN folded before ReLU
        {2, 4, 12, 11, 6, 3, 1, true, true, "oihw", 4},    // BN after ReLU, batch 2
        {1, 6, 8, 12, 17, 3, 0, true, false, "oihw", 8},   // valid
        {1, 3, 3, 10, 10, 3, 1, false, false, "oihw", 0},  // no blocking, odd out channels
        {1, 2, 4, 13, 11, 5, 2, true, false, "ihwo", 0},   // 5x5 same, another layout
        {1, 2, 8, 15, 14, 7, 0, true, false, "hwio", 8},   // 7x7 valid
    };
    uint32_t seed = 100;
    for (const ConvCase &cc : cases) check_conv(cc, seed += 10);
}

namespace {

void check_conv_transpose(int n, int cin, int cout, int h, int w, int k, int stride, int pad, int op_pad,
                          const std::string &layout, int o_block, uint32_t seed) {
    Tensor4 in = random_tensor(n, cin, h, w, seed);
    std::vector<float> weight = random_vec(size_t(cout) * cin * k * k, seed + 1);
    std::vector<float> bias = random_vec(cout, seed + 2);
    Tensor4 want = reference::conv_transpose2d(in, weight, bias, cout, k, stride, pad, op_pad);
    LayerPacking p = make_packing(true, cout, cin, k, layout, o_block, false);
    Halide::ImageParam weights(Halide::Float(32), 1, "weights");
    weights.set(pack(p, weight, bias, {}, {}));
    Halide::Buffer<float> inbuf = to_buffer(in);
    for (Mode m : next_modes()) {
        for (bool phases : {false, true}) {
            codegen::ConvStages s = codegen::lower_conv_transpose(
                tensor_of(inbuf), conv_transpose_op(k, stride, pad, op_pad, phases), p, weights);
            if (m != Mode::Plain) schedules::schedule_cpu_conv_transpose(s, tiles_of(m));
            std::ostringstream what;
            what << "conv_transpose k" << k << " s" << stride << " p" << pad << " op" << op_pad << " " << cin << "->"
                 << cout << " " << w << "x" << h << " layout " << layout << "/" << o_block
                 << (phases ? " phases" : " gather") << ", " << mode_name(m);
            require_close(realize(s.result, want.n, want.c, want.h, want.w), want, what.str());
        }
    }
}

}  // namespace

TEST_CASE("transposed conv matches the reference", "[codegen][conv_transpose]") {
    check_conv_transpose(1, 6, 16, 5, 7, 2, 2, 0, 0, "ihwo", 0, 300);  // k2 s2
    check_conv_transpose(2, 5, 3, 4, 3, 2, 2, 0, 0, "ihwo", 0, 310);   // odd out channels, batch 2
    check_conv_transpose(1, 4, 8, 5, 6, 3, 2, 1, 1, "ihwo", 0, 320);   // k3 s2 p1 op1 (seed 003)
    check_conv_transpose(1, 3, 8, 3, 5, 3, 2, 1, 1, "oihw", 4, 330);   // same op, blocked layout
}

namespace {

// Runs an elementwise op's Func unscheduled and as a scheduled materialised stage.
template <typename Build>
void check_elementwise(const Tensor4 &want, Build build, const std::string &what) {
    for (Mode m : next_modes()) {
        Halide::Func f = build();
        if (m != Mode::Plain) {
            codegen::Dims d;
            Halide::Func stage("stage");
            stage(d.x, d.y, d.c, d.n) = f(d.x, d.y, d.c, d.n);
            schedules::schedule_cpu_staged(stage, tiles_of(m));
            f = stage;
        }
        require_close(realize(f, want.n, want.c, want.h, want.w), want, what + ", " + mode_name(m));
    }
}

}  // namespace

TEST_CASE("max-pool matches the reference at odd sizes", "[codegen][maxpool]") {
    for (auto [h, w] : {std::pair{7, 13}, std::pair{8, 6}, std::pair{1 + 2, 2}}) {
        Tensor4 in = random_tensor(2, 3, h, w, 400 + h);
        Halide::Buffer<float> buf = to_buffer(in);
        check_elementwise(reference::maxpool2(in), [&] { return codegen::lower_maxpool(tensor_of(buf), "pool").f; },
                          "maxpool " + std::to_string(w) + "x" + std::to_string(h));
    }
}

TEST_CASE("upsampling matches PyTorch's index math", "[codegen][upsample]") {
    for (auto [h, w] : {std::pair{3, 5}, std::pair{8, 8}, std::pair{1, 4}}) {
        Tensor4 in = random_tensor(1, 3, h, w, 500 + h * w);
        Halide::Buffer<float> buf = to_buffer(in);
        std::string size = std::to_string(w) + "x" + std::to_string(h);
        check_elementwise(reference::upsample_nearest2(in),
                          [&] { return codegen::lower_upsample(tensor_of(buf), UpMode::Nearest, false, "up").f; },
                          "nearest " + size);
        for (bool ac : {false, true})
            check_elementwise(reference::upsample_bilinear2(in, ac),
                              [&] { return codegen::lower_upsample(tensor_of(buf), UpMode::Bilinear, ac, "up").f; },
                              std::string("bilinear align_corners=") + (ac ? "true " : "false ") + size);
    }
}

TEST_CASE("concat crops, pads or merges exactly, in either order", "[codegen][concat]") {
    struct Case { SkipMatch match; int sh, sw, uh, uw; };
    const Case cases[] = {{SkipMatch::Crop, 13, 11, 8, 6}, {SkipMatch::Crop, 9, 9, 5, 4},
                          {SkipMatch::Pad, 13, 11, 10, 8}, {SkipMatch::Pad, 7, 6, 6, 6},
                          {SkipMatch::Exact, 6, 7, 6, 7}};
    for (const Case &cs : cases)
        for (SkipOrder order : {SkipOrder::SkipFirst, SkipOrder::UpFirst}) {
            Tensor4 skip = random_tensor(1, 3, cs.sh, cs.sw, 600), up = random_tensor(1, 2, cs.uh, cs.uw, 601);
            reference::Match rm = cs.match == SkipMatch::Crop ? reference::Match::Crop
                                  : cs.match == SkipMatch::Pad ? reference::Match::Pad : reference::Match::Exact;
            Tensor4 want = reference::concat(skip, up, order == SkipOrder::SkipFirst, rm);
            Halide::Buffer<float> sb = to_buffer(skip), ub = to_buffer(up);
            int ox = cs.match == SkipMatch::Exact ? 0 : (cs.sw - cs.uw) / 2;
            int oy = cs.match == SkipMatch::Exact ? 0 : (cs.sh - cs.uh) / 2;
            std::ostringstream what;
            what << "concat match " << int(cs.match) << " skip " << cs.sw << "x" << cs.sh << " up " << cs.uw << "x" << cs.uh
                 << (order == SkipOrder::SkipFirst ? " skip first" : " up first");
            check_elementwise(want, [&] {
                return codegen::lower_concat(tensor_of(sb), tensor_of(ub), order, cs.match, ox, oy, "cat").f;
            }, what.str());
        }
}

TEST_CASE("sigmoid and softmax apply only when activate is nonzero", "[codegen][activation]") {
    for (Activation act : {Activation::Sigmoid, Activation::Softmax, Activation::None}) {
        Tensor4 logits = random_tensor(2, 5, 3, 19, 700);
        for (float &v : logits.v) v *= 8.0f;
        Halide::Buffer<float> buf = to_buffer(logits);
        for (int activate : {0, 1}) {
            Tensor4 want = !activate || act == Activation::None ? logits
                           : act == Activation::Sigmoid         ? reference::sigmoid(logits)
                                                                : reference::softmax_channels(logits);
            for (Mode m : next_modes()) {
                Halide::Param<int32_t> param("activate");
                param.set(activate);
                Halide::Func smax, ssum;
                Halide::Func out = codegen::lower_activation(tensor_of(buf), act, param, smax, ssum);
                if (m != Mode::Plain) schedules::schedule_cpu_output(out, smax, ssum, param, tiles_of(m));
                Halide::Buffer<float> b = out.realize({logits.w, logits.h, logits.c, logits.n});
                Tensor4 got(logits.n, logits.c, logits.h, logits.w);
                for (int n = 0; n < got.n; ++n)
                    for (int c = 0; c < got.c; ++c)
                        for (int y = 0; y < got.h; ++y)
                            for (int x = 0; x < got.w; ++x) got.at(n, c, y, x) = b(x, y, c, n);
                require_close(got, want, "activation " + std::to_string(int(act)) + " activate=" + std::to_string(activate) +
                                             ", " + mode_name(m));
            }
        }
    }
}

TEST_CASE("instance and group norm use each sample's statistics", "[codegen][norm]") {
    struct Case { int n, c, h, w, groups; bool affine, relu; float slope; };
    const Case cases[] = {
        {2, 5, 7, 13, 5, true, true, 0.01f},   // InstanceNorm2d(affine) + LeakyReLU, batch 2, odd sizes
        {1, 6, 9, 4, 6, false, true, 0.0f},    // InstanceNorm2d without affine + ReLU
        {2, 8, 6, 11, 2, true, false, 0.0f},   // GroupNorm(2, 8), no activation (conv_relu_norm)
        {1, 4, 33, 35, 1, true, true, 0.1f},   // GroupNorm(1): the whole sample; wider than a vector
    };
    uint32_t seed = 900;
    for (const Case &k : cases) {
        Tensor4 in = random_tensor(k.n, k.c, k.h, k.w, seed += 7);
        // A conv output is rarely centred: an offset and a scale per channel make the statistics matter.
        for (int n = 0; n < in.n; ++n)
            for (int c = 0; c < in.c; ++c)
                for (int y = 0; y < in.h; ++y)
                    for (int x = 0; x < in.w; ++x) in.at(n, c, y, x) = in.at(n, c, y, x) * (0.2f + 0.3f * c) + 3.0f - c + n;
        std::vector<float> gamma, beta;
        if (k.affine) {
            gamma = random_vec(size_t(k.c), seed + 1, 0.5f, 2.0f);
            beta = random_vec(size_t(k.c), seed + 2);
        }
        const Tensor4 want = reference::group_norm(in, k.groups, 1e-5, gamma, beta, k.relu, k.slope);
        LayerPacking p = make_packing(false, k.c, 1, 1, "oihw", 0, true);
        Halide::ImageParam weights(Halide::Float(32), 1, "weights");
        weights.set(pack(p, std::vector<float>(size_t(k.c), 0.0f), std::vector<float>(size_t(k.c), 0.0f),
                         k.affine ? gamma : std::vector<float>(), k.affine ? beta : std::vector<float>()));
        Halide::Buffer<float> buf = to_buffer(in);
        codegen::SampleNormOp op;
        op.name = "norm";
        op.groups = k.groups;
        op.affine = k.affine;
        op.relu = k.relu;
        op.relu_slope = k.slope;
        std::ostringstream what;
        what << "norm groups " << k.groups << " of " << k.c << " " << k.w << "x" << k.h << " n" << k.n << " affine "
             << k.affine << " relu " << k.relu << "/" << k.slope;
        for (bool channels_innermost : {false, true})  // both reduction orders of the schedule
            for (Mode m : next_modes()) {
                codegen::SampleNormStages s = codegen::lower_sample_norm(tensor_of(buf), op, p, weights);
                if (m != Mode::Plain) schedules::schedule_cpu_sample_norm(s, tiles_of(m), channels_innermost);
                require_close(realize(s.result, want.n, want.c, want.h, want.w), want,
                              what.str() + (channels_innermost ? ", channel sums, " : ", column sums, ") + mode_name(m));
            }
    }
}

TEST_CASE("add and the gate's broadcast multiply match the reference", "[codegen][gate]") {
    for (auto [h, w] : {std::pair{7, 13}, std::pair{8, 6}}) {
        Tensor4 a = random_tensor(2, 5, h, w, 950 + h), b = random_tensor(2, 5, h, w, 960 + w);
        Tensor4 alpha = random_tensor(2, 1, h, w, 970 + h * w);
        Halide::Buffer<float> ab = to_buffer(a), bb = to_buffer(b), alb = to_buffer(alpha);
        const std::string size = std::to_string(w) + "x" + std::to_string(h);
        for (bool relu : {false, true})
            check_elementwise(reference::add(a, b, relu),
                              [&] { return codegen::lower_add(tensor_of(ab), tensor_of(bb), relu, "add").f; },
                              std::string("add relu=") + (relu ? "true " : "false ") + size);
        check_elementwise(reference::multiply_broadcast(a, alpha),
                          [&] { return codegen::lower_multiply(tensor_of(ab), tensor_of(alb), "gate").f; }, "gate " + size);
    }
}

TEST_CASE("dilated convs, replicate / reflect padding, ELU and GELU match PyTorch's definitions", "[codegen][conv]") {
    struct Case { int k, pad, dilation; PaddingMode mode; const char *mode_name; UnitActivation act; int ref_act; };
    const Case cases[] = {
        {3, 2, 2, PaddingMode::Zeros, "zeros", UnitActivation::Elu, 1},
        {3, 1, 1, PaddingMode::Replicate, "replicate", UnitActivation::Gelu, 2},
        {3, 1, 1, PaddingMode::Reflect, "reflect", UnitActivation::Elu, 1},
        {5, 4, 2, PaddingMode::Reflect, "reflect", UnitActivation::Gelu, 2},
    };
    uint32_t seed = 1300;
    for (const Case &k : cases) {
        Tensor4 in = random_tensor(2, 3, 9, 11, seed += 11);
        const int cout = 8;
        std::vector<float> weight = random_vec(size_t(cout) * 3 * k.k * k.k, seed + 1);
        std::vector<float> bias = random_vec(cout, seed + 2);
        const Tensor4 want = reference::conv2d_padded(in, weight, bias, cout, k.k, k.pad, k.dilation, k.mode_name, k.ref_act);
        LayerPacking p = make_packing(false, cout, 3, k.k, "oihw", 8, false);
        Halide::ImageParam weights(Halide::Float(32), 1, "weights");
        weights.set(pack(p, weight, bias, {}, {}));
        Halide::Buffer<float> buf = to_buffer(in);
        for (Mode m : next_modes()) {
            codegen::ConvOp op;
            op.name = "conv";
            op.kernel = k.k;
            op.pad = k.pad;
            op.dilation = k.dilation;
            op.padding_mode = k.mode;
            op.relu = true;
            op.act = k.act;
            codegen::ConvStages s = codegen::lower_conv(tensor_of(buf), op, p, weights);
            if (m != Mode::Plain) schedules::schedule_cpu_conv(s, tiles_of(m));
            std::ostringstream what;
            what << "conv k" << k.k << " d" << k.dilation << " pad " << k.pad << " " << k.mode_name << " act "
                 << unit_activation_name(k.act) << ", " << mode_name(m);
            require_close(realize(s.result, want.n, want.c, want.h, want.w), want, what.str());
        }
    }
}

TEST_CASE("average pool matches the reference at odd sizes", "[codegen][avgpool]") {
    for (auto [h, w] : {std::pair{7, 13}, std::pair{8, 6}}) {
        Tensor4 in = random_tensor(2, 3, h, w, 1400 + h);
        Halide::Buffer<float> buf = to_buffer(in);
        check_elementwise(reference::avgpool2(in), [&] { return codegen::lower_avgpool(tensor_of(buf), "pool").f; },
                          "avgpool " + std::to_string(w) + "x" + std::to_string(h));
    }
}
