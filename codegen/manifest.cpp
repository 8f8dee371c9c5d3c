// manifest.cpp — write_manifest(): everything the runtime needs to know about a built network.
//
// Fields follow docs/architecture.md, "The manifest". Besides the contract fields it carries
// "flops": per conv-like layer its multiply-accumulates per pixel of a size-program node, so
// `unetgen bench` can turn a measured time into GFLOP/s for any input size.
#include "codegen/manifest.h"
#include "common/packed_weights.h"
#include "common/winograd.h"

#include <nlohmann/json.hpp>

namespace unetgen::codegen {

namespace {

using json = nlohmann::ordered_json;


json sizes_json(const SizeProgram &sizes, int output_node) {
    json nodes = json::array();
    for (const SizeNode &n : sizes.nodes) {
        json j;
        switch (n.op) {
        case SizeNode::Op::Input: j["op"] = "input"; break;
        case SizeNode::Op::AddConst: j = {{"op", "add"}, {"a", n.a}, {"k", n.k}}; break;
        case SizeNode::Op::MulConst: j = {{"op", "mul"}, {"a", n.a}, {"k", n.k}}; break;
        case SizeNode::Op::FloorDivConst: j = {{"op", "floordiv"}, {"a", n.a}, {"k", n.k}}; break;
        case SizeNode::Op::Sub: j = {{"op", "sub"}, {"a", n.a}, {"b", n.b}}; break;
        case SizeNode::Op::Min: j = {{"op", "min"}, {"a", n.a}, {"b", n.b}}; break;
        }
        nodes.push_back(j);
    }
    json constraints = json::array();
    for (const SizeConstraint &c : sizes.constraints) {
        const char *kind = "positive";
        switch (c.kind) {
        case SizeConstraint::Kind::Positive: kind = "positive"; break;
        case SizeConstraint::Kind::GreaterEqual: kind = "ge"; break;
        case SizeConstraint::Kind::Equal: kind = "eq"; break;
        case SizeConstraint::Kind::Even: kind = "even"; break;
        }
        constraints.push_back({{"kind", kind}, {"a", c.a}, {"b", c.b}, {"what", c.what}});
    }
    return {{"nodes", nodes}, {"constraints", constraints}, {"output", output_node}};
}

json null_or(const std::string &s) { return s.empty() ? json(nullptr) : json(s); }

json geometry_json(const TileGeometry &g) {
    json layers = json::array();
    for (const GeometryLayer &l : g.layers) {
        json e = {{"name", l.name}, {"op", geometry_op_name(l.op)}, {"size", l.size}, {"channels", l.channels}};
        json in = json::array();
        for (int k : l.inputs)
            if (k >= 0) in.push_back(k);
        e["inputs"] = in;
        switch (l.op) {
        case GeometryLayer::Op::Conv:
        case GeometryLayer::Op::ConvTranspose:
            e["kernel"] = l.kernel;
            e["pad"] = l.pad;
            e["stride"] = l.stride;
            e["macs_per_pixel"] = l.macs_per_pixel;
            break;
        case GeometryLayer::Op::Upsample:
            e["mode"] = l.bilinear ? "bilinear" : "nearest";
            e["align_corners"] = l.align_corners;
            break;
        case GeometryLayer::Op::Concat:
            switch (l.match) {
            case GeometryLayer::Match::Crop: e["match"] = "crop"; break;
            case GeometryLayer::Match::Pad: e["match"] = "pad"; break;
            case GeometryLayer::Match::Exact: e["match"] = "exact"; break;
            case GeometryLayer::Match::Replicate: e["match"] = "replicate"; break;
            }
            e["offset"] = l.offset;
            break;
        default: break;
        }
        e["round"] = {l.round[0], l.round[1]};
        e["staged_round"] = {l.staged_round[0], l.staged_round[1]};
        if (l.grid > 0) e["grid"] = l.grid;
        if (l.task_rows > 0) {
            e["task_rows"] = l.task_rows;
            e["task_bytes_per_column"] = l.task_bytes_per_column;
        }
        e["stored_channels"] = l.stored_channels;
        e["staged_channels"] = l.staged_channels;
        e["transient_bytes"] = l.transient_bytes;
        layers.push_back(e);
    }
    return layers;
}

}  // namespace

std::string geometry_op_name(GeometryLayer::Op op) {
    switch (op) {
    case GeometryLayer::Op::Input: return "input";
    case GeometryLayer::Op::Conv: return "conv";
    case GeometryLayer::Op::ConvTranspose: return "conv_transpose";
    case GeometryLayer::Op::MaxPool: return "maxpool";
    case GeometryLayer::Op::Upsample: return "upsample";
    case GeometryLayer::Op::Concat: return "concat";
    }
    return "?";
}

std::string write_manifest(const Network &net, const WeightPlan &plan, const std::string &name,
                           const TileGeometry &geometry) {
    const NetworkSpec &spec = net.spec;
    json m;
    m["format"] = 1;
    m["name"] = name;
    m["in_channels"] = spec.in_channels;
    m["classes"] = spec.classes;
    m["activation"] = activation_name(spec.activation);
    m["threshold"] = spec.threshold;
    m["mean"] = spec.mean;
    m["std"] = spec.std;
    m["sizes"] = sizes_json(net.sizes, net.output().size);
    if (spec.patch_h > 0) {
        m["patch"] = {spec.patch_h, spec.patch_w};
        m["patch_step"] = spec.patch_step;
    }

    json tensors = json::array();
    for (const WeightTensor &w : net.weights) tensors.push_back({{"name", w.name}, {"shape", w.shape}});
    m["tensors"] = tensors;
    m["packed_floats"] = plan.packed_floats;

    json packing = json::array(), flops = json::array();
    for (const LayerPacking &p : plan.layers) {
        const Layer &l = net.layers[size_t(p.layer)];
        json e;
        e["layer"] = p.name;
        e["kind"] = p.transpose ? kPackingKindConvTranspose : kPackingKindConv;
        e["weight"] = p.weight;
        e["bias"] = null_or(p.bias);
        e["bn"] = null_or(p.bn);
        e["bn_eps"] = p.bn_eps;
        e["bn_position"] = p.bn_after_relu ? kBnAfterRelu : kBnBeforeRelu;
        if (p.sample_norm != NormKind::None) e["norm"] = p.sample_norm == NormKind::Group ? kNormGroup : kNormInstance;
        e["out_channels"] = p.out_channels;
        e["in_channels"] = p.in_channels;
        e["kernel"] = p.kernel;
        e["layout"] = p.layout;
        e["o_block"] = p.o_block;
        if (p.winograd_u) e["winograd"] = p.winograd;  // U = G g G^T packed (common/winograd.h), layout unused
        if (p.winograd_bf16) e["winograd_format"] = kWinogradFormatBf16;
        if (p.transpose_bf16) e["gemm_format"] = kWinogradFormatBf16;  // [(kh, kw, o) / 16][i / 2][16][i % 2] bf16
        e["weight_offset"] = p.weight_offset;
        e["bias_offset"] = p.bias_offset;
        e["scale_offset"] = p.scale_offset;
        e["shift_offset"] = p.shift_offset;
        if (!p.prelu.empty()) {
            e["prelu"] = p.prelu;
            e["act_offset"] = p.act_offset;
        }
        e["size"] = l.size;
        packing.push_back(e);
        // Same counting as Network::flops: a transposed conv per pixel of its input.
        const int node = p.transpose ? net.layers[size_t(l.inputs.at(0))].size : l.size;
        flops.push_back({{"name", p.name},
                         {"macs_per_pixel", int64_t(p.in_channels) * p.out_channels * p.kernel * p.kernel},
                         {"size_node", node}});
    }
    m["packing"] = packing;
    m["flops"] = flops;
    m["geometry"] = geometry_json(geometry);
    bool sample_statistics = false;
    for (const Layer &l : net.layers) sample_statistics = sample_statistics || norm_uses_sample_statistics(l.norm);
    m["sample_statistics"] = sample_statistics;
    return m.dump(2) + "\n";
}

}  // namespace unetgen::codegen
