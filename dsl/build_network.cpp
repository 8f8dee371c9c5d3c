// build_network.cpp — lowers a validated NetworkSpec into the layer IR (see network_ir.h).
//
// Network build_network(const NetworkSpec &spec)
//   Emits the layers in the order PyTorch runs the reference modules: input, pre units, encoder
//   levels 0..depth-1 (a max-pool in front of every level but the first), then per decoder level
//   l = depth-2..0 the upsampler, the skip concat and the block convs, then post units and the
//   1x1 head. Weights are listed as each layer is emitted, which makes their order the canonical
//   order (the order forward hooks fire on the Conv2d / ConvTranspose2d / BatchNorm2d modules).
//   Every layer's spatial extent is a SizeProgram node, with the constraints that make PyTorch
//   raise (empty outputs, a skip smaller than / different from the upsampled tensor) and the
//   advisory Even constraint in front of each max-pool.
#include "dsl/network_ir.h"

#include <string>
#include <utility>

namespace unetgen {
namespace {

class NetworkBuilder {
public:
    explicit NetworkBuilder(const NetworkSpec &spec) { net_.spec = spec; }

    Network build() {
        const NetworkSpec &spec = net_.spec;
        Layer input;
        input.name = "input";
        input.op = LayerOp::Input;
        input.in_channels = spec.in_channels;
        input.out_channels = spec.in_channels;
        input.size = net_.sizes.input();
        input.pos = section("input");
        int x = add_layer(std::move(input));

        for (size_t i = 0; i < spec.pre.size(); ++i) {
            std::string prefix = "pre" + std::to_string(i);
            x = conv_unit(x, spec.pre[i], prefix + ".conv", prefix + ".bn", -1, section("pre"));
        }

        // Encoder: level l's output is the skip of decoder level l (the bottleneck has none).
        const int depth = int(spec.encoder.size());
        std::vector<int> skips;
        for (int l = 0; l < depth; ++l) {
            if (l > 0 && spec.down != DownMode::Conv) x = max_pool(x, l);  // max- or avg-pool
            // The level's first conv downsamples: below the top (nnU-Net), or above the bottleneck (MONAI's UNet).
            const bool strided = spec.down_levels == DownLevels::BelowTop ? l > 0 : l < depth - 1;
            const int stride = strided && spec.down == DownMode::Conv ? 2 : 1;
            x = block(x, spec.encoder[l], spec.encoder_convs, spec.encoder_mid, "enc" + std::to_string(l), l,
                      section("encoder"), stride);
            skips.push_back(x);
        }

        // Attention U-Net: a gating conv unit on the bottleneck, the coarsest gate's signal.
        const bool gated = spec.skip_gate == SkipGate::Attention;
        int gating = -1;
        if (gated) {
            const int c = layer(x).out_channels;
            gating = plain_conv(x, c, 1, 1, 0, true, true, Activation::None, true, "gating.conv", "gating.bn", depth - 1,
                                section("skip"));
        }

        // Decoder, deepest first. spec.decoder[d] is the output width of level depth-2-d; a hand-built
        // spec without decoder widths gets the parser's default (the skip's width).
        for (int l = depth - 2; l >= 0; --l) {
            size_t d = size_t(depth - 2 - l);
            int out = d < spec.decoder.size() ? spec.decoder[d] : spec.encoder[l];
            // Levels 1..depth-2 gate their skip, with the signal of the level below (the top skip is not gated).
            const int skip = gated && l >= 1 ? attention_gate(skips[l], l == depth - 2 ? gating : x, l) : skips[l];
            // Without a head the top block's last conv makes the classes, bare (MONAI's last_conv_only).
            const bool bare = !spec.head && l == 0 && spec.post.empty();
            if (spec.decoder_order == DecoderOrder::MergeThenUp) {
                // MONAI's UNet: cat(skip, below) at the skip's resolution, then the up conv, then the block.
                const int cat = concat(skip, x, l);
                const int up = upsample(cat, skips[l], l);
                x = block(up, out, spec.decoder_convs, spec.decoder_mid, "dec" + std::to_string(l), l, section("decoder"), 1,
                          bare);
                continue;
            }
            int up = upsample(x, skips[l], l);
            int cat = concat(skip, up, l);
            x = block(cat, out, spec.decoder_convs, spec.decoder_mid, "dec" + std::to_string(l), l,
                      section("decoder"), 1, bare);
        }

        for (size_t i = 0; i < spec.post.size(); ++i) {
            std::string prefix = "post" + std::to_string(i);
            x = conv_unit(x, spec.post[i], prefix + ".conv", prefix + ".bn", -1, section("post"), 1,
                          !spec.head && i + 1 == spec.post.size());
        }
        if (spec.head) head(x);  // else the last layer is the output (lower_network applies spec.activation)
        return std::move(net_);
    }

private:
    Network net_;

