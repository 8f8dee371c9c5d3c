// lower_bf16_gemm.cpp — bf16_gemm_stage() and bf16_bits(): the pieces every `--precision bf16`
// lowering shares (the Winograd GEMMs, the 2x2 transposed convs).
//
// The GEMM itself is not Halide code: it is the extern stage unetgen_bf16_gemm of
// runtime/unetgen_bf16_gemm.h (AMX tiles, or plain float without AMX), which the generated
// header of a bf16 build compiles into the application and NAME.so.
#include "codegen/lowering.h"

namespace unetgen::codegen {

Halide::Expr bf16_bits(const Halide::Expr &v) {
    Halide::Expr bits = Halide::reinterpret(Halide::UInt(32), Halide::cast(Halide::Float(32), v));
    bits = bits + Halide::cast(Halide::UInt(32), 0x7fff) + ((bits >> 16) & 1);
    return Halide::cast(Halide::UInt(16), bits >> 16);
}

Halide::Func bf16_gemm_stage(const std::string &name, const Halide::Func &input, const Halide::ImageParam &weights,
                             const LayerPacking &packing, int columns, int points, const Halide::Var &t) {
    Dims d;
    Halide::Func gemm(name);
    gemm.define_extern("unetgen_bf16_gemm",
                       {input, weights, Halide::Expr(int(packing.weight_offset)), Halide::Expr(columns),
                        Halide::Expr(packing.in_channels), Halide::Expr(points)},
                       Halide::Float(32), {d.c, d.x, d.y, t, d.n}, Halide::NameMangling::C);
    return gemm;
}

}  // namespace unetgen::codegen
