// test_build_network.cpp — build_network on hand-built specs: layer order and names, channel rules,
// canonical weight order, size programs (crop / pad / exact), costs and the check report helpers.
//
// Parameter totals are those PyTorch reports for the reference models in
// examples/pytorch/example_networks.py (sum(p.numel() for p in model.parameters())); the Python test
// tests/ir/test_param_counts.py recomputes them from the models themselves.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include "dsl/check_report.h"
#include "dsl/layer_ops.h"
#include "dsl/network_ir.h"

#include <algorithm>
#include <set>

using namespace unetgen;

namespace {

NetworkSpec base_spec(int in_channels, int classes, std::vector<int> encoder) {
    NetworkSpec s;
    s.file = "test.unet";
    s.name = "test";
    s.in_channels = in_channels;
    s.mean.assign(size_t(in_channels), 0.0);
    s.std.assign(size_t(in_channels), 1.0);
    s.classes = classes;
    s.encoder = std::move(encoder);
    for (int l = int(s.encoder.size()) - 2; l >= 0; --l) s.decoder.push_back(s.encoder[size_t(l)]);
    return s;
}

NetworkSpec milesial(bool bilinear) {
    NetworkSpec s = base_spec(3, 1, {64, 128, 256, 512, bilinear ? 512 : 1024});
    s.block.bias = false;
    s.block.norm = NormKind::BatchNorm;
    s.skip_match = SkipMatch::Pad;
    if (bilinear) {
        s.decoder = {256, 128, 64, 64};
        s.decoder_mid = MidRule::HalfIn;
        s.up = UpMode::Bilinear;
        s.align_corners = true;
    }
    return s;
}

NetworkSpec ronneberger() {
    NetworkSpec s = base_spec(1, 2, {64, 128, 256, 512, 1024});
    s.block.padding = Padding::Valid;
    s.skip_match = SkipMatch::Crop;
    return s;
}

NetworkSpec small() {
    NetworkSpec s = base_spec(3, 32, {4, 8, 32, 64});
    s.decoder = {32, 8, 16};
    s.encoder_convs = s.decoder_convs = 1;
    s.block.norm = NormKind::BatchNorm;
    s.up_kernel = 3;
    s.skip_order = SkipOrder::UpFirst;
    return s;
}

std::vector<std::string> layer_names(const Network &net) {
    std::vector<std::string> names;
    for (const Layer &l : net.layers) names.push_back(l.name);
    return names;
}

const Layer &named(const Network &net, const std::string &name) {
    for (const Layer &l : net.layers)
        if (l.name == name) return l;
    FAIL("no layer " << name);
    return net.layers[0];
}

int64_t extent(const Network &net, const std::string &layer, int64_t input) {
    return net.sizes.evaluate(input)[size_t(named(net, layer).size)];
}

}  // namespace

TEST_CASE("layers run in PyTorch's order with canonical names", "[ir]") {
    Network net = build_network(small());
    const std::vector<std::string> expected = {
        "input",     "enc0.conv0", "enc1.pool", "enc1.conv0", "enc2.pool", "enc2.conv0", "enc3.pool",
        "enc3.conv0", "up2",       "cat2",      "dec2.conv0", "up1",       "cat1",       "dec1.conv0",
        "up0",       "cat0",       "dec0.conv0", "head"};
    CHECK(layer_names(net) == expected);
    CHECK(net.layers.front().op == LayerOp::Input);
    CHECK(net.output().op == LayerOp::Head);
    for (size_t i = 0; i < net.layers.size(); ++i)
        for (int in : net.layers[i].inputs) CHECK(in < int(i));
    // Concat inputs are {skip, upsampled} whatever the channel order.
    const Layer &cat1 = named(net, "cat1");
    CHECK(net.layers[size_t(cat1.inputs[0])].name == "enc1.conv0");
    CHECK(net.layers[size_t(cat1.inputs[1])].name == "up1");
    CHECK(cat1.skip_order == SkipOrder::UpFirst);
}

