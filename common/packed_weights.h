// packed_weights.h — the packed-weight contract between the compiler and the runtime, in one
// place: where weight (o, i, h, w) of a layer lies in the packed buffer, and the manifest's
// spellings of a packing entry.
//
// codegen/ indexes the weights buffer with packed_index() on Halide Exprs (the pipeline's reads);
// runtime/ writes the buffer with the same function on integers (pack_weights); the manifest
// carries each layer's layout and o_block between them. Header-only, no dependencies.
#pragma once

#include <cstdint>
#include <string>

namespace unetgen {

// Manifest spellings of a packing entry's "kind" and "bn_position".
inline constexpr const char *kPackingKindConv = "conv";
inline constexpr const char *kPackingKindConvTranspose = "conv_transpose";  // PyTorch weight [i, o, k, k]
inline constexpr const char *kBnBeforeRelu = "before_relu";
inline constexpr const char *kBnAfterRelu = "after_relu";
// A packing entry's optional "norm": a norm with the sample's own statistics, computed by the
// pipeline; its gamma / beta ("bn" names the module, null without affine) are packed unfolded at
// scale_offset / shift_offset, 1 and 0 without affine. Absent: "bn" is a BatchNorm (folded).
inline constexpr const char *kNormInstance = "instance";
inline constexpr const char *kNormGroup = "group";

// "" when `layout` names each of o, i, h, w exactly once, else the rule it breaks.
inline std::string packed_layout_problem(const std::string &layout) {
    if (layout.size() != 4) return "it must name each of o, i, h, w once";
    bool seen[4] = {false, false, false, false};
    for (char c : layout) {
        const int k = c == 'o' ? 0 : c == 'i' ? 1 : c == 'h' ? 2 : c == 'w' ? 3 : -1;
        if (k < 0 || seen[k]) return "it must name each of o, i, h, w once";
        seen[k] = true;
    }
    return "";
}

// The offset of weight (o, i, h, w) from the layer's weight_offset. The dims are taken in
// `layout` order, outermost first, row-major; with o_block > 0, o is split in two: o / o_block
// outermost of all, o % o_block innermost. P is anything with layout, o_block, out_channels,
// in_channels and kernel (codegen::LayerPacking, rt::PackingEntry); T is int64_t or Halide::Expr
// (the layout must be valid: packed_layout_problem). Indices are nonnegative, so / and % mean
// the same for both.
template <typename P, typename T>
T packed_index(const P &p, const T &o, const T &i, const T &h, const T &w) {
    const int ob = p.o_block > 0 ? p.o_block : 0;
    T index = ob ? T(o / T(ob)) : T(0);
    for (char c : p.layout) {
        switch (c) {
        case 'o':
            if (!ob) index = index * T(int(p.out_channels)) + o;
            break;
        case 'i': index = index * T(int(p.in_channels)) + i; break;
        case 'h': index = index * T(int(p.kernel)) + h; break;
        case 'w': index = index * T(int(p.kernel)) + w; break;
        }
    }
    if (ob) index = index * T(ob) + T(o % T(ob));
    return index;
}

}  // namespace unetgen
