// network_ir.h — the layer graph codegen consumes: layers in execution order, their weights,
// and spatial sizes symbolic in the input extent.
//
// Also the single definition of the canonical weight order: the order of `Network::weights`
// is the order in which PyTorch runs the network's Conv2d / ConvTranspose2d / BatchNorm2d
// modules. tools/export_pytorch.py relies on it (it reads it from `unetgen check --json`).
#pragma once

#include "common/size_program.h"
#include "dsl/network_spec.h"

#include <cstdint>
#include <string>
#include <vector>

namespace unetgen {

enum class WeightRole { ConvWeight, ConvBias, BnWeight, BnBias, BnMean, BnVar, NormWeight, NormBias, PreluWeight };
// The PyTorch module class a weight belongs to (what the exporter matches on).
enum class ModuleKind { Conv2d, ConvTranspose2d, BatchNorm2d, InstanceNorm2d, GroupNorm, PReLU };

struct WeightTensor {
    std::string name;               // e.g. "enc1.conv0.weight", "enc1.bn0.running_var"
    std::vector<int64_t> shape;     // PyTorch shape
    WeightRole role;
    ModuleKind module;
    std::string module_name;        // e.g. "enc1.conv0", "enc1.bn0"
    int layer = -1;                 // index of the Layer that uses it
};

enum class LayerOp {
    Input,          // the network input; channels = in_channels
    Conv,           // KxK conv (+bias) [+BN] [+ReLU], stride 1; the BN is folded at load
    ConvTranspose,  // upsampling transposed conv, stride 2
    MaxPool,        // 2x2, stride 2, floor
    Upsample,       // x2 bilinear or nearest, channels unchanged
    Concat,         // two inputs: merge a skip with an upsampled tensor (crop / pad / exact)
    Head,           // 1x1 conv to classes (+bias); activation applied after (Layer::activation)
    Add,            // two inputs of equal shape summed [+ReLU] (an attention gate's theta(x) + phi(g))
    Multiply,       // inputs {x, alpha}: x * alpha, alpha one channel broadcast over x's (a gate applied)
    AvgPool,        // 2x2, stride 2, floor (nn.AvgPool2d(2))
    // A new op goes above this line, with its row in kLayerOps (dsl/layer_ops.h).
    Count
};

struct Layer {
    std::string name;               // unique, e.g. "enc2.conv1", "enc2.pool", "up1", "cat1", "head"
    LayerOp op = LayerOp::Input;
    std::vector<int> inputs;        // indices of earlier layers; Concat: {skip, upsampled}
    int in_channels = 0;            // sum over inputs
    int out_channels = 0;
    int size = 0;                   // SizeProgram node of this layer's output extent (H and W alike)

    // Conv / ConvTranspose / Head
    int kernel = 0;
    int stride = 1;
    int pad = 0;                    // zero padding each side (Conv); padding for ConvTranspose
    int output_padding = 0;         // ConvTranspose only
    bool bias = false;
    bool relu = false;
    double relu_slope = 0;          // with relu: the negative slope (0: ReLU; LeakyReLU otherwise)
    UnitActivation act = UnitActivation::Relu;  // with relu: which (LeakyRelu: relu_slope; PRelu: prelu_module)
    int dilation = 1;               // Conv
    PaddingMode padding_mode = PaddingMode::Zeros;  // Conv: what the padding reads
    std::string prelu_module;       // with relu: nn.PReLU() whose one learnt slope replaces relu_slope
                                    // (Conv; ConvTranspose with a norm), e.g. "enc0.act0"
    NormKind norm = NormKind::None;
    NormOrder norm_order = NormOrder::ConvNormRelu;
    double bn_eps = 1e-5;
    std::string conv_module;        // weight module names, e.g. "enc0.conv0" / "enc0.bn0" ("enc0.norm0"
    std::string bn_module;          //   for instance / group norms)
    // Instance / group norm (Conv): statistics of each sample over H x W (and the channels of a group)
    bool norm_affine = false;       // a learnt per-channel weight and bias after normalising
    int norm_groups = 0;            // channel groups (instance: out_channels)

    // Upsample
    UpMode up_mode = UpMode::Bilinear;
    bool align_corners = false;

    // Concat: output channels [first input; second input] in `skip_order`; the skip is
    // center-cropped to (Crop) or the upsampled tensor centre-zero-padded to (Pad) the other.
    SkipOrder skip_order = SkipOrder::SkipFirst;
    SkipMatch skip_match = SkipMatch::Exact;
    int offset = -1;                // SizeProgram node: crop offset into the skip (Crop) or
                                    // left/top pad of the upsampled tensor (Pad), floor(diff/2)

    // Head: the output activation; Conv: Sigmoid after the conv (an attention gate's psi)
    Activation activation = Activation::None;

    int level = -1;                 // U level (0 = full resolution), -1 for head/pre/post
    SourcePos pos;                  // spec text that produced it
};

struct Network {
    NetworkSpec spec;
    std::vector<Layer> layers;      // execution order; layers[0] is Input; the last is Head
    std::vector<WeightTensor> weights;  // canonical order
    SizeProgram sizes;

    const Layer &output() const { return layers.back(); }
    int64_t param_count() const;                    // sum of weight numels, BN stats excluded (as PyTorch parameters())
    // multiply-accumulates x2 of every conv / transposed conv for an input of extent h x w
    double flops(int64_t h, int64_t w) const;
};

// Lowers a validated spec into the IR. Never fails for a spec the parser accepted.
Network build_network(const NetworkSpec &spec);

}  // namespace unetgen
