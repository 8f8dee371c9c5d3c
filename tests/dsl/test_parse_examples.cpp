// test_parse_examples.cpp — each example spec parses cleanly to the network of its reference class.
//
// The expected fields were read off the seed reference models (now examples/pytorch/example_networks.py) by hand (the comment
// above each case says where each number comes from); they are not copied from parser output.
#include "spec_test_support.h"

#include <catch2/catch.hpp>

using namespace unetgen;
using unetgen::test::parse_text;
using unetgen::test::read_test_file;

namespace {

NetworkSpec parse_example(const std::string &name) {
    std::string file = "examples/specs/" + name + ".unet";
    auto parsed = parse_text(file, read_test_file(std::string(UNETGEN_EXAMPLE_SPECS_DIR) + "/" + name + ".unet"));
    INFO(parsed.rendered);
    CHECK(parsed.rendered.empty());  // no errors, and no warnings either
    REQUIRE(parsed.errors == 0);
    CHECK(parsed.spec.file == file);
    return parsed.spec;
}

// What every example shares unless it says otherwise: defaults of network_spec.h.
void check_common_defaults(const NetworkSpec &s) {
    CHECK(s.threshold == 0.5);
    CHECK(s.mean == std::vector<double>(size_t(s.in_channels), 0.0));
    CHECK(s.std == std::vector<double>(size_t(s.in_channels), 1.0));
    CHECK(s.encoder_mid == MidRule::Out);
    CHECK(s.down == DownMode::MaxPool);
    CHECK(s.block.kernel == 3);
    CHECK(s.block.eps == 1e-5);
    CHECK(s.align_corners == (s.up == UpMode::Bilinear));
    CHECK(s.up_channels == UpChannels::Skip);
    CHECK(s.up_bias == true);
}

}  // namespace

// UNet000: block = Conv(3x3, pad 1, bias) ReLU BN twice; enc 64..512; ConvTranspose2d(ch[k], ch[k-1], 2, 2);
// cat([center_crop(skip), x]); conv_out 64 -> 1; sigmoid.
TEST_CASE("crop_sigmoid.unet is UNet000", "[dsl][examples]") {
    NetworkSpec s = parse_example("crop_sigmoid");
    check_common_defaults(s);
    CHECK(s.name == "crop_sigmoid");
    CHECK(s.in_channels == 3);
    CHECK(s.classes == 1);
    CHECK(s.activation == Activation::Sigmoid);
    CHECK(s.encoder == std::vector<int>{64, 128, 256, 512});
    CHECK(s.decoder == std::vector<int>{256, 128, 64});
    CHECK(s.encoder_convs == 2);
    CHECK(s.decoder_convs == 2);
    CHECK(s.decoder_mid == MidRule::Out);
    CHECK(s.block.convs == 2);
    CHECK(s.block.padding == Padding::Same);
    CHECK(s.block.bias == true);
    CHECK(s.block.norm == NormKind::BatchNorm);
    CHECK(s.block.order == NormOrder::ConvReluNorm);
    CHECK(s.up == UpMode::Transposed);
    CHECK(s.up_kernel == 2);
    CHECK(s.skip_order == SkipOrder::SkipFirst);
    CHECK(s.skip_match == SkipMatch::Crop);
    CHECK(s.pre.empty());
    CHECK(s.post.empty());
}