TEST_CASE("UNet003Small: channels, weights and 63,972 parameters", "[ir]") {
    Network net = build_network(small());
    CHECK(net.param_count() == 63972);
    const Layer &up2 = named(net, "up2");
    CHECK(up2.op == LayerOp::ConvTranspose);
    CHECK(up2.in_channels == 64);
    CHECK(up2.out_channels == 32);  // the skip's width (UpChannels::Skip)
    CHECK(up2.kernel == 3);
    CHECK(up2.pad == 1);
    CHECK(up2.output_padding == 1);
    CHECK(named(net, "cat0").out_channels == 8);
    CHECK(named(net, "dec0.conv0").out_channels == 16);
    CHECK(named(net, "head").in_channels == 16);
    CHECK(named(net, "head").out_channels == 32);

    std::vector<std::string> first;
    for (size_t i = 0; i < 7; ++i) first.push_back(net.weights[i].name);
    CHECK(first == std::vector<std::string>{"enc0.conv0.weight", "enc0.conv0.bias", "enc0.bn0.weight",
                                            "enc0.bn0.bias", "enc0.bn0.running_mean", "enc0.bn0.running_var",
                                            "enc1.conv0.weight"});
    const WeightTensor &upw = *std::find_if(net.weights.begin(), net.weights.end(),
                                            [](const WeightTensor &w) { return w.name == "up2.weight"; });
    CHECK(upw.shape == std::vector<int64_t>{64, 32, 3, 3});  // ConvTranspose2d: [in, out, k, k]
    CHECK(upw.module == ModuleKind::ConvTranspose2d);
    CHECK(net.weights.back().name == "head.bias");
    // k3 s2 p1 op1 doubles: (s-1)*2 - 2 + 3 + 1 = 2s, so a multiple of 8 comes back whole.
    CHECK(extent(net, "head", 64) == 64);
    CHECK(net.sizes.accepts(64));
    CHECK_FALSE(net.sizes.accepts(60));  // 60 -> 30 -> 15 -> 7 -> up 14 != 15
}

TEST_CASE("milesial transposed: 31,037,633 parameters, F.pad skips", "[ir]") {
    Network net = build_network(milesial(false));
    CHECK(net.param_count() == 31037633);
    const Layer &c = named(net, "enc0.conv0");
    CHECK_FALSE(c.bias);
    CHECK(c.norm == NormKind::BatchNorm);
    CHECK(c.bn_module == "enc0.bn0");
    CHECK(c.pad == 1);
    CHECK(named(net, "up3").out_channels == 512);
    CHECK(named(net, "cat3").out_channels == 1024);
    // Odd sizes are accepted: the upsampled tensor is zero-padded up to the skip.
    for (int64_t s : {37, 101, 255, 256}) {
        CHECK(net.sizes.accepts(s));
        CHECK(extent(net, "head", s) == s);
    }
    CHECK_FALSE(net.sizes.pools_evenly(37));
    // 37 -> 18 -> 9 -> 4 -> 2; at level 2 the skip is 9 and the upsampled 8: pad floor(1/2) = 0 left.
    const Layer &cat2 = named(net, "cat2");
    std::vector<int64_t> v = net.sizes.evaluate(37);
    CHECK(v[size_t(cat2.size)] == 9);
    CHECK(v[size_t(cat2.offset)] == 0);
    CHECK(v[size_t(named(net, "cat0").offset)] == 0);
    CHECK(net.sizes.evaluate(39)[size_t(named(net, "cat0").offset)] == 0);  // 39 vs 38
    // No conv bias: the first weight after enc0.conv0.weight is its BatchNorm's.
    CHECK(net.weights[1].name == "enc0.bn0.weight");
}

TEST_CASE("milesial bilinear: half-input middle widths, 17,262,977 parameters", "[ir]") {
    Network net = build_network(milesial(true));
    CHECK(net.param_count() == 17262977);
    const Layer &up3 = named(net, "up3");
    CHECK(up3.op == LayerOp::Upsample);
    CHECK(up3.up_mode == UpMode::Bilinear);
    CHECK(up3.align_corners);
    CHECK(up3.out_channels == 512);
    CHECK(named(net, "dec3.conv0").out_channels == 512);  // DoubleConv(1024, 256, 512)
    CHECK(named(net, "dec3.conv1").out_channels == 256);
    CHECK(named(net, "dec0.conv0").out_channels == 64);   // DoubleConv(128, 64, 64)
    for (const WeightTensor &w : net.weights) CHECK(w.module != ModuleKind::ConvTranspose2d);
}

