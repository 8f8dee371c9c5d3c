// lower_maxpool.cpp — lower_maxpool(): PyTorch's MaxPool2d(2): 2x2 window, stride 2, floor.
//
// An odd extent drops the last row / column (floor), exactly as PyTorch does.
#include "codegen/lowering.h"

namespace unetgen::codegen {

Tensor lower_maxpool(const Tensor &in, const std::string &name) {
    Dims d;
    Halide::Func f(name);
    Halide::Expr x0 = 2 * d.x, y0 = 2 * d.y;
    f(d.x, d.y, d.c, d.n) = Halide::max(Halide::max(in.f(x0, y0, d.c, d.n), in.f(x0 + 1, y0, d.c, d.n)),
                                        Halide::max(in.f(x0, y0 + 1, d.c, d.n), in.f(x0 + 1, y0 + 1, d.c, d.n)));
    return Tensor{f, in.channels, in.width / 2, in.height / 2};
}

Tensor lower_avgpool(const Tensor &in, const std::string &name) {
    Dims d;
    Halide::Func f(name);
    Halide::Expr x0 = 2 * d.x, y0 = 2 * d.y;
    // AvgPool2d sums the window left to right, top to bottom, then divides.
    f(d.x, d.y, d.c, d.n) = ((in.f(x0, y0, d.c, d.n) + in.f(x0 + 1, y0, d.c, d.n)) +
                             (in.f(x0, y0 + 1, d.c, d.n) + in.f(x0 + 1, y0 + 1, d.c, d.n))) * 0.25f;
    return Tensor{f, in.channels, in.width / 2, in.height / 2};
}

}  // namespace unetgen::codegen
