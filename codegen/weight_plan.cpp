// weight_plan.cpp — plan_weights(): offsets and layouts of every conv in the packed buffer.
//
// Offsets follow the canonical order (the order the runtime reads tensors in), each block
// aligned so the schedule's vector loads of weights start on a cache line.
#include "codegen/weight_plan.h"
#include "common/packed_weights.h"
#include "common/winograd.h"
#include "dsl/layer_ops.h"

#include <algorithm>
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

int winograd_for(const Layer &l, const PackingPolicy &policy) {
    const bool shape = policy.winograd && l.op == LayerOp::Conv && l.kernel == 3 && std::max(1, l.stride) == 1 &&
                       std::max(1, l.dilation) == 1 && l.in_channels >= 16 && l.in_channels % kWinogradOutBlock == 0 &&
                       l.out_channels % kWinogradOutBlock == 0;
    if (!shape) return 0;
    const int m = std::max(l.in_channels, l.out_channels) <= policy.winograd4_max_channels ? 4 : 2;
    // The pair limit is for the per-call weight transform; a bf16 layer's U is packed at load
    // (measured, milesial_transposed enc4.conv1 1024 -> 1024 at 16x16: 9.6 ms direct in fp32).
    if (winograd_takes_bf16(l, policy, m)) return m;
    return int64_t(l.in_channels) * l.out_channels <= policy.winograd_max_pairs ? m : 0;
}

bool winograd_takes_bf16(const Layer &l, const PackingPolicy &policy, int m) {
    // bf16 with F(2x2) only: F(4x4)'s transforms (coefficients to 8 and 1/24) multiply the
    // rounding of bf16 operands (measured, milesial_transposed: 2.2e-2 of max|torch| against 3e-3).
    return policy.winograd_bf16 && m == 2 && l.in_channels % kWinogradBf16InBlock == 0;
}

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
        p.bn = l.norm == NormKind::BatchNorm || l.norm_affine ? l.bn_module : "";
        p.sample_norm = norm_uses_sample_statistics(l.norm) ? l.norm : NormKind::None;
        if (!l.prelu_module.empty()) p.prelu = l.prelu_module + ".weight";
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
        p.winograd = winograd_for(l, policy);
        p.winograd_bf16 = p.winograd > 0 && winograd_takes_bf16(l, policy, p.winograd);
        p.winograd_u = p.winograd > 0 && (policy.winograd_weights_at_load || p.winograd_bf16);
        // `--precision bf16`: a 2x2 stride-2 transposed conv is four 1x1 convs, one GEMM of the
        // input's pixels by [i][(kh, kw, o)] (the decoders' up-convs: 19% of a bf16 milesial call).
        p.transpose_bf16 = p.transpose && policy.winograd_bf16 && l.kernel == 2 && l.stride == 2 && l.pad == 0 &&
                           l.output_padding == 0 && l.in_channels % kWinogradBf16InBlock == 0 &&
                           l.out_channels % kWinogradOutBlock == 0;
        const int64_t numel = p.transpose_bf16 ? transpose_bf16_floats(p.out_channels, p.in_channels)
                              : p.winograd_bf16 ? winograd_bf16_floats(p.winograd, p.out_channels, p.in_channels)
                              : p.winograd_u  ? winograd_weight_floats(p.winograd, p.out_channels, p.in_channels)
                                              : int64_t(p.out_channels) * p.in_channels * p.kernel * p.kernel;
        p.weight_offset = at = align_up(at, policy.align_floats);
        at += numel;
        p.bias_offset = at = align_up(at, policy.align_floats);
        at += p.out_channels;
        if (p.bn_after_relu || p.sample_norm != NormKind::None) {
            p.scale_offset = at = align_up(at, policy.align_floats);
            at += p.out_channels;
            p.shift_offset = at = align_up(at, policy.align_floats);
            at += p.out_channels;
        }
        if (!p.prelu.empty()) {
            p.act_offset = at = align_up(at, policy.align_floats);
            at += 1;
        }
        plan.layers.push_back(p);
    }
    plan.packed_floats = at;
    return plan;
}

namespace {

void check_layout(const LayerPacking &p) {
    if (std::string why = packed_layout_problem(p.layout); !why.empty())
        throw std::invalid_argument("cannot index packed weights of " + p.name + " with layout '" + p.layout + "': " + why);
}

}  // namespace

Halide::Expr packed_index(const LayerPacking &p, const Halide::Expr &o, const Halide::Expr &i,
                          const Halide::Expr &h, const Halide::Expr &w) {
    check_layout(p);
    return unetgen::packed_index(p, o, i, h, w);  // common/packed_weights.h: the runtime packs by it
}

int64_t packed_index_value(const LayerPacking &p, int64_t o, int64_t i, int64_t h, int64_t w) {
    check_layout(p);
    return unetgen::packed_index(p, o, i, h, w);
}

}  // namespace unetgen::codegen