TEST_CASE("Ronneberger 2015: 572 -> 388, crop rule and even pooling", "[ir]") {
    Network net = build_network(ronneberger());
    CHECK(net.param_count() == 31030658);
    CHECK(net.sizes.accepts(572));
    CHECK(extent(net, "head", 572) == 388);
    CHECK(extent(net, "enc4.conv1", 572) == 28);
    CHECK(net.sizes.pools_evenly(572));
    // Crop offset at the top level: skip 568, upsampled 392 -> (568 - 392) / 2 = 88.
    const Layer &cat0 = named(net, "cat0");
    CHECK(cat0.skip_match == SkipMatch::Crop);
    CHECK(net.sizes.evaluate(572)[size_t(cat0.offset)] == 88);
    CHECK(net.sizes.to_string(net.output().size).find('H') != std::string::npos);
    // Valid 3x3 convs shrink by 2: the first conv's extent is H - 2, the second's H - 4 (folded).
    CHECK(net.sizes.to_string(named(net, "enc0.conv1").size) == "H - 4");
    // The smallest square >= 256 whose pools all see even inputs.
    std::optional<int64_t> d = default_check_extent(net);
    REQUIRE(d);
    CHECK(*d == 268);
    CHECK(net.sizes.pools_evenly(268));
    for (int64_t s = 256; s < 268; ++s) CHECK_FALSE(net.sizes.pools_evenly(s));
    // Too small: the bottleneck's valid convs run out of pixels.
    CHECK_FALSE(net.sizes.accepts(100));
    std::string why = size_rejection(net, 100);
    CHECK(why.rfind("cannot compute ", 0) == 0);
    CHECK(why.find("at input 100") != std::string::npos);
    std::string warn = odd_pooling_warning(net, 570, 572);
    CHECK(warn.find("height 570") != std::string::npos);
    CHECK(warn.find("572") != std::string::npos);
    CHECK(odd_pooling_warning(net, 572, 572).empty());
}

TEST_CASE("crop rule names the concat and both extents", "[ir]") {
    // Pooling then doubling never outgrows the skip, so no example network trips this rule; a
    // hand-made program (skip = H - 1, upsampled = H) exercises the message.
    Network net;
    net.spec.name = "crafted";
    const int skip = net.sizes.add_const(net.sizes.input(), -1);
    net.sizes.constraints.push_back({SizeConstraint::Kind::GreaterEqual, skip, net.sizes.input(), "cat2"});
    CHECK_FALSE(net.sizes.accepts(570));
    CHECK(size_rejection(net, 570) == "cannot concatenate cat2 at input 570: skip 569 is smaller than the upsampled 570");
    CHECK(size_rejection(net, 570, "height") ==
          "cannot concatenate cat2 at input height 570: skip 569 is smaller than the upsampled 570");
    CHECK(size_rejection(net, 0).rfind("cannot run crafted at input 0", 0) == 0);
}

TEST_CASE("exact skips accept only sizes that halve evenly at every pool", "[ir]") {
    NetworkSpec s = base_spec(1, 2, {64, 128, 256, 512, 1024});
    Network net = build_network(s);
    CHECK(net.param_count() == 31030658);
    for (int64_t in = 16; in <= 160; ++in) CHECK(net.sizes.accepts(in) == (in % 16 == 0));
    std::string why = size_rejection(net, 100, "width");
    CHECK(why == "cannot concatenate cat2 at input width 100: skip 25 differs from the upsampled 24, and an "
                 "exact skip match needs equal sizes");
    CHECK(net.sizes.nearest_accepted(100, 2) == std::vector<int64_t>{96, 112});
}

TEST_CASE("pre and post units, BN after ReLU, head activation", "[ir]") {
    NetworkSpec s = base_spec(3, 256, {8, 28, 56, 112});
    s.pre = {64, 64, 32};
    s.post = {64, 64, 64, 64};
    s.decoder = {56, 28, 48};
    s.encoder_convs = s.decoder_convs = 1;
    s.block.norm = NormKind::BatchNorm;
    s.block.order = NormOrder::ConvReluNorm;
    s.up_kernel = 3;
    s.skip_order = SkipOrder::UpFirst;
    s.activation = Activation::Softmax;
    Network net = build_network(s);
    CHECK(net.param_count() == 439180);  // UNet003Large
    CHECK(net.layers[1].name == "pre0.conv");
    CHECK(net.layers[1].bn_module == "pre0.bn");
    CHECK(net.layers[1].norm_order == NormOrder::ConvReluNorm);
    CHECK(named(net, "enc0.conv0").in_channels == 32);
    CHECK(named(net, "post0.conv").in_channels == 48);
    CHECK(net.output().in_channels == 64);
    CHECK(net.output().activation == Activation::Softmax);
    CHECK(net.weights[0].name == "pre0.conv.weight");
    CHECK(net.weights[2].name == "pre0.bn.weight");
    CHECK(net.weights[2].module_name == "pre0.bn");
    for (const WeightTensor &w : net.weights) CHECK(net.layers[size_t(w.layer)].op != LayerOp::Input);
}