    // Where a section header was seen, for layers that section produced.
    SourcePos section(const std::string &key) const {
        for (const auto &[name, pos] : net_.spec.section_pos)
            if (name == key) return pos;
        return {};
    }

    const Layer &layer(int i) const { return net_.layers[size_t(i)]; }

    // Appends a layer; every output must be at least one pixel (PyTorch raises on an empty output).
    int add_layer(Layer l) {
        if (l.op != LayerOp::Input)
            net_.sizes.constraints.push_back({SizeConstraint::Kind::Positive, l.size, -1, l.name});
        net_.layers.push_back(std::move(l));
        return int(net_.layers.size()) - 1;
    }

    // `a + k`, folding a chain of constant additions so formulas read "H - 4", not "H - 2 - 2".
    int add_const(int a, int64_t k) {
        SizeProgram &sp = net_.sizes;
        if (k == 0) return a;
        const SizeNode n = sp.nodes[size_t(a)];
        if (n.op == SizeNode::Op::AddConst) return sp.add_const(n.a, n.k + k);
        return sp.add_const(a, k);
    }

    void add_weight(std::string module, const char *field, std::vector<int64_t> shape, WeightRole role,
                    ModuleKind kind, int layer_index) {
        WeightTensor w;
        w.name = module + "." + field;
        w.shape = std::move(shape);
        w.role = role;
        w.module = kind;
        w.module_name = std::move(module);
        w.layer = layer_index;
        net_.weights.push_back(std::move(w));
    }

    // One conv unit: KxK conv (+bias) with the block's norm and activation (none of them when `bare`:
    // the last conv of a network without a head, as MONAI's last_conv_only).
    int conv_unit(int in, int out_channels, const std::string &conv_module, const std::string &bn_module,
                  int level, SourcePos pos, int stride = 1, bool bare = false) {
        const BlockSpec &b = net_.spec.block;
        Layer l;
        l.name = conv_module;
        l.op = LayerOp::Conv;
        l.inputs = {in};
        l.in_channels = layer(in).out_channels;
        l.out_channels = out_channels;
        l.kernel = b.kernel;
        l.stride = stride;
        l.dilation = b.dilation;
        l.padding_mode = b.padding_mode;
        const int span = b.dilation * (b.kernel - 1) + 1;  // the input pixels one output pixel reads, per axis
        l.pad = b.padding == Padding::Same ? b.dilation * (b.kernel / 2) : 0;
        // Output extent: s + 2*pad - (span-1) at stride 1; floor((s + 2*pad - span) / stride) + 1 in general.
        l.size = stride == 1 ? add_const(layer(in).size, int64_t(2 * l.pad - (span - 1)))
                             : add_const(net_.sizes.floordiv_const(add_const(layer(in).size, int64_t(2 * l.pad - span)), stride),
                                         1);
        // PyTorch's reflect padding needs more input pixels than it pads (else it raises).
        if (l.padding_mode == PaddingMode::Reflect && l.pad > 0)
            net_.sizes.constraints.push_back(
                {SizeConstraint::Kind::Positive, add_const(layer(in).size, -int64_t(l.pad)), -1, conv_module});
        l.bias = b.bias;
        l.conv_module = conv_module;
        if (!bare) set_norm_and_act(l, bn_module);
        l.level = level;
        l.pos = pos;
        const int64_t o = out_channels, i = l.in_channels, k = b.kernel;
        const Layer unit = l;
        int idx = add_layer(std::move(l));
        add_weight(conv_module, "weight", {o, i, k, k}, WeightRole::ConvWeight, ModuleKind::Conv2d, idx);
        if (b.bias) add_weight(conv_module, "bias", {o}, WeightRole::ConvBias, ModuleKind::Conv2d, idx);
        add_norm_and_act_weights(unit, idx);
        return idx;
    }

