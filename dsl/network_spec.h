// network_spec.h — a parsed and validated .unet file, every default filled in.
//
// The parser (parse_spec.h) produces this; build_network.h turns it into the layer IR. Nothing
// here knows about Halide. Each field remembers where in the source it was set (or the section
// header for defaults) so later passes can still point at the text.
#pragma once

#include <string>
#include <vector>

namespace unetgen {

struct SourcePos {
    int line = 0;  // 1-based; 0 = not from the source (a default)
    int col = 0;   // 1-based
};

enum class Padding { Same, Valid };
// BatchNorm uses running statistics (folded into the conv at load); Instance and Group normalise with
// the statistics of each sample (nn.InstanceNorm2d, track_running_stats=False; nn.GroupNorm) over the
// whole image, so their output at a pixel depends on every pixel (no exact tiles).
enum class NormKind { None, BatchNorm, Instance, Group };
// Where the norm sits in a conv unit: conv -> bn -> relu (usual) or conv -> relu -> bn (seed 000).
enum class NormOrder { ConvNormRelu, ConvReluNorm };
// Middle channels of a multi-conv block: the block's output channels, or half its input (seed 001 bilinear).
enum class MidRule { Out, HalfIn };
// How the encoder halves the resolution between levels: a 2x2 max-pool, or (Conv) a stride-2 first
// conv unit in each level below the top (nnU-Net's and MONAI's downsampling).
enum class DownMode { MaxPool, Conv, AvgPool };
enum class UpMode { Transposed, Bilinear, Nearest };
// Output channels of a transposed-conv upsampler: the skip's channels (every seed), half of its input, or same.
enum class UpChannels { Skip, Half, Same };
enum class SkipOrder { SkipFirst, UpFirst };
// Replicate: MONAI's UpCat: the upsampled tensor gets one replicated column / row at the right /
// bottom where it is one short of the skip (odd sizes after a floor-ing pool).
enum class SkipMatch { Crop, Pad, Exact, Replicate };
enum class Activation { None, Sigmoid, Softmax };
// Gates on the skips: none, or Oktay et al.'s additive attention gates (Attention U-Net).
enum class SkipGate { None, Attention };
inline const char *skip_gate_name(SkipGate g) { return g == SkipGate::Attention ? "attention" : "none"; }

// The spelling of an enum value in the spec language (and in manifests and reports).
inline const char *activation_name(Activation a) {
    switch (a) {
    case Activation::None: return "none";
    case Activation::Sigmoid: return "sigmoid";
    case Activation::Softmax: return "softmax";
    }
    return "none";
}
inline const char *up_mode_name(UpMode mode) {
    switch (mode) {
    case UpMode::Transposed: return "transposed";
    case UpMode::Bilinear: return "bilinear";
    case UpMode::Nearest: return "nearest";
    }
    return "transposed";
}

inline const char *norm_name(NormKind n) {
    switch (n) {
    case NormKind::None: return "none";
    case NormKind::BatchNorm: return "batchnorm";
    case NormKind::Instance: return "instance";
    case NormKind::Group: return "group";
    }
    return "none";
}
// Whether a norm normalises with the sample's own statistics (computed in the pipeline).
inline bool norm_uses_sample_statistics(NormKind n) { return n == NormKind::Instance || n == NormKind::Group; }
inline const char *norm_order_name(NormOrder o) {
    return o == NormOrder::ConvReluNorm ? "conv_relu_norm" : "conv_norm_relu";
}
inline const char *skip_order_name(SkipOrder o) { return o == SkipOrder::UpFirst ? "up_first" : "skip_first"; }
inline const char *skip_match_name(SkipMatch m) {
    switch (m) {
    case SkipMatch::Crop: return "crop";
    case SkipMatch::Pad: return "pad";
    case SkipMatch::Exact: return "exact";
    case SkipMatch::Replicate: return "replicate";
    }
    return "exact";
}

// The activation of every conv unit.
// PRelu: nn.PReLU() with one learnt slope per unit (MONAI's default activation).
// Elu: nn.ELU() (alpha 1); Gelu: nn.GELU() (the exact, erf form).
enum class UnitActivation { Relu, LeakyRelu, PRelu, Elu, Gelu };
inline const char *unit_activation_name(UnitActivation a) {
    switch (a) {
    case UnitActivation::Relu: return "relu";
    case UnitActivation::LeakyRelu: return "leaky_relu";
    case UnitActivation::PRelu: return "prelu";
    case UnitActivation::Elu: return "elu";
    case UnitActivation::Gelu: return "gelu";
    }
    return "relu";
}
// What a conv reads outside its input: zeros, the edge pixel, or the mirror image without the edge
// (PyTorch's padding_mode "zeros", "replicate", "reflect").
enum class PaddingMode { Zeros, Replicate, Reflect };
inline const char *padding_mode_name(PaddingMode m) {
    switch (m) {
    case PaddingMode::Zeros: return "zeros";
    case PaddingMode::Replicate: return "replicate";
    case PaddingMode::Reflect: return "reflect";
    }
    return "zeros";
}
// Which levels' first conv strides with `down mode = conv`: every level below the top (nnU-Net), or
// every level above the bottleneck (MONAI's UNet: the input is downsampled by level 0 already).
enum class DownLevels { BelowTop, AboveBottom };
// A decoder level upsamples then merges its skip (every seed), or merges then upsamples (MONAI's
// UNet: cat(skip, below) at the skip's resolution, then the up conv, then the block).
enum class DecoderOrder { UpThenMerge, MergeThenUp };
// MONAI's ResidualUnit around every block: + a 3x3 strided conv (strided level), a 1x1 conv
// (channels change) or the identity, added after the block's convs (no activation after).
enum class Residual { None, Monai };

struct BlockSpec {
    int convs = 2;
    int kernel = 3;                 // 1 or an odd size up to 7
    Padding padding = Padding::Same;
    bool bias = true;
    NormKind norm = NormKind::None;
    NormOrder order = NormOrder::ConvNormRelu;
    double eps = 1e-5;
    UnitActivation act = UnitActivation::Relu;  // nn.ReLU, or nn.LeakyReLU(slope)
    double slope = 0.01;                        // LeakyReLU's negative_slope (PyTorch's default)
    Residual residual = Residual::None;
    int dilation = 1;                           // the block's convs' dilation (same padding pads dilation * (k / 2))
    PaddingMode padding_mode = PaddingMode::Zeros;
    // Instance / group norm: learnt per-channel weight and bias (PyTorch's `affine`). The parser
    // fills in PyTorch's default when unset: false for InstanceNorm2d, true for GroupNorm.
    bool affine = false;
    int groups = 0;                             // GroupNorm's num_groups (norm = group)
};

struct NetworkSpec {
    std::string file;               // path as given on the command line
    std::string name;               // `network name = ...`, else the file's stem