TEST_CASE("instance and group norms: module names, affine tensors, groups", "[ir][norm]") {
    NetworkSpec s = base_spec(1, 3, {32, 64, 128, 256, 512, 512});  // NnUNetPlain(1, 3)
    s.block.norm = NormKind::Instance;
    s.block.affine = true;
    s.block.act = UnitActivation::LeakyRelu;
    s.down = DownMode::Conv;
    s.skip_order = SkipOrder::UpFirst;
    Network net = build_network(s);
    CHECK(net.param_count() == 20617187);  // sum(p.numel() for p in NnUNetPlain(1, 3).parameters())
    const Layer &c = named(net, "enc1.conv0");
    CHECK(c.bn_module == "enc1.norm0");
    CHECK(c.norm_affine);
    CHECK(c.norm_groups == 64);
    CHECK(c.stride == 2);
    CHECK(net.weights[2].name == "enc0.norm0.weight");
    CHECK(net.weights[2].module == ModuleKind::InstanceNorm2d);
    CHECK(net.weights[3].role == WeightRole::NormBias);
    CHECK(layer_op_label(c) == "Conv3x3 s2+IN(affine)+LeakyReLU(0.01)");

    s.block.affine = false;  // MONAI's bare "INSTANCE": no tensors at all
    Network plain = build_network(s);
    for (const WeightTensor &w : plain.weights) CHECK(w.module != ModuleKind::InstanceNorm2d);
    CHECK(named(plain, "enc1.conv0").bn_module == "enc1.norm0");

    s.block.norm = NormKind::Group;
    s.block.groups = 8;
    s.block.affine = true;
    Network grouped = build_network(s);
    CHECK(named(grouped, "dec0.conv1").norm_groups == 8);
    CHECK(grouped.weights[2].module == ModuleKind::GroupNorm);
    CHECK(layer_op_label(named(grouped, "dec0.conv1")) == "Conv3x3+GN(8)+LeakyReLU(0.01)");
}

TEST_CASE("attention gates: gating unit, gate layers in forward order, 8,807,940 parameters", "[ir][gate]") {
    NetworkSpec s = base_spec(3, 1, {32, 64, 128, 256, 512});  // AttentionUNet(3, 1)
    s.decoder = {256, 128, 64, 32};
    s.block.norm = NormKind::BatchNorm;
    s.up = UpMode::Bilinear;
    s.skip_gate = SkipGate::Attention;
    Network net = build_network(s);
    CHECK(net.param_count() == 8807940);  // sum(p.numel() for p in AttentionUNet2d().parameters())
    const Layer &theta = named(net, "att3.theta");
    CHECK(theta.kernel == 2);
    CHECK(theta.stride == 2);
    CHECK(!theta.bias);
    CHECK(net.layers[size_t(theta.inputs[0])].name == "enc3.conv1");
    CHECK(net.layers[size_t(named(net, "att3.phi").inputs[0])].name == "gating.conv");
    CHECK(net.layers[size_t(named(net, "att2.phi").inputs[0])].name == "dec3.conv1");  // the level below
    CHECK(named(net, "att1.psi").activation == Activation::Sigmoid);
    CHECK(named(net, "att1.psi").out_channels == 1);
    CHECK(named(net, "att1.gate").op == LayerOp::Multiply);
    CHECK(!named(net, "att1.w.conv").relu);
    CHECK(named(net, "att1.combine.conv").relu);
    CHECK(net.layers[size_t(named(net, "cat1").inputs[0])].name == "att1.combine.conv");
    CHECK(net.layers[size_t(named(net, "cat0").inputs[0])].name == "enc0.conv1");  // the top skip is not gated
    for (const Layer &l : net.layers) CHECK(l.name.rfind("att0.", 0) != 0);
}