    // The block's norm and activation on a conv-like layer whose out_channels is set; `bn_module` is
    // the seed-style BatchNorm name ("enc0.bn1"), from which the other modules are named.
    void set_norm_and_act(Layer &l, const std::string &bn_module) const {
        const BlockSpec &b = net_.spec.block;
        l.relu = true;
        l.act = b.act;
        l.relu_slope = b.act == UnitActivation::LeakyRelu ? b.slope : 0.0;
        if (b.act == UnitActivation::PRelu) l.prelu_module = renamed(bn_module, "act");
        l.norm = b.norm;
        l.norm_order = b.order;
        l.bn_eps = b.eps;
        // BatchNorm modules keep their seed names ("enc0.bn0"); per-sample norms are "enc0.norm0".
        if (b.norm != NormKind::None) l.bn_module = norm_uses_sample_statistics(b.norm) ? renamed(bn_module, "norm") : bn_module;
        l.norm_affine = norm_uses_sample_statistics(b.norm) && b.affine;
        l.norm_groups = b.norm == NormKind::Group ? b.groups : b.norm == NormKind::Instance ? l.out_channels : 0;
    }

    // The tensors set_norm_and_act's modules bring, in the order PyTorch runs them (norm, then activation).
    void add_norm_and_act_weights(const Layer &l, int idx) {
        const int64_t o = l.out_channels;
        if (l.norm == NormKind::BatchNorm) {
            add_weight(l.bn_module, "weight", {o}, WeightRole::BnWeight, ModuleKind::BatchNorm2d, idx);
            add_weight(l.bn_module, "bias", {o}, WeightRole::BnBias, ModuleKind::BatchNorm2d, idx);
            add_weight(l.bn_module, "running_mean", {o}, WeightRole::BnMean, ModuleKind::BatchNorm2d, idx);
            add_weight(l.bn_module, "running_var", {o}, WeightRole::BnVar, ModuleKind::BatchNorm2d, idx);
        }
        if (l.norm_affine) {
            const ModuleKind kind = l.norm == NormKind::Group ? ModuleKind::GroupNorm : ModuleKind::InstanceNorm2d;
            add_weight(l.bn_module, "weight", {o}, WeightRole::NormWeight, kind, idx);
            add_weight(l.bn_module, "bias", {o}, WeightRole::NormBias, kind, idx);
        }
        if (!l.prelu_module.empty())
            add_weight(l.prelu_module, "weight", {1}, WeightRole::PreluWeight, ModuleKind::PReLU, idx);
    }

