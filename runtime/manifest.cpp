// manifest.cpp — parse_manifest(): read and check the manifest JSON a generated library embeds.
#include "runtime/manifest.h"

#include "common/packed_weights.h"
#include "common/winograd.h"

#include "runtime/runtime_failure.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <climits>
#include <cmath>

namespace unetgen::rt {

using nlohmann::json;

namespace {

// Field access that turns every wrong type or range into one readable message.
struct Reader {
    std::string network = "?";

    [[noreturn]] void bad(const std::string &field, const std::string &rule) const {
        fail(UNETGEN_ERR_BAD_NETWORK, "cannot use the manifest of network " + network + ": \"" + field + "\" " + rule);
    }
    const json &get(const json &obj, const char *key, const std::string &path) const {
        auto it = obj.find(key);
        if (it == obj.end()) bad(path, "is missing");
        return *it;
    }
    int64_t integer(const json &obj, const char *key, const std::string &path, int64_t lo, int64_t hi) const {
        const json &v = get(obj, key, path);
        if (!v.is_number_integer()) bad(path, "must be an integer");
        int64_t x = v.get<int64_t>();
        if (x < lo || x > hi) bad(path, "is " + std::to_string(x) + ", outside [" + std::to_string(lo) + ", " +
                                            std::to_string(hi) + "]");
        return x;
    }
    double number(const json &obj, const char *key, const std::string &path) const {
        const json &v = get(obj, key, path);
        if (!v.is_number() || !std::isfinite(v.get<double>())) bad(path, "must be a finite number");
        return v.get<double>();
    }
    std::string string(const json &obj, const char *key, const std::string &path) const {
        const json &v = get(obj, key, path);
        if (!v.is_string()) bad(path, "must be a string");
        return v.get<std::string>();
    }
    // A string or null ("" for null).
    std::string optional_string(const json &obj, const char *key, const std::string &path) const {
        auto it = obj.find(key);
        if (it == obj.end() || it->is_null()) return "";
        if (!it->is_string()) bad(path, "must be a string or null");
        return it->get<std::string>();
    }
    const json &array(const json &obj, const char *key, const std::string &path) const {
        const json &v = get(obj, key, path);
        if (!v.is_array()) bad(path, "must be an array");
        return v;
    }
};

void read_sizes(const Reader &r, const json &s, Manifest &m) {
    if (!s.is_object()) r.bad("sizes", "must be an object");
    const json &nodes = r.array(s, "nodes", "sizes.nodes");
    if (nodes.empty() || nodes.size() > 100000) r.bad("sizes.nodes", "must hold 1 to 100000 nodes");
    m.sizes.nodes.clear();
    for (size_t i = 0; i < nodes.size(); ++i) {
        const std::string p = "sizes.nodes[" + std::to_string(i) + "]";
        if (!nodes[i].is_object()) r.bad(p, "must be an object");
        std::string op = r.string(nodes[i], "op", p + ".op");
        SizeNode n;
        // Operands must name earlier nodes, so evaluation never reads an unset value.
        auto operand = [&](const char *key) { return int(r.integer(nodes[i], key, p + "." + key, 0, int64_t(i) - 1)); };
        if (op == "input") {
            if (i != 0) r.bad(p, "is an input node, but only node 0 may be");
            n.op = SizeNode::Op::Input;
        } else if (op == "add" || op == "mul" || op == "floordiv") {
            n.op = op == "add" ? SizeNode::Op::AddConst : op == "mul" ? SizeNode::Op::MulConst : SizeNode::Op::FloorDivConst;
            n.a = operand("a");
            n.k = r.integer(nodes[i], "k", p + ".k", -(1 << 20), 1 << 20);
            if (n.op == SizeNode::Op::FloorDivConst && n.k == 0) r.bad(p + ".k", "must not be 0 for floordiv");
        } else if (op == "sub" || op == "min") {
            n.op = op == "sub" ? SizeNode::Op::Sub : SizeNode::Op::Min;
            n.a = operand("a");
            n.b = operand("b");
        } else {
            r.bad(p + ".op", "is \"" + op + "\", not input, add, mul, floordiv, sub or min");
        }
        if (i == 0 && n.op != SizeNode::Op::Input) r.bad(p, "must be the input node");
        m.sizes.nodes.push_back(n);
    }
    const int64_t last = int64_t(nodes.size()) - 1;
    const json &cons = r.array(s, "constraints", "sizes.constraints");
    for (size_t i = 0; i < cons.size(); ++i) {
        const std::string p = "sizes.constraints[" + std::to_string(i) + "]";
        if (!cons[i].is_object()) r.bad(p, "must be an object");
        SizeConstraint c;
        std::string kind = r.string(cons[i], "kind", p + ".kind");
        if (kind == "positive") c.kind = SizeConstraint::Kind::Positive;
        else if (kind == "ge") c.kind = SizeConstraint::Kind::GreaterEqual;
        else if (kind == "eq") c.kind = SizeConstraint::Kind::Equal;
        else if (kind == "even") c.kind = SizeConstraint::Kind::Even;
        else r.bad(p + ".kind", "is \"" + kind + "\", not positive, ge, eq or even");
        c.a = int(r.integer(cons[i], "a", p + ".a", 0, last));
        if (c.kind == SizeConstraint::Kind::GreaterEqual || c.kind == SizeConstraint::Kind::Equal)
            c.b = int(r.integer(cons[i], "b", p + ".b", 0, last));
        auto w = cons[i].find("what");
        if (w != cons[i].end() && w->is_string()) c.what = w->get<std::string>();
        m.sizes.constraints.push_back(c);
    }
    m.output_node = int(r.integer(s, "output", "sizes.output", 0, last));
}

PackingEntry read_packing(const Reader &r, const json &e, const std::string &p, int64_t packed) {
    if (!e.is_object()) r.bad(p, "must be an object");
    PackingEntry pe;
    pe.layer = r.string(e, "layer", p + ".layer");
    std::string kind = r.string(e, "kind", p + ".kind");
    if (kind != kPackingKindConv && kind != kPackingKindConvTranspose)
        r.bad(p + ".kind", "is \"" + kind + "\", not " + kPackingKindConv + " or " + kPackingKindConvTranspose);
    pe.transposed = kind == kPackingKindConvTranspose;
    pe.weight = r.string(e, "weight", p + ".weight");
    pe.bias = r.optional_string(e, "bias", p + ".bias");
    pe.bn = r.optional_string(e, "bn", p + ".bn");
    if (e.contains("norm")) {
        std::string norm = r.string(e, "norm", p + ".norm");
        if (norm != kNormInstance && norm != kNormGroup)
            r.bad(p + ".norm", "is \"" + norm + "\", not " + kNormInstance + " or " + kNormGroup);
        pe.sample_norm = true;
    }
    if (!pe.bn.empty() && !pe.sample_norm) {
        pe.bn_eps = r.number(e, "bn_eps", p + ".bn_eps");
        if (!(pe.bn_eps >= 0)) r.bad(p + ".bn_eps", "must not be negative");
        std::string pos = r.string(e, "bn_position", p + ".bn_position");
        if (pos != kBnBeforeRelu && pos != kBnAfterRelu)
            r.bad(p + ".bn_position", "is \"" + pos + "\", not " + kBnBeforeRelu + " or " + kBnAfterRelu);
        pe.bn_after_relu = pos == kBnAfterRelu;
    }
    pe.out_channels = int(r.integer(e, "out_channels", p + ".out_channels", 1, 1 << 20));
    pe.in_channels = int(r.integer(e, "in_channels", p + ".in_channels", 1, 1 << 20));
    pe.kernel = int(r.integer(e, "kernel", p + ".kernel", 1, 64));
    pe.layout = r.string(e, "layout", p + ".layout");
    if (std::string why = packed_layout_problem(pe.layout); !why.empty())
        r.bad(p + ".layout", "is \"" + pe.layout + "\": " + why);
    pe.o_block = int(r.integer(e, "o_block", p + ".o_block", 0, pe.out_channels));
    if (pe.o_block > 0 && pe.out_channels % pe.o_block != 0)
        r.bad(p + ".o_block", "is " + std::to_string(pe.o_block) + ", which does not divide out_channels " +
                                  std::to_string(pe.out_channels));
    // Every range the packer writes must lie inside the packed buffer.
    auto range = [&](const char *key, int64_t count, bool optional) {
        int64_t off = r.integer(e, key, p + "." + key, optional ? -1 : 0, packed);
        if (off >= 0 && off + count > packed)
            r.bad(p + "." + key, "is " + std::to_string(off) + ", so its " + std::to_string(count) +
                                     " floats run past packed_floats " + std::to_string(packed));
        return off;
    };
    if (e.contains("winograd")) {
        pe.winograd = int(r.integer(e, "winograd", p + ".winograd", 2, 4));
        if (pe.winograd != 2 && pe.winograd != 4) r.bad(p + ".winograd", "is " + std::to_string(pe.winograd) + ", not 2 or 4");
        else if (pe.transposed || pe.kernel != 3 || pe.out_channels % kWinogradOutBlock != 0)
            r.bad(p + ".winograd", "needs a 3x3 conv (not transposed) with out_channels a multiple of " +
                                       std::to_string(kWinogradOutBlock) + ", this entry has kernel " +
                                       std::to_string(pe.kernel) + " and " + std::to_string(pe.out_channels) +
                                       " output channels");
    }
    const bool winograd = pe.winograd == 2 || pe.winograd == 4;
    // An optional bf16 format key: true when present, kWinogradFormatBf16 ("bf16_vnni_panel16") and `allowed`, else the rule broken.
    auto bf16_format = [&](const char *key, bool allowed, const std::string &rule) {
        if (!e.contains(key)) return false;
        const std::string format = r.string(e, key, p + "." + key);
        if (format != kWinogradFormatBf16) r.bad(p + "." + key, "is \"" + format + "\", not " + kWinogradFormatBf16);
        else if (!allowed) r.bad(p + "." + key, rule);
        return format == kWinogradFormatBf16 && allowed;
    };
    pe.winograd_bf16 = bf16_format("winograd_format", winograd && pe.in_channels % kWinogradBf16InBlock == 0,
                                   "needs \"winograd\" and in_channels a multiple of " +
                                       std::to_string(kWinogradBf16InBlock) + ", this entry has " +
                                       std::to_string(pe.in_channels));
    pe.transpose_bf16 = bf16_format("gemm_format",
                                    pe.transposed && pe.kernel == 2 && pe.in_channels % kWinogradBf16InBlock == 0 &&
                                        pe.out_channels % kWinogradOutBlock == 0,
                                    "needs a 2x2 conv_transpose with in_channels a multiple of " +
                                        std::to_string(kWinogradBf16InBlock) + " and out_channels of " +
                                        std::to_string(kWinogradOutBlock));
    int64_t wcount = pe.transpose_bf16 ? transpose_bf16_floats(pe.out_channels, pe.in_channels)
                     : pe.winograd_bf16 ? winograd_bf16_floats(pe.winograd, pe.out_channels, pe.in_channels)
                     : winograd       ? winograd_weight_floats(pe.winograd, pe.out_channels, pe.in_channels)
                                      : int64_t(pe.out_channels) * pe.in_channels * pe.kernel * pe.kernel;
    pe.weight_offset = range("weight_offset", wcount, false);
    pe.bias_offset = range("bias_offset", pe.out_channels, false);
    if (pe.bn_after_relu || pe.sample_norm) {
        pe.scale_offset = range("scale_offset", pe.out_channels, false);
        pe.shift_offset = range("shift_offset", pe.out_channels, false);
    }
    if (e.contains("prelu")) {
        pe.prelu = r.string(e, "prelu", p + ".prelu");
        pe.act_offset = range("act_offset", 1, false);
    }
    auto sz = e.find("size");
    if (sz != e.end() && sz->is_number_integer()) pe.size_node = sz->get<int>();
    return pe;
}

// "geometry": every reference in range (inputs earlier, size nodes existing), shapes sane.
void read_geometry(const Reader &r, const json &layers, Manifest &m) {
    using G = GeometryLayer;
    const int64_t nodes = int64_t(m.sizes.nodes.size()) - 1;
    TileGeometry &g = m.geometry;
    for (size_t i = 0; i < layers.size(); ++i) {
        const std::string p = "geometry[" + std::to_string(i) + "]";
        const json &e = layers[i];
        if (!e.is_object()) r.bad(p, "must be an object");
        G l;
        l.name = r.string(e, "name", p + ".name");
        const std::string op = r.string(e, "op", p + ".op");
        if (op == "input") l.op = G::Op::Input;
        else if (op == "conv") l.op = G::Op::Conv;
        else if (op == "conv_transpose") l.op = G::Op::ConvTranspose;
        else if (op == "maxpool") l.op = G::Op::MaxPool;
        else if (op == "upsample") l.op = G::Op::Upsample;
        else if (op == "concat") l.op = G::Op::Concat;
        else r.bad(p + ".op", "is \"" + op + "\", not input, conv, conv_transpose, maxpool, upsample or concat");
        if ((i == 0) != (l.op == G::Op::Input)) r.bad(p + ".op", "must be input for the first layer only");
        const json &in = r.array(e, "inputs", p + ".inputs");
        const size_t want = l.op == G::Op::Input ? 0 : l.op == G::Op::Concat ? 2 : 1;
        if (in.size() != want) r.bad(p + ".inputs", "must hold " + std::to_string(want) + " layer indices");
        for (size_t k = 0; k < in.size(); ++k) {
            if (!in[k].is_number_integer() || in[k].get<int64_t>() < 0 || in[k].get<int64_t>() >= int64_t(i))
                r.bad(p + ".inputs", "must name earlier layers");
            l.inputs[k] = in[k].get<int>();
        }
        l.size = int(r.integer(e, "size", p + ".size", 0, nodes));
        l.channels = int(r.integer(e, "channels", p + ".channels", 1, 1 << 20));
        if (l.op == G::Op::Conv || l.op == G::Op::ConvTranspose) {
            l.kernel = int(r.integer(e, "kernel", p + ".kernel", 1, 64));
            l.pad = int(r.integer(e, "pad", p + ".pad", 0, 64));
            l.stride = int(r.integer(e, "stride", p + ".stride", 1, 16));
            l.macs_per_pixel = r.integer(e, "macs_per_pixel", p + ".macs_per_pixel", 0, int64_t(1) << 40);
        } else if (l.op == G::Op::Upsample) {
            const std::string mode = r.string(e, "mode", p + ".mode");
            if (mode != "bilinear" && mode != "nearest") r.bad(p + ".mode", "must be bilinear or nearest");
            l.bilinear = mode == "bilinear";
            const json &ac = r.get(e, "align_corners", p + ".align_corners");
            if (!ac.is_boolean()) r.bad(p + ".align_corners", "must be true or false");
            l.align_corners = ac.get<bool>();
        } else if (l.op == G::Op::Concat) {
            const std::string match = r.string(e, "match", p + ".match");
            if (match == "crop") l.match = G::Match::Crop;
            else if (match == "pad") l.match = G::Match::Pad;
            else if (match == "exact") l.match = G::Match::Exact;
            else if (match == "replicate") l.match = G::Match::Replicate;
            else r.bad(p + ".match", "must be crop, pad, exact or replicate");
            l.offset = int(r.integer(e, "offset", p + ".offset", -1, nodes));
        }
        if (e.contains("grid")) l.grid = int(r.integer(e, "grid", p + ".grid", 1, 64));
        for (const char *key : {"round", "staged_round"}) {
            int *dst = std::string(key) == "round" ? l.round : l.staged_round;
            auto it = e.find(key);
            if (it == e.end()) continue;  // 1 x 1
            if (!it->is_array() || it->size() != 2 || !(*it)[0].is_number_integer() || !(*it)[1].is_number_integer() ||
                (*it)[0].get<int64_t>() < 1 || (*it)[1].get<int64_t>() < 1 || (*it)[0].get<int64_t>() > 4096 ||
                (*it)[1].get<int64_t>() > 4096)
                r.bad(p + "." + key, "must be two integers in [1, 4096]");
            dst[0] = (*it)[0].get<int>();
            dst[1] = (*it)[1].get<int>();
        }
        if (e.contains("task_rows")) {
            l.task_rows = r.integer(e, "task_rows", p + ".task_rows", 1, 1 << 20);
            l.task_bytes_per_column = r.integer(e, "task_bytes_per_column", p + ".task_bytes_per_column", 0, int64_t(1) << 32);
        }
        l.stored_channels = r.integer(e, "stored_channels", p + ".stored_channels", 0, 1 << 21);
        l.staged_channels = r.integer(e, "staged_channels", p + ".staged_channels", 0, 1 << 21);
        l.transient_bytes = r.integer(e, "transient_bytes", p + ".transient_bytes", 0, int64_t(1) << 40);
        g.layers.push_back(l);
    }
    // The output layer: the head conv, or (a network without a head) its last decoder layer.
    if (g.layers.empty() || g.layers.back().channels != m.classes)
        r.bad("geometry", "must end with the output layer, of `classes` channels");
    g.sizes = m.sizes;
}

}  // namespace

Manifest parse_manifest(const char *json_text) {
    Reader r;
    if (json_text == nullptr) r.bad("manifest", "is missing (NULL manifest_json)");
    json j;
    try {
        j = json::parse(json_text);
    } catch (const json::exception &e) {
        fail(UNETGEN_ERR_BAD_NETWORK, std::string("cannot use the network manifest: it is not valid JSON (") + e.what() + ")");
    }
    if (!j.is_object()) r.bad("manifest", "must be a JSON object");
    Manifest m;
    if (auto n = j.find("name"); n != j.end() && n->is_string()) r.network = n->get<std::string>();
    m.format = int(r.integer(j, "format", "format", 1, 1));
    m.name = r.string(j, "name", "name");
    m.in_channels = int(r.integer(j, "in_channels", "in_channels", 1, 4096));
    m.classes = int(r.integer(j, "classes", "classes", 1, 1 << 20));
    m.activation = r.string(j, "activation", "activation");
    if (m.activation != "none" && m.activation != "sigmoid" && m.activation != "softmax")
        r.bad("activation", "is \"" + m.activation + "\", not none, sigmoid or softmax");
    m.threshold = j.contains("threshold") ? r.number(j, "threshold", "threshold") : 0.5;
    for (const char *key : {"mean", "std"}) {
        const json &a = r.array(j, key, key);
        if (a.size() != size_t(m.in_channels))
            r.bad(key, "has " + std::to_string(a.size()) + " values for " + std::to_string(m.in_channels) + " channels");
        std::vector<double> &dst = std::string(key) == "mean" ? m.mean : m.std;
        for (const json &v : a) {
            if (!v.is_number()) r.bad(key, "must hold numbers");
            dst.push_back(v.get<double>());
        }
    }
    for (double s : m.std)
        if (!(s > 0)) r.bad("std", "must hold positive numbers");
    read_sizes(r, r.get(j, "sizes", "sizes"), m);

    const json &tensors = r.array(j, "tensors", "tensors");
    for (size_t i = 0; i < tensors.size(); ++i) {
        const std::string p = "tensors[" + std::to_string(i) + "]";
        if (!tensors[i].is_object()) r.bad(p, "must be an object");
        ManifestTensor t;
        t.name = r.string(tensors[i], "name", p + ".name");
        for (const json &d : r.array(tensors[i], "shape", p + ".shape")) {
            if (!d.is_number_integer() || d.get<int64_t>() < 0) r.bad(p + ".shape", "must hold non-negative integers");
            t.shape.push_back(d.get<int64_t>());
        }
        m.tensors.push_back(std::move(t));
    }
    // One Halide buffer holds the packed weights: 32-bit extent and offsets.
    m.packed_floats = r.integer(j, "packed_floats", "packed_floats", 0, int64_t(INT32_MAX));
    const json &packing = r.array(j, "packing", "packing");
    for (size_t i = 0; i < packing.size(); ++i)
        m.packing.push_back(read_packing(r, packing[i], "packing[" + std::to_string(i) + "]", m.packed_floats));
    if (auto g = j.find("geometry"); g != j.end()) {
        if (!g->is_array()) r.bad("geometry", "must be an array");
        read_geometry(r, *g, m);
    }
    if (j.contains("patch")) {
        const json &p = r.array(j, "patch", "patch");
        if (p.size() != 2 || !p[0].is_number_integer() || !p[1].is_number_integer() || p[0].get<int64_t>() < 1 ||
            p[1].get<int64_t>() < 1 || p[0].get<int64_t>() > (1 << 16) || p[1].get<int64_t>() > (1 << 16))
            r.bad("patch", "must be [height, width], each from 1 to 65536");
        m.patch_h = p[0].get<int>();
        m.patch_w = p[1].get<int>();
        m.patch_step = r.number(j, "patch_step", "patch_step");
        if (!(m.patch_step > 0 && m.patch_step <= 1)) r.bad("patch_step", "must be in (0, 1]");
    }
    if (auto st = j.find("sample_statistics"); st != j.end()) {
        if (!st->is_boolean()) r.bad("sample_statistics", "must be true or false");
        m.sample_statistics = st->get<bool>();
    }
    bool norms = false;
    for (const PackingEntry &e : m.packing) norms = norms || e.sample_norm;
    if (norms && !m.sample_statistics) r.bad("sample_statistics", "must be true: a packing entry has an instance / group norm");
    return m;
}

int64_t packed_weight_index(const PackingEntry &e, int o, int i, int h, int w) {
    return packed_index<PackingEntry, int64_t>(e, o, i, h, w);  // common/packed_weights.h, as the pipeline reads
}

}  // namespace unetgen::rt
