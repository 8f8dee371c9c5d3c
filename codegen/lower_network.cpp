// lower_network.cpp — lower_network(): every layer of the IR, in execution order, as Halide Funcs.
//
// Sizes come from the network's SizeProgram evaluated on the whole image's width and height (two
// parameters), so one pipeline serves every input extent the network accepts, and any window of
// it: the input buffer holds (at least) the part of the image the output window needs, and
// zero padding, bilinear index math and skip offsets all use the whole image's sizes. Weights are read from the packed
// buffer at the offsets of `plan`; nothing about the trained values is baked in.
#include "codegen/lowering.h"
#include "dsl/layer_ops.h"

#include <algorithm>
#include <stdexcept>

namespace unetgen::codegen {

namespace {

const LayerPacking &packing_of(const WeightPlan &plan, int li, const Layer &l) {
    const LayerPacking *p = plan.find(li);
    if (!p) throw std::logic_error("cannot lower layer " + l.name + ": the weight plan has no entry for it");
    return *p;
}

}  // namespace

LoweredNetwork lower_network(const Network &net, const WeightPlan &plan, const LoweringChoices &choices) {
    LoweredNetwork ln;
    Dims d;
    // Channels, batch and weights start at 0; x and y are whole-image coordinates of a window.
    for (int k = 2; k < 4; ++k) ln.input.dim(k).set_min(0);
    ln.weights.dim(0).set_min(0);

    std::vector<Halide::Expr> W = size_exprs(net.sizes, ln.image_width);
    std::vector<Halide::Expr> H = size_exprs(net.sizes, ln.image_height);

    const size_t count = net.layers.size();
    ln.tensors.resize(count);
    ln.convs.resize(count);
    ln.ops.resize(count);
    for (size_t li = 0; li < count; ++li) {
        const Layer &l = net.layers[li];
        const std::string name = func_name(l.name);
        ln.ops[li] = l.op;
        auto input_of = [&](size_t k) -> const Tensor & {
            if (k >= l.inputs.size() || l.inputs[k] < 0 || size_t(l.inputs[k]) >= li)
                throw std::logic_error("cannot lower layer " + l.name + ": input " + std::to_string(k) +
                                       " is not an earlier layer");
            return ln.tensors[l.inputs[k]];
        };
        Tensor out;
        // An instance / group norm after a conv-like layer (then the unit's activation, conv_norm_relu).
        auto normalise = [&](const LayerPacking &packing) {
            SampleNormOp norm;
            norm.name = name + "_norm";
            norm.groups = l.norm_groups;
            norm.eps = l.bn_eps;
            norm.affine = l.norm_affine;
            norm.relu = l.relu && l.norm_order == NormOrder::ConvNormRelu;
            norm.relu_slope = float(l.relu_slope);
            norm.prelu_offset = packing.act_offset;
            norm.act = l.act;
            ln.convs[li].norm = lower_sample_norm(out, norm, packing, ln.weights);
            out.f = ln.convs[li].norm.result;
        };
        switch (l.op) {
        case LayerOp::Input: {
            Halide::Func f("input_f");
            f(d.x, d.y, d.c, d.n) = ln.input(d.x, d.y, d.c, d.n);
            out = Tensor{f, l.out_channels, W[0], H[0]};
            break;
        }
        case LayerOp::Conv:
        case LayerOp::Head: {
            ConvOp op;
            op.name = name;
            op.kernel = l.kernel;
            op.pad = l.pad;
            const bool sample_norm = l.op == LayerOp::Conv && norm_uses_sample_statistics(l.norm);
            // Before a conv_norm_relu instance / group norm the conv is bare: the norm applies the activation.
            op.relu = l.op == LayerOp::Conv && l.relu && !(sample_norm && l.norm_order == NormOrder::ConvNormRelu);
            op.relu_slope = float(l.relu_slope);
            op.stride = std::max(1, l.stride);
            op.prelu_offset = packing_of(plan, int(li), l).act_offset;
            op.act = l.act;
            op.dilation = std::max(1, l.dilation);
            op.padding_mode = l.padding_mode;
            op.post_affine = l.norm == NormKind::BatchNorm && l.norm_order == NormOrder::ConvReluNorm;
            op.sigmoid = l.op == LayerOp::Conv && l.activation == Activation::Sigmoid;
            // Stage what is not materialised as it is read: inlined ops, and a norm after a conv (so it
            // is computed once per staged pixel, not once per tap).
            const Layer &producer = net.layers[size_t(l.inputs.at(0))];
            op.stage_input = !layer_op_info(producer.op).materialised || norm_uses_sample_statistics(producer.norm);
            const LayerPacking &packing = packing_of(plan, int(li), l);
            ln.convs[li] = packing.winograd > 0 ? lower_conv_winograd(input_of(0), op, packing, ln.weights)
                                                : lower_conv(input_of(0), op, packing, ln.weights);
            out = Tensor{ln.convs[li].result, l.out_channels, W[l.size], H[l.size]};
            if (sample_norm) normalise(packing);
            break;
        }
        case LayerOp::ConvTranspose: {
            ConvTransposeOp op;
            op.name = name;
            op.kernel = l.kernel;
            op.stride = l.stride;
            op.pad = l.pad;
            op.output_padding = l.output_padding;
            op.phases = choices.transpose_phases && l.stride > 1;
            const LayerPacking &packing = packing_of(plan, int(li), l);
            ln.convs[li] = lower_conv_transpose(input_of(0), op, packing, ln.weights);
            out = Tensor{ln.convs[li].result, l.out_channels, W[l.size], H[l.size]};
            // `up norm = true` (MONAI's UNet): ConvTranspose -> instance / group norm -> activation.
            if (norm_uses_sample_statistics(l.norm)) normalise(packing);
            break;
        }
        case LayerOp::MaxPool:
            out = lower_maxpool(input_of(0), name);
            break;
        case LayerOp::AvgPool:
            out = lower_avgpool(input_of(0), name);
            break;
        case LayerOp::Upsample:
            out = lower_upsample(input_of(0), l.up_mode, l.align_corners, name);
            break;
        case LayerOp::Concat: {
            Halide::Expr ox = l.offset >= 0 ? W[l.offset] : Halide::Expr(0);
            Halide::Expr oy = l.offset >= 0 ? H[l.offset] : Halide::Expr(0);
            out = lower_concat(input_of(0), input_of(1), l.skip_order, l.skip_match, ox, oy, name);
            break;
        }
        case LayerOp::Add: out = lower_add(input_of(0), input_of(1), l.relu, name); break;
        case LayerOp::Multiply: out = lower_multiply(input_of(0), input_of(1), name); break;
        case LayerOp::Count: throw std::logic_error("cannot lower layer " + l.name + ": LayerOp::Count is not an op");
        }
        // The size program is the authority on extents (it is what the runtime checks against).
        if (l.op != LayerOp::Input) {
            out.width = W[l.size];
            out.height = H[l.size];
        }
        ln.tensors[li] = out;
    }
    // The last layer is the output: the head, or (output head = none) the last decoder block.
    const Layer &head = net.output();
    if (head.out_channels != net.spec.classes)
        throw std::logic_error("cannot lower network " + net.spec.name + ": its last layer has " +
                               std::to_string(head.out_channels) + " channels, not the " + std::to_string(net.spec.classes) +
                               " classes");
    ln.activation = head.op == LayerOp::Head ? head.activation : net.spec.activation;
    ln.output = lower_activation(ln.tensors.back(), head.activation, ln.activate, ln.softmax_max, ln.softmax_sum);
    for (int k = 2; k < 4; ++k) ln.output.output_buffer().dim(k).set_min(0);
    return ln;
}

}  // namespace unetgen::codegen