    // A conv of its own shape (not the block's unit): KxK, stride, zero padding, bias, with the block's
    // BatchNorm when `norm` (and the block has one), then ReLU or `activation`.
    int plain_conv(int in, int out_channels, int kernel, int stride, int pad, bool bias, bool norm, Activation activation,
                   bool relu, const std::string &conv_module, const std::string &bn_module, int level, SourcePos pos) {
        const BlockSpec &b = net_.spec.block;
        Layer l;
        l.name = conv_module;
        l.op = LayerOp::Conv;
        l.inputs = {in};
        l.in_channels = layer(in).out_channels;
        l.out_channels = out_channels;
        l.kernel = kernel;
        l.stride = stride;
        l.pad = pad;
        l.size = stride == 1 ? add_const(layer(in).size, int64_t(2 * pad - (kernel - 1)))
                             : add_const(net_.sizes.floordiv_const(add_const(layer(in).size, int64_t(2 * pad - kernel)), stride), 1);
        l.bias = bias;
        l.relu = relu;
        l.activation = activation;
        const bool bn = norm && b.norm == NormKind::BatchNorm;
        l.norm = bn ? NormKind::BatchNorm : NormKind::None;
        l.bn_eps = b.eps;
        l.conv_module = conv_module;
        if (bn) l.bn_module = bn_module;
        l.level = level;
        l.pos = pos;
        const int64_t o = out_channels, i = l.in_channels, k = kernel;
        const Layer unit = l;
        int idx = add_layer(std::move(l));
        add_weight(conv_module, "weight", {o, i, k, k}, WeightRole::ConvWeight, ModuleKind::Conv2d, idx);
        if (bias) add_weight(conv_module, "bias", {o}, WeightRole::ConvBias, ModuleKind::Conv2d, idx);
        add_norm_and_act_weights(unit, idx);  // its BatchNorm, if any (no PReLU: relu here is a plain ReLU)
        return idx;
    }

    // An elementwise layer of two inputs of one size (Add: equal channels; Multiply: alpha one channel).
    int binary(LayerOp op, int a, int b, bool relu, const std::string &name, int level) {
        Layer l;
        l.name = name;
        l.op = op;
        l.inputs = {a, b};
        l.in_channels = layer(a).out_channels + layer(b).out_channels;
        l.out_channels = layer(a).out_channels;
        l.relu = relu;
        l.size = layer(a).size;
        l.level = level;
        l.pos = section("skip");
        net_.sizes.constraints.push_back({SizeConstraint::Kind::Equal, layer(a).size, layer(b).size, name});
        return add_layer(std::move(l));
    }

    // Oktay et al.'s additive attention gate on skip x with gating signal g (half x's resolution),
    // inter channels = x's, then MultiAttentionBlock's output convs:
    //   alpha = sigmoid(psi(relu(theta(x) + phi(g)))), bilinearly resized to x; y = combine(W(alpha * x)).
    int attention_gate(int x, int g, int level) {
        const std::string p = "att" + std::to_string(level);
        const SourcePos pos = section("skip");
        const int c = layer(x).out_channels;
        const int theta = plain_conv(x, c, 2, 2, 0, false, false, Activation::None, false, p + ".theta", "", level, pos);
        const int phi = plain_conv(g, c, 1, 1, 0, true, false, Activation::None, false, p + ".phi", "", level, pos);
        const int sum = binary(LayerOp::Add, theta, phi, true, p + ".add", level);
        const int psi = plain_conv(sum, 1, 1, 1, 0, true, false, Activation::Sigmoid, false, p + ".psi", "", level, pos);
        Layer up;
        up.name = p + ".up";
        up.op = LayerOp::Upsample;
        up.inputs = {psi};
        up.in_channels = up.out_channels = 1;
        up.up_mode = UpMode::Bilinear;
        up.align_corners = false;
        up.size = net_.sizes.mul_const(layer(psi).size, 2);
        up.level = level;
        up.pos = pos;
        const int alpha = add_layer(std::move(up));
        const int gate = binary(LayerOp::Multiply, x, alpha, false, p + ".gate", level);
        const int w = plain_conv(gate, c, 1, 1, 0, true, true, Activation::None, false, p + ".w.conv", p + ".w.bn", level, pos);
        return plain_conv(w, c, 1, 1, 0, true, true, Activation::None, true, p + ".combine.conv", p + ".combine.bn", level,
                          pos);
    }

    // renamed("enc0.bn1", "norm") -> "enc0.norm1": the name of another module of the same unit.
    static std::string renamed(const std::string &bn_module, const std::string &kind) {
        const size_t dot = bn_module.rfind('.');
        const size_t at = dot == std::string::npos ? 0 : dot + 1;
        if (bn_module.compare(at, 2, "bn") != 0) return bn_module + "." + kind;
        return bn_module.substr(0, at) + kind + bn_module.substr(at + 2);
    }

