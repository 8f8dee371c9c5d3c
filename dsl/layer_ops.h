// layer_ops.h — kLayerOps: one row per LayerOp, the facts about an op that every pass asks the
// same way (its spelling, whether it reads weights, whether the pipeline materialises it, how
// reports draw it).
//
// The other half of the rule: passes whose work differs per op (the lowering, the two schedules,
// the tile geometry, the reports) switch over LayerOp with no `default:`, and the build has
// -Werror=switch, so an op one of them forgets is a compile error, as a missing row here is
// (the static_asserts below). docs/extending.md, "Adding an op", lists the places.
#pragma once

#include "dsl/network_ir.h"

#include <cstddef>

namespace unetgen {

struct LayerOpInfo {
    LayerOp op;
    const char *name;      // `unetgen check --json` and the manifest's geometry spell it so
    bool weights;          // reads packed weights (the weight plan packs its tensors)
    bool materialised;     // the schedules give it a buffer of its own; others are computed
                           // inline in their consumer's staged input (CPU) or shared-memory tile (GPU)
    const char *dot_fill;  // its colour in `unetgen check --dot`
};

inline constexpr LayerOpInfo kLayerOps[] = {
    {LayerOp::Input, "input", false, false, "#e0e0e0"},
    {LayerOp::Conv, "conv", true, true, "#dae8fc"},
    {LayerOp::ConvTranspose, "conv_transpose", true, true, "#d5e8d4"},
    {LayerOp::MaxPool, "maxpool", false, false, "#f8cecc"},
    {LayerOp::Upsample, "upsample", false, false, "#d5e8d4"},
    {LayerOp::Concat, "concat", false, false, "#e1d5e7"},
    {LayerOp::Head, "head", true, true, "#ffe6cc"},
    {LayerOp::Add, "add", false, false, "#fff2cc"},
    {LayerOp::Multiply, "multiply", false, false, "#fff2cc"},
    {LayerOp::AvgPool, "avgpool", false, false, "#f8cecc"},
};

static_assert(sizeof(kLayerOps) / sizeof(kLayerOps[0]) == size_t(LayerOp::Count),
              "every LayerOp needs its row in kLayerOps");

constexpr bool layer_op_rows_in_order() {
    for (size_t i = 0; i < size_t(LayerOp::Count); ++i)
        if (kLayerOps[i].op != LayerOp(i)) return false;
    return true;
}
static_assert(layer_op_rows_in_order(), "kLayerOps rows must follow LayerOp's order");

constexpr const LayerOpInfo &layer_op_info(LayerOp op) { return kLayerOps[size_t(op)]; }

}  // namespace unetgen