// UNet001(bilinear=False): DoubleConv(conv no bias, BN, ReLU) x2, inc 64, downs to 1024;
// Up: ConvTranspose2d(in, in // 2, 2, 2) (= the skip's channels), F.pad to the skip, cat([x2, x1]);
// DoubleConv(in, out) with out 512, 256, 128, 64; outc 64 -> 1, logits.
TEST_CASE("milesial_transposed.unet is UNet001(bilinear=False)", "[dsl][examples]") {
    NetworkSpec s = parse_example("milesial_transposed");
    check_common_defaults(s);
    CHECK(s.name == "milesial_transposed");
    CHECK(s.in_channels == 3);
    CHECK(s.classes == 1);
    CHECK(s.activation == Activation::None);
    CHECK(s.encoder == std::vector<int>{64, 128, 256, 512, 1024});  // from base = 64, depth = 5
    CHECK(s.decoder == std::vector<int>{512, 256, 128, 64});
    CHECK(s.encoder_convs == 2);
    CHECK(s.decoder_convs == 2);
    CHECK(s.decoder_mid == MidRule::Out);
    CHECK(s.block.convs == 2);
    CHECK(s.block.padding == Padding::Same);
    CHECK(s.block.bias == false);
    CHECK(s.block.norm == NormKind::BatchNorm);
    CHECK(s.block.order == NormOrder::ConvNormRelu);
    CHECK(s.up == UpMode::Transposed);
    CHECK(s.up_kernel == 2);
    CHECK(s.skip_order == SkipOrder::SkipFirst);
    CHECK(s.skip_match == SkipMatch::Pad);
    CHECK(s.pre.empty());
    CHECK(s.post.empty());
}

// UNet001(bilinear=True): factor 2 halves down4 to 512; Up(1024, 256), Up(512, 128), Up(256, 64),
// Up(128, 64), each DoubleConv(in, out, in // 2); Upsample(bilinear, align_corners=True).
TEST_CASE("milesial_bilinear.unet is UNet001(bilinear=True)", "[dsl][examples]") {
    NetworkSpec s = parse_example("milesial_bilinear");
    check_common_defaults(s);
    CHECK(s.name == "milesial_bilinear");
    CHECK(s.in_channels == 3);
    CHECK(s.classes == 1);
    CHECK(s.activation == Activation::None);
    CHECK(s.encoder == std::vector<int>{64, 128, 256, 512, 512});
    CHECK(s.decoder == std::vector<int>{256, 128, 64, 64});
    CHECK(s.encoder_convs == 2);
    CHECK(s.decoder_convs == 2);
    CHECK(s.decoder_mid == MidRule::HalfIn);
    CHECK(s.block.bias == false);
    CHECK(s.block.norm == NormKind::BatchNorm);
    CHECK(s.block.order == NormOrder::ConvNormRelu);
    CHECK(s.block.padding == Padding::Same);
    CHECK(s.up == UpMode::Bilinear);
    CHECK(s.align_corners == true);
    CHECK(s.skip_order == SkipOrder::SkipFirst);
    CHECK(s.skip_match == SkipMatch::Pad);
}

// UNet002: conv_block = Conv(3x3, pad 1, bias) ReLU x2, enc 64..1024, ConvTranspose2d(ch[k], ch[k-1], 2, 2),
// cat([skip, up(x)]) without cropping, final_conv 64 -> 2.
TEST_CASE("plain.unet is UNet002", "[dsl][examples]") {
    NetworkSpec s = parse_example("plain");
    check_common_defaults(s);
    CHECK(s.name == "plain");
    CHECK(s.in_channels == 1);
    CHECK(s.classes == 2);
    CHECK(s.activation == Activation::None);
    CHECK(s.encoder == std::vector<int>{64, 128, 256, 512, 1024});
    CHECK(s.decoder == std::vector<int>{512, 256, 128, 64});
    CHECK(s.encoder_convs == 2);
    CHECK(s.decoder_convs == 2);
    CHECK(s.block.bias == true);
    CHECK(s.block.norm == NormKind::None);
    CHECK(s.block.padding == Padding::Same);
    CHECK(s.up == UpMode::Transposed);
    CHECK(s.up_kernel == 2);
    CHECK(s.skip_order == SkipOrder::SkipFirst);
    CHECK(s.skip_match == SkipMatch::Exact);
}