TEST_CASE("MONAI's UNet: residual units, PReLU, merge then up, no head; 1,625,161 parameters", "[ir][monai]") {
    NetworkSpec s = base_spec(1, 2, {16, 32, 64, 128, 256});  // MonaiResUNet(1, 2)
    s.decoder = {64, 32, 16, 2};
    s.decoder_convs = 1;
    s.decoder_order = DecoderOrder::MergeThenUp;
    s.block.norm = NormKind::Instance;
    s.block.act = UnitActivation::PRelu;
    s.block.residual = Residual::Monai;
    s.down = DownMode::Conv;
    s.down_levels = DownLevels::AboveBottom;
    s.up_kernel = 3;
    s.up_channel_list = {64, 32, 16, 2};
    s.up_norm = true;
    s.head = false;
    Network net = build_network(s);
    CHECK(net.param_count() == 1625161);  // sum(p.numel() for p in MonaiResUNet2d().parameters())
    CHECK(net.weights[0].name == "enc0.res.weight");  // MONAI runs the shortcut first
    CHECK(named(net, "enc0.conv0").stride == 2);
    CHECK(named(net, "enc4.conv0").stride == 1);       // the bottom keeps its resolution
    CHECK(named(net, "enc4.res").kernel == 1);          // channels change, no stride: a 1x1 shortcut
    CHECK(named(net, "enc1.conv1").prelu_module == "enc1.act1");
    CHECK(net.layers[size_t(named(net, "up3").inputs[0])].name == "cat3");  // merge, then up
    CHECK(named(net, "up3").norm == NormKind::Instance);
    CHECK(named(net, "up3").prelu_module == "up3.act");
    CHECK(named(net, "dec0.conv0").norm == NormKind::None);  // the top unit's last conv is bare
    CHECK(!named(net, "dec0.conv0").relu);
    CHECK(net.output().name == "dec0.add");
    CHECK(net.output().out_channels == 2);
    for (const Layer &l : net.layers) CHECK(l.op != LayerOp::Head);
}

TEST_CASE("FLOPs are 2 x MACs of convs, transposed convs and the head", "[ir]") {
    // One pool level pair: enc0 (1 conv 1->4), pool, enc1 (1 conv 4->8), up 8->4 k2, cat, dec0 (8->4), head 4->2.
    NetworkSpec s = base_spec(1, 2, {4, 8});
    s.encoder_convs = s.decoder_convs = 1;
    Network net = build_network(s);
    const double h = 16, w = 8;
    double expected = 2 * (4 * 1 * 9 * h * w)              // enc0.conv0
                      + 2 * (8 * 4 * 9 * (h / 2) * (w / 2))  // enc1.conv0
                      + 2 * (8 * 4 * 4 * (h / 2) * (w / 2))  // up0, counted on its input pixels
                      + 2 * (4 * 8 * 9 * h * w)              // dec0.conv0
                      + 2 * (2 * 4 * 1 * h * w);             // head
    CHECK(net.flops(16, 8) == Approx(expected));
    nlohmann::json j = check_json(net, 16, 8);
    CHECK(j["output_shape"] == nlohmann::json::array({2, 16, 8}));
    CHECK(j["params"] == net.param_count());
    CHECK(j["weights"][0]["module_kind"] == "Conv2d");
    CHECK(j["weights"][4]["name"] == "up0.weight");
    CHECK(j["weights"][4]["module_kind"] == "ConvTranspose2d");
    CHECK(j["layers"].size() == net.layers.size());
    std::string dot = network_dot(net, 16, 8);
    CHECK(dot.find("digraph") == 0);
    CHECK(dot.find("rank=same") != std::string::npos);
    CHECK(dot.find("style=dashed") != std::string::npos);
}

// The op registry (dsl/layer_ops.h): the static_asserts make every op have a row in order; here
// the rows themselves are checked (unique spellings, as the manifest and --json use them).
TEST_CASE("every layer op has a registry row with its own name", "[ir][registry]") {
    std::set<std::string> names;
    for (size_t i = 0; i < size_t(unetgen::LayerOp::Count); ++i) {
        const unetgen::LayerOpInfo &row = unetgen::layer_op_info(unetgen::LayerOp(i));
        INFO("op " << i);
        CHECK(row.op == unetgen::LayerOp(i));
        CHECK(std::string(row.name).size() > 0);
        CHECK(names.insert(row.name).second);
        CHECK(std::string(row.dot_fill).size() == 7);
        if (row.weights) CHECK(row.materialised);  // the weight-reading ops are the ones with buffers
        CHECK(std::string(unetgen::layer_op_name(unetgen::LayerOp(i))) == row.name);
    }
}
