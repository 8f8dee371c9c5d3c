// lower_concat.cpp — lower_concat(): merge a skip with the upsampled tensor along channels.
//
// Crop: the skip is read at (x + offset) (center crop, offset = floor((skip - up) / 2), like the
// seeds' center_crop). Pad: the upsampled tensor is read at (x - offset) with zeros outside it
// (F.pad with left = diff // 2). Exact: both as they are. Replicate: the upsampled tensor's last
// column / row repeated up to the skip's size (MONAI's UpCat). Channel reads are clamped per input so
// bounds inference never asks either producer for channels it does not have.
#include "codegen/lowering.h"

namespace unetgen::codegen {

Tensor lower_concat(const Tensor &skip, const Tensor &up, SkipOrder order, SkipMatch match,
                    const Halide::Expr &offset_x, const Halide::Expr &offset_y, const std::string &name) {
    using Halide::Expr;
    Dims d;
    Halide::Func skip_view(name + "_skip"), up_view(name + "_up");
    Expr width = up.width, height = up.height;
    switch (match) {
    case SkipMatch::Crop:
        skip_view(d.x, d.y, d.c, d.n) = skip.f(d.x + offset_x, d.y + offset_y, d.c, d.n);
        up_view(d.x, d.y, d.c, d.n) = up.f(d.x, d.y, d.c, d.n);
        break;
    case SkipMatch::Pad: {
        Halide::Func padded = zero_exterior(up, name + "_uppad");
        skip_view(d.x, d.y, d.c, d.n) = skip.f(d.x, d.y, d.c, d.n);
        up_view(d.x, d.y, d.c, d.n) = padded(d.x - offset_x, d.y - offset_y, d.c, d.n);
        width = skip.width;
        height = skip.height;
        break;
    }
    case SkipMatch::Exact:
        skip_view(d.x, d.y, d.c, d.n) = skip.f(d.x, d.y, d.c, d.n);
        up_view(d.x, d.y, d.c, d.n) = up.f(d.x, d.y, d.c, d.n);
        break;
    case SkipMatch::Replicate:
        // F.pad(up, [0, dW, 0, dH], "replicate"): the last column / row repeated up to the skip's size.
        skip_view(d.x, d.y, d.c, d.n) = skip.f(d.x, d.y, d.c, d.n);
        up_view(d.x, d.y, d.c, d.n) =
            up.f(Halide::clamp(d.x, 0, up.width - 1), Halide::clamp(d.y, 0, up.height - 1), d.c, d.n);
        width = skip.width;
        height = skip.height;
        break;
    }
    const bool skip_first = order == SkipOrder::SkipFirst;
    const Halide::Func &first = skip_first ? skip_view : up_view;
    const Halide::Func &second = skip_first ? up_view : skip_view;
    const int c1 = skip_first ? skip.channels : up.channels;
    const int c2 = skip_first ? up.channels : skip.channels;
    Halide::Func f(name);
    f(d.x, d.y, d.c, d.n) = Halide::select(d.c < c1, first(d.x, d.y, Halide::clamp(d.c, 0, c1 - 1), d.n),
                                           second(d.x, d.y, Halide::clamp(d.c - c1, 0, c2 - 1), d.n));
    return Tensor{f, c1 + c2, width, height, c1};
}

}  // namespace unetgen::codegen
