// lower_upsample.cpp — lower_upsample(): x2 nearest or bilinear, PyTorch's index math exactly.
//
// Bilinear follows aten's upsample_bilinear2d (CPU): per axis a source coordinate
//   align_corners=false: src = max(0.5 * (dst + 0.5) - 0.5, 0)   (scale = 1 / scale_factor)
//   align_corners=true:  src = dst * (in - 1) / (out - 1)           (0 when out == 1)
// then i0 = floor(src), i1 = min(i0 + 1, in - 1), l1 = src - i0, l0 = 1 - l1, and the value
// (v00 * lx0 + v01 * lx1) * ly0 + (v10 * lx0 + v11 * lx1) * ly1 in that order (float32), so the
// rounding matches too. Nearest: src = floor(dst / 2).
#include "codegen/lowering.h"

namespace unetgen::codegen {

namespace {

struct Taps {
    Halide::Expr i0, i1, l0, l1;
};

// Source taps along one axis for output coordinate `dst` (input extent `in`, output 2 * in).
Taps bilinear_taps(const Halide::Expr &dst, const Halide::Expr &in, bool align_corners) {
    using Halide::Expr;
    Expr src;
    if (align_corners) {
        Expr out = in * 2;
        Expr scale = Halide::select(out > 1, Halide::cast<float>(in - 1) / Halide::cast<float>(out - 1), 0.0f);
        src = scale * Halide::cast<float>(dst);
    } else {
        src = Halide::max(0.5f * (Halide::cast<float>(dst) + 0.5f) - 0.5f, 0.0f);
    }
    // src >= 0, so truncation is the floor; the clamps only keep bounds inference finite.
    Expr i0 = Halide::clamp(Halide::cast<int>(src), 0, in - 1);
    Expr i1 = Halide::min(i0 + 1, in - 1);
    Expr l1 = src - Halide::cast<float>(i0);
    return Taps{i0, i1, 1.0f - l1, l1};
}

}  // namespace

Tensor lower_upsample(const Tensor &in, UpMode mode, bool align_corners, const std::string &name) {
    Dims d;
    Halide::Func f(name);
    if (mode == UpMode::Nearest) {
        f(d.x, d.y, d.c, d.n) = in.f(d.x / 2, d.y / 2, d.c, d.n);
    } else {
        Taps tx = bilinear_taps(d.x, in.width, align_corners);
        Taps ty = bilinear_taps(d.y, in.height, align_corners);
        auto v = [&](const Halide::Expr &xx, const Halide::Expr &yy) { return in.f(xx, yy, d.c, d.n); };
        f(d.x, d.y, d.c, d.n) = (v(tx.i0, ty.i0) * tx.l0 + v(tx.i1, ty.i0) * tx.l1) * ty.l0 +
                                (v(tx.i0, ty.i1) * tx.l0 + v(tx.i1, ty.i1) * tx.l1) * ty.l1;
    }
    return Tensor{f, in.channels, in.width * 2, in.height * 2};
}

}  // namespace unetgen::codegen