// UNet004: double_conv = Conv(3x3, no padding, bias) ReLU x2; ConvTranspose2d(ch[k], ch[k-1], 2, 2);
// cat([center_crop(skip), x]); out 64 -> 2.
TEST_CASE("ronneberger2015.unet is UNet004", "[dsl][examples]") {
    NetworkSpec s = parse_example("ronneberger2015");
    check_common_defaults(s);
    CHECK(s.name == "ronneberger2015");
    CHECK(s.in_channels == 1);
    CHECK(s.classes == 2);
    CHECK(s.encoder == std::vector<int>{64, 128, 256, 512, 1024});
    CHECK(s.decoder == std::vector<int>{512, 256, 128, 64});
    CHECK(s.block.convs == 2);
    CHECK(s.block.padding == Padding::Valid);
    CHECK(s.block.bias == true);
    CHECK(s.block.norm == NormKind::None);
    CHECK(s.up == UpMode::Transposed);
    CHECK(s.up_kernel == 2);
    CHECK(s.skip_order == SkipOrder::SkipFirst);
    CHECK(s.skip_match == SkipMatch::Crop);
}

// UNet003Small: cbr = Conv(3x3, pad 1, bias) BN ReLU, one per level, 4/8/32/64;
// ConvTranspose2d(64, 32 | 32, 8 | 8, 4; k3 s2 p1 op1); cat([up, skip]); dec3 -> 32, dec2 -> 8,
// dec1 -> 16; conv 16 -> 32 classes.
TEST_CASE("small.unet is UNet003Small", "[dsl][examples]") {
    NetworkSpec s = parse_example("small");
    check_common_defaults(s);
    CHECK(s.name == "small");
    CHECK(s.in_channels == 3);
    CHECK(s.classes == 32);
    CHECK(s.encoder == std::vector<int>{4, 8, 32, 64});
    CHECK(s.decoder == std::vector<int>{32, 8, 16});
    CHECK(s.encoder_convs == 1);  // the block's convs
    CHECK(s.decoder_convs == 1);
    CHECK(s.block.bias == true);
    CHECK(s.block.norm == NormKind::BatchNorm);
    CHECK(s.block.order == NormOrder::ConvNormRelu);
    CHECK(s.up == UpMode::Transposed);
    CHECK(s.up_kernel == 3);
    CHECK(s.skip_order == SkipOrder::UpFirst);
    CHECK(s.skip_match == SkipMatch::Exact);
    CHECK(s.pre.empty());
    CHECK(s.post.empty());
}

// UNet003Large: prep0..2 = cbr 64, 64, 32; levels 8/28/56/112; upconvs 112->56, 56->28, 28->8
// (k3 s2 p1 op1); dec3 -> 56, dec2 -> 28, dec1 -> 48; then dec0 (48 -> 64) and conv_p1..3 (64),
// four single-conv units after the decoder; conv 64 -> 256 classes.
TEST_CASE("large.unet is UNet003Large", "[dsl][examples]") {
    NetworkSpec s = parse_example("large");
    check_common_defaults(s);
    CHECK(s.name == "large");
    CHECK(s.in_channels == 3);
    CHECK(s.classes == 256);
    CHECK(s.pre == std::vector<int>{64, 64, 32});
    CHECK(s.encoder == std::vector<int>{8, 28, 56, 112});
    CHECK(s.decoder == std::vector<int>{56, 28, 48});
    CHECK(s.post == std::vector<int>{64, 64, 64, 64});
    CHECK(s.encoder_convs == 1);
    CHECK(s.decoder_convs == 1);
    CHECK(s.block.norm == NormKind::BatchNorm);
    CHECK(s.block.bias == true);
    CHECK(s.up == UpMode::Transposed);
    CHECK(s.up_kernel == 3);
    CHECK(s.skip_order == SkipOrder::UpFirst);
    CHECK(s.skip_match == SkipMatch::Exact);
}

TEST_CASE("section positions are recorded for later passes", "[dsl][examples]") {
    NetworkSpec s = parse_example("large");
    std::vector<std::string> order;
    for (const auto &[section, pos] : s.section_pos) order.push_back(section);
    CHECK(order == std::vector<std::string>{"network", "input", "output", "pre", "encoder", "decoder", "post",
                                            "block", "up", "skip"});
    CHECK(s.section_pos[4].second.line == 8);  // "encoder channels = [8, 28, 56, 112]"
    CHECK(s.section_pos[4].second.col == 1);
}