    // An encoder or decoder block of `convs` conv units named prefix.conv{j} / prefix.bn{j}.
    // With `block residual = monai`, MONAI's ResidualUnit: the shortcut (a KxK strided conv, a 1x1 conv
    // where the channels change, else the input itself; MONAI runs it first) added to the convs' output.
    // `bare_last`: the last conv has no norm or activation (a network without a head).
    int block(int in, int out_channels, int convs, MidRule mid, const std::string &prefix, int level,
              SourcePos pos, int first_stride = 1, bool bare_last = false) {
        const BlockSpec &b = net_.spec.block;
        const int in_channels = layer(in).out_channels;
        int shortcut = in;
        if (b.residual == Residual::Monai) {
            if (first_stride != 1)
                shortcut = plain_conv(in, out_channels, b.kernel, first_stride, b.kernel / 2, true, false, Activation::None,
                                      false, prefix + ".res", "", level, pos);
            else if (in_channels != out_channels)
                shortcut = plain_conv(in, out_channels, 1, 1, 0, true, false, Activation::None, false, prefix + ".res", "",
                                      level, pos);
        }
        int x = in;
        for (int j = 0; j < convs; ++j) {
            // MidRule::HalfIn is milesial's DoubleConv(in, out, in // 2): only the first conv narrows.
            int width = (j == convs - 1) ? out_channels
                        : (mid == MidRule::HalfIn && j == 0) ? in_channels / 2
                                                             : out_channels;
            std::string jj = std::to_string(j);
            x = conv_unit(x, width, prefix + ".conv" + jj, prefix + ".bn" + jj, level, pos, j == 0 ? first_stride : 1,
                          bare_last && j == convs - 1);
        }
        if (b.residual == Residual::Monai) x = binary(LayerOp::Add, x, shortcut, false, prefix + ".add", level);
        return x;
    }

    // 2x2 stride-2 max-pool into level `level`; floors, so an odd input drops its last row/column.
    int max_pool(int in, int level) {
        Layer l;
        l.name = "enc" + std::to_string(level) + ".pool";
        l.op = net_.spec.down == DownMode::AvgPool ? LayerOp::AvgPool : LayerOp::MaxPool;
        l.inputs = {in};
        l.in_channels = l.out_channels = layer(in).out_channels;
        l.kernel = 2;
        l.stride = 2;
        l.size = net_.sizes.floordiv_const(layer(in).size, 2);
        l.level = level;
        l.pos = section("down");
        net_.sizes.constraints.push_back({SizeConstraint::Kind::Even, layer(in).size, -1, l.name});
        return add_layer(std::move(l));
    }

    // The upsampler into decoder level `level` (its skip is `skip`): transposed conv or x2 resize.
    int upsample(int in, int skip, int level) {
        const NetworkSpec &spec = net_.spec;
        Layer l;
        l.name = "up" + std::to_string(level);
        l.inputs = {in};
        l.in_channels = layer(in).out_channels;
        l.level = level;
        l.pos = section("up");
        if (spec.up != UpMode::Transposed) {
            l.op = LayerOp::Upsample;
            l.out_channels = l.in_channels;
            l.up_mode = spec.up;
            l.align_corners = spec.up == UpMode::Bilinear && spec.align_corners;
            l.size = net_.sizes.mul_const(layer(in).size, 2);
            return add_layer(std::move(l));
        }
        l.op = LayerOp::ConvTranspose;
        switch (spec.up_channels) {
        case UpChannels::Skip: l.out_channels = layer(skip).out_channels; break;
        case UpChannels::Half: l.out_channels = l.in_channels / 2; break;
        case UpChannels::Same: l.out_channels = l.in_channels; break;
        }
        // An explicit list, deepest first (MONAI BasicUNet halves all but the top upsampler).
        const size_t d = size_t(int(spec.encoder.size()) - 2 - level);
        if (d < spec.up_channel_list.size()) l.out_channels = spec.up_channel_list[d];
        l.kernel = spec.up_kernel;
        l.stride = 2;
        // kernel 2: stride 2, no padding; kernel 3: padding 1, output_padding 1. Both double the extent.
        l.pad = spec.up_kernel == 3 ? 1 : 0;
        l.output_padding = spec.up_kernel == 3 ? 1 : 0;
        // PyTorch: (s - 1) * stride - 2 * pad + kernel + output_padding.
        int scaled = net_.sizes.mul_const(layer(in).size, l.stride);
        l.size = add_const(scaled, int64_t(-l.stride - 2 * l.pad + l.kernel + l.output_padding));
        l.bias = spec.up_bias;
        l.conv_module = l.name;
        if (spec.up_norm) set_norm_and_act(l, l.name + ".bn");  // MONAI: ConvTranspose -> norm -> act ("up0.norm")
        const int64_t i = l.in_channels, o = l.out_channels, k = l.kernel;
        const bool bias = l.bias;
        const std::string module = l.name;
        const Layer unit = l;
        int idx = add_layer(std::move(l));
        add_weight(module, "weight", {i, o, k, k}, WeightRole::ConvWeight, ModuleKind::ConvTranspose2d, idx);
        if (bias) add_weight(module, "bias", {o}, WeightRole::ConvBias, ModuleKind::ConvTranspose2d, idx);
        add_norm_and_act_weights(unit, idx);
        return idx;
    }

