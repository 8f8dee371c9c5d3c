// weight_plan.cpp — plan_weights(): offsets and layouts of every conv in the packed buffer.
//
// Offsets follow the canonical order (the order the runtime reads tensors in), each block
// aligned so the schedule's vector loads of weights start on a cache line.
#include "codegen/weight_plan.h"
#include "dsl/layer_ops.h"

#include <cstring>
#include <stdexcept>
#include <utility>
#include <vector>

namespace unetgen::codegen {

const LayerPacking *WeightPlan::find(int layer_index) const {
    for (const LayerPacking &p : layers)
        if (p.layer == layer_index) return &p;
    return nullptr;
}

// Largest power of two <= limit that divides n; 0 when that is 1 (no blocking).
static int pick_o_block(int n, int limit) {
    int b = 1;
    while (b * 2 <= limit && n % (b * 2) == 0) b *= 2;
    return b > 1 ? b : 0;
}

static int64_t align_up(int64_t v, int a) { return a > 1 ? (v + a - 1) / a * a : v; }

WeightPlan plan_weights(const Network &net, const PackingPolicy &policy) {
    WeightPlan plan;
    int64_t at = 0;
    for (size_t li = 0; li < net.layers.size(); ++li) {
        const Layer &l = net.layers[li];
        if (!layer_op_info(l.op).weights) continue;
        LayerPacking p;
        p.layer = int(li);
        p.name = l.name;
        p.transpose = l.op == LayerOp::ConvTranspose;
        p.weight = l.conv_module + ".weight";
        p.bias = l.bias ? l.conv_module + ".bias" : "";
        p.bn = l.norm == NormKind::BatchNorm ? l.bn_module : "";
        p.bn_eps = l.bn_eps;
        p.bn_after_relu = l.norm == NormKind::BatchNorm && l.norm_order == NormOrder::ConvReluNorm;
        p.out_channels = l.out_channels;
        p.in_channels = l.in_channels;
        p.kernel = l.kernel;
        if (p.transpose) {
            p.layout = policy.transpose_layout;
            p.o_block = pick_o_block(l.out_channels, policy.transpose_o_block);
        } else {
            p.layout = policy.conv_layout;
            p.o_block = pick_o_block(l.out_channels, policy.conv_o_block);
        }
        int64_t numel = int64_t(p.out_channels) * p.in_channels * p.kernel * p.kernel;
        p.weight_offset = at = align_up(at, policy.align_floats);
        at += numel;
        p.bias_offset = at = align_up(at, policy.align_floats);
        at += p.out_channels;
        if (p.bn_after_relu) {
            p.scale_offset = at = align_up(at, policy.align_floats);
            at += p.out_channels;
            p.shift_offset = at = align_up(at, policy.align_floats);
            at += p.out_channels;
        }
        plan.layers.push_back(p);
    }
    plan.packed_floats = at;
    return plan;
}

// Generic over the layout string: the dims in layout order (o split in two when blocked, its outer
// part first and inner part last), then row-major.
template <typename T>
static T index_in_layout(const LayerPacking &p, const T &o, const T &i, const T &h, const T &w) {
    const int ob = p.o_block > 0 ? p.o_block : 0;  // as the runtime reads it: any o_block > 0 splits o
    std::vector<std::pair<int64_t, T>> dims;  // (extent, coordinate), outermost first
    if (ob) dims.push_back({p.out_channels / ob, o / T(ob)});
    bool seen[4] = {false, false, false, false};
    for (char d : p.layout) {
        const char *letters = "oihw";
        const char *at = std::strchr(letters, d);
        if (d == 0 || !at || seen[at - letters])
            throw std::invalid_argument("cannot index packed weights with layout '" + p.layout +
                                        "': it must name each of o, i, h, w once");
        seen[at - letters] = true;
        switch (d) {
        case 'o': if (!ob) dims.push_back({p.out_channels, o}); break;
        case 'i': dims.push_back({p.in_channels, i}); break;
        case 'h': dims.push_back({p.kernel, h}); break;
        case 'w': dims.push_back({p.kernel, w}); break;
        }
    }
    if (p.layout.size() != 4)
        throw std::invalid_argument("cannot index packed weights with layout '" + p.layout +
                                    "': it must name each of o, i, h, w once");
    if (ob) dims.push_back({ob, o % T(ob)});
    T idx = dims[0].second;
    for (size_t k = 1; k < dims.size(); ++k) idx = idx * T(int(dims[k].first)) + dims[k].second;  // extents fit in int32
    return idx;
}

Halide::Expr packed_index(const LayerPacking &p, const Halide::Expr &o, const Halide::Expr &i,
                          const Halide::Expr &h, const Halide::Expr &w) {
    return index_in_layout<Halide::Expr>(p, o, i, h, w);
}

int64_t packed_index_value(const LayerPacking &p, int64_t o, int64_t i, int64_t h, int64_t w) {
    return index_in_layout<int64_t>(p, o, i, h, w);
}

}  // namespace unetgen::codegen