    // input
    int in_channels = 0;
    std::vector<double> mean;       // per channel, applied to 8-bit input scaled to [0,1]; size in_channels
    std::vector<double> std;        // per channel; size in_channels
    // nnU-Net's sliding-window inference (border = sliding): the patch the network was trained on
    // (height, width; 0: none) and the step between patches as a fraction of it.
    int patch_h = 0, patch_w = 0;
    double patch_step = 0.5;

    // output head: 1x1 conv, always with bias
    int classes = 0;
    Activation activation = Activation::None;
    double threshold = 0.5;         // class mask of a one-class network: prob >= threshold

    // levels: encoder[0] is the full-resolution level, encoder.back() the bottleneck
    std::vector<int> encoder;
    int encoder_convs = 2;
    MidRule encoder_mid = MidRule::Out;
    // decoder output channels, deepest level first; size encoder.size() - 1
    std::vector<int> decoder;
    int decoder_convs = 2;
    MidRule decoder_mid = MidRule::Out;

    BlockSpec block;                // conv unit shared by pre, encoder, decoder and post convs

    DownMode down = DownMode::MaxPool;
    DownLevels down_levels = DownLevels::BelowTop;
    DecoderOrder decoder_order = DecoderOrder::UpThenMerge;
    bool up_norm = false;           // the transposed conv is followed by the block's norm and activation
    bool head = true;               // false: no 1x1 head; the last decoder block makes the classes, its last conv bare

    UpMode up = UpMode::Transposed;
    int up_kernel = 2;              // transposed: 2 (stride 2) or 3 (stride 2, padding 1, output_padding 1)
    bool align_corners = false;     // bilinear only
    UpChannels up_channels = UpChannels::Skip;
    std::vector<int> up_channel_list;  // `up channels = [..]`: each upsampler's width, deepest first (overrides)
    bool up_bias = true;

    SkipOrder skip_order = SkipOrder::SkipFirst;
    SkipMatch skip_match = SkipMatch::Exact;
    SkipGate skip_gate = SkipGate::None;

    std::vector<int> pre;           // extra conv units before the encoder (one conv each)
    std::vector<int> post;          // extra conv units after the decoder, before the head

    // where each section header was seen (for diagnostics from later passes); key = section name
    std::vector<std::pair<std::string, SourcePos>> section_pos;
};

}  // namespace unetgen
