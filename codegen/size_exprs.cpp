// size_exprs.cpp — size_exprs(): a SizeProgram as Halide Exprs of the input extent.
//
// The same program serves H and W (kernels are square), so the lowering calls this twice: once
// with the input buffer's width, once with its height. Halide's integer division of a positive
// divisor rounds toward minus infinity, which is the floor the program (and PyTorch) means.
#include "codegen/lowering.h"

namespace unetgen::codegen {

std::vector<Halide::Expr> size_exprs(const SizeProgram &sizes, const Halide::Expr &extent) {
    using Op = SizeNode::Op;
    std::vector<Halide::Expr> v(sizes.nodes.size());
    for (size_t i = 0; i < sizes.nodes.size(); ++i) {
        const SizeNode &n = sizes.nodes[i];
        switch (n.op) {
        case Op::Input: v[i] = extent; break;
        case Op::AddConst: v[i] = v[n.a] + int(n.k); break;
        case Op::MulConst: v[i] = v[n.a] * int(n.k); break;
        case Op::FloorDivConst: v[i] = v[n.a] / int(n.k); break;
        case Op::Sub: v[i] = v[n.a] - v[n.b]; break;
        case Op::Min: v[i] = Halide::min(v[n.a], v[n.b]); break;
        }
    }
    return v;
}

std::string func_name(const std::string &layer_name) {
    std::string s = layer_name;
    for (char &ch : s)
        if (!(std::isalnum((unsigned char)ch) || ch == '_')) ch = '_';
    return s;
}

Halide::Func zero_exterior(const Tensor &t, const std::string &name) {
    Dims d;
    Halide::Func f(name);
    Halide::Expr inside = d.x >= 0 && d.x < t.width && d.y >= 0 && d.y < t.height;
    Halide::Expr cx = Halide::clamp(d.x, 0, t.width - 1), cy = Halide::clamp(d.y, 0, t.height - 1);
    f(d.x, d.y, d.c, d.n) = Halide::select(inside, t.f(cx, cy, d.c, d.n), 0.0f);
    return f;
}

Halide::Func padded_exterior(const Tensor &t, PaddingMode mode, const std::string &name) {
    if (mode == PaddingMode::Zeros) return zero_exterior(t, name);
    Dims d;
    Halide::Func f(name);
    Halide::Expr x = d.x, y = d.y;
    if (mode == PaddingMode::Reflect) {
        // -1 -> 1, width -> width - 2 (edge not repeated); then clamped, so bounds stay inside.
        x = Halide::select(x < 0, -x, Halide::select(x >= t.width, 2 * (t.width - 1) - x, x));
        y = Halide::select(y < 0, -y, Halide::select(y >= t.height, 2 * (t.height - 1) - y, y));
    }
    f(d.x, d.y, d.c, d.n) = t.f(Halide::clamp(x, 0, t.width - 1), Halide::clamp(y, 0, t.height - 1), d.c, d.n);
    return f;
}

}  // namespace unetgen::codegen