    // Merges skip and upsampled tensors: crop the skip, pad the upsampled tensor, or require equality.
    int concat(int skip, int up, int level) {
        const NetworkSpec &spec = net_.spec;
        SizeProgram &sp = net_.sizes;
        Layer l;
        l.name = "cat" + std::to_string(level);
        l.op = LayerOp::Concat;
        l.inputs = {skip, up};
        l.in_channels = l.out_channels = layer(skip).out_channels + layer(up).out_channels;
        l.skip_order = spec.skip_order;
        l.skip_match = spec.skip_match;
        l.level = level;
        l.pos = section("skip");
        const int s = layer(skip).size, u = layer(up).size;
        switch (spec.skip_match) {
        case SkipMatch::Crop:
        case SkipMatch::Pad:
            // center_crop and F.pad both put floor(diff / 2) before and the rest after.
            sp.constraints.push_back({SizeConstraint::Kind::GreaterEqual, s, u, l.name});
            l.offset = sp.floordiv_const(sp.sub(s, u), 2);
            l.size = spec.skip_match == SkipMatch::Crop ? u : s;
            break;
        case SkipMatch::Exact:
            sp.constraints.push_back({SizeConstraint::Kind::Equal, s, u, l.name});
            l.size = u;
            break;
        case SkipMatch::Replicate:
            // MONAI pads by one where the sizes differ, so they may differ by one at most (else torch.cat raises).
            sp.constraints.push_back({SizeConstraint::Kind::GreaterEqual, s, u, l.name});
            sp.constraints.push_back({SizeConstraint::Kind::GreaterEqual, add_const(u, 1), s, l.name});
            l.size = s;
            break;
        }
        return add_layer(std::move(l));
    }

    void head(int in) {
        const NetworkSpec &spec = net_.spec;
        Layer l;
        l.name = "head";
        l.op = LayerOp::Head;
        l.inputs = {in};
        l.in_channels = layer(in).out_channels;
        l.out_channels = spec.classes;
        l.kernel = 1;
        l.size = layer(in).size;
        l.bias = true;
        l.conv_module = "head";
        l.activation = spec.activation;
        l.pos = section("output");
        const int64_t o = l.out_channels, i = l.in_channels;
        int idx = add_layer(std::move(l));
        add_weight("head", "weight", {o, i, 1, 1}, WeightRole::ConvWeight, ModuleKind::Conv2d, idx);
        add_weight("head", "bias", {o}, WeightRole::ConvBias, ModuleKind::Conv2d, idx);
    }
};

}  // namespace

Network build_network(const NetworkSpec &spec) { return NetworkBuilder(spec).build(); }

}  // namespace unetgen
