// check_report.cpp — the reports of `unetgen check` (see check_report.h).
//
// std::string layer_table(const Network &net, int64_t h, int64_t w)
//   One row per layer (name, op, output [C, H, W], parameters, FLOPs), then totals and the symbolic
//   output extent. The other functions here answer the questions around it: which extent to use by
//   default, why an extent is rejected, whether a pool drops rows, and how to draw the U.
#include "dsl/check_report.h"
#include "dsl/layer_ops.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

namespace unetgen {
namespace {

// Search radius of the default-extent and nearest-extent searches (the programs are cheap to run).
constexpr int64_t kSearchRadius = 4096;
constexpr int64_t kPreferredExtent = 256;

std::string group_thousands(int64_t n) {
    std::string digits = std::to_string(n < 0 ? -n : n), out;
    for (size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return n < 0 ? "-" + out : out;
}

// 1234567 -> "1.23M"; keeps the FLOPs column narrow.
std::string human(double v) {
    const char *units[] = {"", "K", "M", "G", "T"};
    int u = 0;
    while (v >= 1000.0 && u < 4) { v /= 1000.0; ++u; }
    return u == 0 ? fmt::format("{:.0f}", v) : fmt::format("{:.2f}{}", v, units[u]);
}

std::string join(const std::vector<int64_t> &values) {
    std::string out;
    for (size_t i = 0; i < values.size(); ++i) out += (i ? ", " : "") + std::to_string(values[i]);
    return out;
}

const Layer *find_layer(const Network &net, const std::string &name) {
    for (const Layer &l : net.layers)
        if (l.name == name) return &l;
    return nullptr;
}

std::string at_input(const std::string &axis, int64_t extent) {
    return axis.empty() ? fmt::format("at input {}", extent) : fmt::format("at input {} {}", axis, extent);
}


}  // namespace

const char *layer_op_name(LayerOp op) { return op < LayerOp::Count ? layer_op_info(op).name : "?"; }

std::string layer_op_label(const Layer &l) {
    switch (l.op) {
    case LayerOp::Input: return "Input";
    case LayerOp::Conv: {
        std::string s = fmt::format("Conv{}x{}{}{}{}{}", l.kernel, l.kernel, l.stride > 1 ? fmt::format(" s{}", l.stride) : "",
                                    l.dilation > 1 ? fmt::format(" d{}", l.dilation) : "",
                                    l.pad == 0 && l.kernel > 1 ? " valid" : "",
                                    l.pad > 0 && l.padding_mode != PaddingMode::Zeros
                                        ? std::string(" ") + padding_mode_name(l.padding_mode)
                                        : "");
        const std::string act = !l.prelu_module.empty()        ? "PReLU"
                                : l.act == UnitActivation::Elu  ? "ELU"
                                : l.act == UnitActivation::Gelu ? "GELU"
                                : l.relu_slope != 0              ? fmt::format("LeakyReLU({:g})", l.relu_slope)
                                                                 : "ReLU";
        if (l.norm != NormKind::None) {
            const std::string norm = l.norm == NormKind::BatchNorm ? "BN"
                                     : l.norm == NormKind::Instance ? (l.norm_affine ? "IN(affine)" : "IN")
                                                                    : fmt::format("GN({}){}", l.norm_groups,
                                                                                  l.norm_affine ? "" : "(no affine)");
            if (!l.relu) s += "+" + norm;
            else s += l.norm_order == NormOrder::ConvNormRelu ? "+" + norm + "+" + act : "+" + act + "+" + norm;
        }
        else if (l.relu)
            s += "+" + act;
        if (l.activation == Activation::Sigmoid) s += "+Sigmoid";
        return s;
    }
    case LayerOp::ConvTranspose:
        return fmt::format("ConvT{}x{} s{}{}{}", l.kernel, l.kernel, l.stride,
                           l.pad ? fmt::format(" p{} op{}", l.pad, l.output_padding) : "",
                           l.norm == NormKind::None ? ""
                           : std::string(l.norm == NormKind::Instance ? (l.norm_affine ? "+IN(affine)" : "+IN") : "+GN") +
                                 (l.relu ? (l.prelu_module.empty() ? "+ReLU" : "+PReLU") : ""));
    case LayerOp::MaxPool: return "MaxPool2x2";
    case LayerOp::AvgPool: return "AvgPool2x2";
    case LayerOp::Upsample:
        if (l.up_mode == UpMode::Nearest) return "Upsample x2 nearest";
        return l.align_corners ? "Upsample x2 bilinear ac" : "Upsample x2 bilinear";
    case LayerOp::Concat: {
        return fmt::format("Concat {} {}", l.skip_order == SkipOrder::SkipFirst ? "skip+up" : "up+skip",
                           skip_match_name(l.skip_match));
    }
    case LayerOp::Add: return l.relu ? "Add+ReLU" : "Add";
    case LayerOp::Multiply: return "Multiply (gate)";
    case LayerOp::Head: {
        std::string s = "Conv1x1 head";
        if (l.activation != Activation::None) s += std::string("+") + activation_name(l.activation);
        return s;
    }
    case LayerOp::Count: break;
    }
    return "?";
}

const char *module_kind_name(ModuleKind kind) {
    switch (kind) {
    case ModuleKind::Conv2d: return "Conv2d";
    case ModuleKind::ConvTranspose2d: return "ConvTranspose2d";
    case ModuleKind::BatchNorm2d: return "BatchNorm2d";
    case ModuleKind::InstanceNorm2d: return "InstanceNorm2d";
    case ModuleKind::GroupNorm: return "GroupNorm";
    case ModuleKind::PReLU: return "PReLU";
    }
    return "?";
}

std::string output_size_formula(const Network &net) {
    return "H_out = " + net.sizes.to_string(net.output().size, "H");
}

std::optional<int64_t> default_check_extent(const Network &net) {
    const SizeProgram &sp = net.sizes;
    for (int64_t s = kPreferredExtent; s <= kPreferredExtent + kSearchRadius; ++s)
        if (sp.pools_evenly(s)) return s;
    for (int64_t s = kPreferredExtent; s <= kPreferredExtent + kSearchRadius; ++s)
        if (sp.accepts(s)) return s;
    std::vector<int64_t> near = sp.nearest_accepted(kPreferredExtent, 1);
    if (!near.empty()) return near[0];
    return std::nullopt;
}

std::string size_rejection(const Network &net, int64_t extent, const std::string &axis) {
    const SizeProgram &sp = net.sizes;
    const int bad = sp.first_violation(extent);
    if (bad == -1) return {};
    if (bad == -2) return fmt::format("cannot run {} {}: an input must be at least 1 pixel", net.spec.name,
                                      at_input(axis, extent));
    if (bad == -3) return fmt::format("cannot run {} {}: its size arithmetic overflows 64 bits", net.spec.name,
                                      at_input(axis, extent));
    const SizeConstraint &c = sp.constraints[size_t(bad)];
    const std::vector<int64_t> v = sp.evaluate(extent);
    switch (c.kind) {
    case SizeConstraint::Kind::Positive: {
        const Layer *l = find_layer(net, c.what);
        const int64_t in = l && !l->inputs.empty() ? v[size_t(net.layers[size_t(l->inputs[0])].size)] : 0;
        return fmt::format("cannot compute {} {}: its {}-pixel input gives an output of {} pixels, and every "
                           "layer needs at least 1",
                           c.what, at_input(axis, extent), in, v[size_t(c.a)]);
    }
    case SizeConstraint::Kind::GreaterEqual:
        return fmt::format("cannot concatenate {} {}: skip {} is smaller than the upsampled {}", c.what,
                           at_input(axis, extent), v[size_t(c.a)], v[size_t(c.b)]);
    case SizeConstraint::Kind::Equal:
        return fmt::format("cannot concatenate {} {}: skip {} differs from the upsampled {}, and an exact "
                           "skip match needs equal sizes",
                           c.what, at_input(axis, extent), v[size_t(c.a)], v[size_t(c.b)]);
    case SizeConstraint::Kind::Even: break;  // advisory, never rejects
    }
    return {};
}

std::string odd_pooling_warning(const Network &net, int64_t h, int64_t w) {
    const SizeProgram &sp = net.sizes;
    for (int axis = 0; axis < 2; ++axis) {
        const int64_t extent = axis == 0 ? h : w;
        const std::vector<int64_t> v = sp.evaluate(extent);
        for (const SizeConstraint &c : sp.constraints) {
            if (c.kind != SizeConstraint::Kind::Even || v[size_t(c.a)] % 2 == 0) continue;
            return fmt::format("input {} {} makes {} drop its last {} (its input is {} pixels, odd); extents "
                               "that pool evenly near {}: {}",
                               axis == 0 ? "height" : "width", extent, c.what, axis == 0 ? "row" : "column",
                               v[size_t(c.a)], extent, join(sp.nearest_even_pooling(extent, 4)));
        }
    }
    return {};
}

std::string layer_table(const Network &net, int64_t h, int64_t w) {
    const std::vector<int64_t> hs = net.sizes.evaluate(h), ws = net.sizes.evaluate(w);
    size_t name_w = 5, op_w = 2;
    for (const Layer &l : net.layers) {
        name_w = std::max(name_w, l.name.size());
        op_w = std::max(op_w, layer_op_label(l).size());
    }
    auto shape = [&](const Layer &l) {
        return fmt::format("[{}, {}, {}]", l.out_channels, hs[size_t(l.size)], ws[size_t(l.size)]);
    };
    size_t shape_w = 12;
    for (const Layer &l : net.layers) shape_w = std::max(shape_w, shape(l).size());
    const std::string header = fmt::format("{:<{}}  {:<{}}  {:<{}}  {:>12}  {:>9}", "Layer", name_w, "Op", op_w,
                                           "Output Shape", shape_w, "Param #", "FLOPs");
    const std::string rule(header.size(), '-');
    std::string out = rule + "\n" + header + "\n" + std::string(header.size(), '=') + "\n";
    for (size_t i = 0; i < net.layers.size(); ++i) {
        const Layer &l = net.layers[i];
        out += fmt::format("{:<{}}  {:<{}}  {:<{}}  {:>12}  {:>9}\n", l.name, name_w, layer_op_label(l), op_w,
                           shape(l), shape_w, group_thousands(layer_params(net, int(i))),
                           human(layer_flops(net, int(i), hs, ws)));
    }
    out += std::string(header.size(), '=') + "\n";
    const double flops = net.flops(h, w);
    out += fmt::format("Total params: {}\n", group_thousands(net.param_count()));
    out += fmt::format("Total FLOPs: {} ({:.2f} GFLOPs, 2 x multiply-accumulates)\n", human(flops), flops / 1e9);
    out += fmt::format("Input shape: [{}, {}, {}]  Output shape: {}\n", net.spec.in_channels, h, w, shape(net.output()));
    out += output_size_formula(net) + "  (W_out: the same in W)\n";
    out += rule + "\n";
    return out;
}

std::vector<int64_t> verification_extents(const Network &net) {
    std::vector<int64_t> out;
    for (int64_t s = 1; s <= kSearchRadius && out.size() < 4; ++s) {
        if (!net.sizes.accepts(s)) continue;
        const std::vector<int64_t> extents = net.sizes.evaluate(s);
        bool wide = true;
        for (const Layer &l : net.layers) wide = wide && extents[size_t(l.size)] >= 3;
        if (wide) out.push_back(s);
    }
    return out;
}

namespace {

// The norm and activation after a conv-like layer (convs; transposed convs with `up norm`).
void add_norm_and_act_attributes(const Layer &l, nlohmann::json &j) {
    j["relu"] = l.relu;
    j["act"] = unit_activation_name(l.act);
    j["relu_slope"] = l.relu_slope;
    j["prelu_module"] = l.prelu_module;
    j["norm"] = norm_name(l.norm);
    j["norm_order"] = norm_order_name(l.norm_order);
    j["eps"] = l.bn_eps;
    j["bn_module"] = l.bn_module;
    j["norm_affine"] = l.norm_affine;
    j["norm_groups"] = l.norm_groups;
}

// What a PyTorch module needs to rebuild the layer (python/unetgen/torch/spec_module.py does).
void add_layer_attributes(const Layer &l, nlohmann::json &j) {
    switch (l.op) {
    case LayerOp::Conv:
    case LayerOp::Head:
        j["kernel"] = l.kernel;
        j["stride"] = l.stride;
        j["padding"] = l.pad;
        j["bias"] = l.bias;
        j["conv_module"] = l.conv_module;
        j["dilation"] = l.dilation;
        j["padding_mode"] = padding_mode_name(l.padding_mode);
        j["activation"] = activation_name(l.activation);
        add_norm_and_act_attributes(l, j);
        break;
    case LayerOp::ConvTranspose:
        j["kernel"] = l.kernel;
        j["stride"] = l.stride;
        j["padding"] = l.pad;
        j["output_padding"] = l.output_padding;
        j["bias"] = l.bias;
        j["conv_module"] = l.conv_module;
        add_norm_and_act_attributes(l, j);  // `up norm = true`: the block's norm and activation follow
        break;
    case LayerOp::MaxPool:
    case LayerOp::AvgPool:
        j["kernel"] = l.kernel;
        j["stride"] = l.stride;
        break;
    case LayerOp::Upsample:
        j["mode"] = up_mode_name(l.up_mode);
        j["align_corners"] = l.align_corners;
        break;
    case LayerOp::Concat:
        j["order"] = skip_order_name(l.skip_order);
        j["match"] = skip_match_name(l.skip_match);
        break;
    case LayerOp::Add: j["relu"] = l.relu; break;
    case LayerOp::Multiply:
    case LayerOp::Input:
    case LayerOp::Count: break;
    }
}

}  // namespace

nlohmann::json check_json(const Network &net, int64_t h, int64_t w) {
    using nlohmann::json;
    const std::vector<int64_t> hs = net.sizes.evaluate(h), ws = net.sizes.evaluate(w);
    auto shape = [&](const Layer &l) { return json::array({l.out_channels, hs[size_t(l.size)], ws[size_t(l.size)]}); };
    json layers = json::array();
    for (size_t i = 0; i < net.layers.size(); ++i) {
        const Layer &l = net.layers[i];
        json inputs = json::array();
        for (int in : l.inputs) inputs.push_back(net.layers[size_t(in)].name);
        layers.push_back({{"name", l.name},
                          {"op", layer_op_name(l.op)},
                          {"inputs", inputs},
                          {"in_channels", l.in_channels},
                          {"out_channels", l.out_channels},
                          {"output_shape", shape(l)},
                          {"level", l.level},
                          {"params", layer_params(net, int(i))},
                          {"flops", layer_flops(net, int(i), hs, ws)},
                          {"line", l.pos.line}});
        add_layer_attributes(l, layers.back());
    }
    json sections = json::object();
    for (const auto &[section, pos] : net.spec.section_pos) sections[section] = pos.line;
    json weights = json::array();
    for (const WeightTensor &t : net.weights)
        weights.push_back({{"name", t.name},
                           {"shape", t.shape},
                           {"module", t.module_name},
                           {"module_kind", module_kind_name(t.module)},
                           {"layer", net.layers[size_t(t.layer)].name}});
    return {{"name", net.spec.name},
            {"file", net.spec.file},
            {"in_channels", net.spec.in_channels},
            {"classes", net.spec.classes},
            {"activation", activation_name(net.spec.activation)},
            {"threshold", net.spec.threshold},
            {"mean", net.spec.mean},
            {"std", net.spec.std},
            {"sections", sections},
            {"verification_extents", verification_extents(net)},
            {"params", net.param_count()},
            {"flops", net.flops(h, w)},
            {"input_shape", json::array({net.spec.in_channels, h, w})},
            {"output_shape", shape(net.output())},
            {"pools_evenly", net.sizes.pools_evenly(h) && net.sizes.pools_evenly(w)},
            {"size_formula", output_size_formula(net)},
            {"patch", net.spec.patch_h > 0 ? json::array({net.spec.patch_h, net.spec.patch_w}) : json(nullptr)},
            {"patch_step", net.spec.patch_step},
            {"layers", layers},
            {"weights", weights}};
}

std::string network_dot(const Network &net, int64_t h, int64_t w) {
    const std::vector<int64_t> hs = net.sizes.evaluate(h), ws = net.sizes.evaluate(w);
    // Rows of the U: one per level, top to bottom. Pre units and the input sit on level 0's row at
    // its left, post units and the head at its right; same-rank edges keep each row in order.
    std::map<int, std::vector<int>> rows;
    for (size_t i = 0; i < net.layers.size(); ++i) rows[std::max(0, net.layers[i].level)].push_back(int(i));
    std::string out = fmt::format("digraph \"{}\" {{\n  rankdir=TB;\n  newrank=true;\n  nodesep=0.25;\n"
                                  "  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=10];\n"
                                  "  edge [color=\"#555555\"];\n",
                                  net.spec.name);
    for (size_t i = 0; i < net.layers.size(); ++i) {
        const Layer &l = net.layers[i];
        // Convs outside the levels (pre / post units) stand out from the levels' own.
        const char *fill = l.op == LayerOp::Conv && l.level < 0 ? "#fff2cc" : layer_op_info(l.op).dot_fill;
        out += fmt::format("  n{} [label=\"{}\\n{}\\n{}x{}x{}\", fillcolor=\"{}\"];\n", i, l.name, layer_op_label(l),
                           l.out_channels, hs[size_t(l.size)], ws[size_t(l.size)], fill);
    }
    for (const auto &[level, members] : rows) {
        out += fmt::format("  {{ rank=same; // level {}\n   ", level);
        for (int i : members) out += fmt::format(" n{};", i);
        out += "\n  }\n";
    }
    for (size_t i = 0; i < net.layers.size(); ++i) {
        const Layer &l = net.layers[i];
        for (size_t k = 0; k < l.inputs.size(); ++k) {
            const bool skip = l.op == LayerOp::Concat && k == 0;
            out += fmt::format("  n{} -> n{}{};\n", l.inputs[k], i,
                               skip ? " [style=dashed, color=\"#6c8ebf\", label=\"skip\", fontsize=8]" : "");
        }
    }
    out += "}\n";
    return out;
}

}  // namespace unetgen
