// lowering.h — the IR-to-Halide algorithm: one free function per op, plus the whole network.
//
// Algorithm only: nothing here calls a schedule directive (see schedules/). Every Func is indexed
// (x, y, c, n) like Halide's planar buffers, and is defined on an unbounded domain; a `Tensor`
// says where its values mean something ([0, width) x [0, height), channels [0, channels)).
// Readers that need zeros outside (same-padded convs, transposed convs, pad-to-skip merges)
// wrap their input with `zero_exterior`, so no stage ever reads past what its producer holds.
#pragma once

#include "codegen/weight_plan.h"
#include "dsl/network_ir.h"

#include <Halide.h>

#include <string>
#include <vector>

namespace unetgen::codegen {

// The four loop variables every stage is defined over.
struct Dims {
    Halide::Var x{"x"}, y{"y"}, c{"c"}, n{"n"};
};

// A lowered activation: values of `f` are meaningful on [0,width) x [0,height) x [0,channels).
struct Tensor {
    Halide::Func f;
    int channels = 0;
    Halide::Expr width, height;
    // A concat's: channels [0, concat_at) come from one input, the rest from the other (0: not
    // a concat). A schedule that copies f splits its channel loop there, so every vector of
    // channels reads one input densely instead of gathering through both clamped reads.
    int concat_at = 0;
};

// The extra Funcs of a conv lowered as Winograd F(2x2, 3x3) (see lower_conv_winograd).
struct WinogradStages {
    bool enabled = false;
    Halide::Func input_t;    // V(i, tx, ty, t, n): transformed input tiles
    Halide::Func weights_t;  // U(o % 16, i, o / 16, t) transformed per call; undefined when packed as U at load
    Halide::Func gemm_acc;   // M(o, tx, ty, t, n) = sum_i U V: pure zero then one update over r
    Halide::Func gemm;       // gemm_acc copied out (what the output transform reads)
    Halide::Var t{"t"}, i{"i"}, ob{"ob"};
    int m = 2;               // outputs per tile side: F(m x m, 3 x 3), t in [0, (m + 2)^2)
};

// The Funcs of an instance / group norm (lower_sample_norm), for the schedules.
struct SampleNormStages {
    Halide::Func cols;    // (x, c, n) -> (sum, sum of squares) over y, float64: pure zero then one update
    Halide::Func sums;    // (g, n) -> the group's (sum, sum of squares): pure zero then one update
    Halide::Func stats;   // (g, n) -> (mean, 1 / sqrt(var + eps)), float32
    Halide::Func result;  // the normalised (and activated) conv output: elementwise, what consumers read
    Halide::RDom ry, rg;  // cols' y; sums' (x, channel within the group)
    bool defined() const { return result.defined(); }
};

// The Funcs one conv-like layer (conv, head, transposed conv) is made of, for the schedules.
struct ConvStages {
    Halide::Func staged;   // zero-exterior copy of the input (pad, fused pool/upsample/concat);
                           // undefined when the conv reads its producer directly
    bool staged_pad_only = false;  // staged only pads a materialised producer (nothing inlined into it)
    int staged_concat_at = 0;      // staged copies a concat: its input's Tensor::concat_at
    Halide::Func accum;    // bias + sum over the RDom: pure definition then one update
    Halide::Func result;   // accum with ReLU / post-ReLU affine applied; what consumers read
    Halide::RDom r;        // (kx, ky, i) for conv; (jx, jy, i) for transposed conv
    int out_channels = 0, in_channels = 0, kernel = 0;
    int o_block = 0;       // the packing's o_block (0: none): output channels contiguous per (i, h, w)
    WinogradStages winograd;  // enabled: result is Winograd's output transform, accum undefined
    // `--precision bf16` transposed conv: input as bf16 bits [i, x, y, 0, n] and the extern GEMM
    // [(kh, kw, o), x, y, 0, n] (runtime/unetgen_bf16_gemm.h); result reads it, accum undefined.
    Halide::Func gemm_input, gemm;
    SampleNormStages norm;    // defined: an instance / group norm follows; consumers read norm.result
    // Set by the schedule: the granularity (x, y) its loops round the computed span of result
    // and of staged up to (RoundUp tails), for the tile planner's memory model.
    int round[2] = {1, 1}, staged_round[2] = {1, 1};
    // ... and the scratch a parallel task allocates: bytes per output column of a task of
    // task_rows output rows (0: none worth counting).
    int task_rows = 0;
    int64_t task_bytes_per_column = 0;
    // ... and whether it left staged inline (no buffer: its reader reads the producer itself).
    bool staged_inline = false;
    // ... and whether it stores result channels-innermost (what a norm's reduction reads along).
    bool channels_innermost = false;
    // A transposed conv in phase form (ConvTransposeOp::phases): > 0, its stride; then accum is
    // indexed (X, Y, c, phase, n) over the input's grid and result interleaves the phases.
    int phase_stride = 0;
    Halide::Var phase{"phase"};

    ConvStages() = default;
    // The shape fields every conv lowering copies from its packing entry.
    explicit ConvStages(const LayerPacking &p)
        : out_channels(p.out_channels), in_channels(p.in_channels), kernel(p.kernel), o_block(p.o_block) {}
};

// Parameters of a KxK stride-1 conv unit.
struct ConvOp {
    std::string name;       // Func name prefix (no dots)
    int kernel = 3;
    int pad = 0;            // zero padding on each side
    int stride = 1;         // output pixel x reads input x * stride + kx - pad
    bool relu = false;
    float relu_slope = 0;      // with relu: LeakyReLU's negative slope (0: ReLU)
    int64_t prelu_offset = -1; // with relu: PReLU, its learnt slope read from the packed buffer here
    UnitActivation act = UnitActivation::Relu;  // with relu: which activation (Relu/LeakyRelu by relu_slope)
    int dilation = 1;          // output x reads input x * stride + kx * dilation - pad
    PaddingMode padding_mode = PaddingMode::Zeros;  // what the padding reads
    bool post_affine = false;  // BN after ReLU: result = relu(conv) * scale + shift
    bool sigmoid = false;      // then 1 / (1 + exp(-v)) (an attention gate's psi)
    bool stage_input = true;   // materialise a zero-exterior copy of the input (else read directly)
};

// Parameters of an instance / group norm following a conv.
struct SampleNormOp {
    std::string name;        // Func name prefix
    int groups = 1;          // channels / groups channels per group; instance: groups = channels
    double eps = 1e-5;
    bool affine = false;     // gamma / beta at the packing's scale_offset / shift_offset
    bool relu = false;       // the unit's activation comes after the norm (conv_norm_relu)
    float relu_slope = 0;
    int64_t prelu_offset = -1;  // PReLU: the slope's offset in the packed buffer
    UnitActivation act = UnitActivation::Relu;
};

// Parameters of a transposed conv (PyTorch ConvTranspose2d semantics).
struct ConvTransposeOp {
    std::string name;
    int kernel = 2, stride = 2, pad = 0, output_padding = 0;
    // stride^2 phase convolutions over a zero-padded input copy instead of one gather over all
    // taps (LoweringChoices::transpose_phases; lower_conv_transpose.cpp says why).
    bool phases = false;
};

// f with zeros outside [0,width) x [0,height); reads of f are clamped to that box so bounds
// inference never asks f for more than it holds.
Halide::Func zero_exterior(const Tensor &t, const std::string &name);

// t outside [0,width) x [0,height) as a conv's padding_mode reads it: zeros (zero_exterior), the
// nearest edge pixel (replicate), or the mirror image without repeating the edge (reflect; needs
// the pad smaller than the extent, which the size program requires).
Halide::Func padded_exterior(const Tensor &t, PaddingMode mode, const std::string &name);

// Halide Exprs for every node of a size program, evaluated at input extent `extent`.
std::vector<Halide::Expr> size_exprs(const SizeProgram &sizes, const Halide::Expr &extent);

// KxK conv (stride 1, zero padding op.pad) reading weights/bias (and scale/shift) from the packed
// buffer at the offsets and layout of `packing`. Output extent: in - (kernel - 1) + 2 * pad.
// What follows the sum in every conv lowering (direct or Winograd): ReLU, then the post-ReLU
// BatchNorm affine (seed 000) read from the packed buffer for output channel `o`.
// The unit's activation: ReLU (slope 0), LeakyReLU (slope), PReLU (prelu_offset >= 0: its slope in
// the packed buffer), ELU (alpha 1) or GELU (exact, erf).
Halide::Expr unit_activation(const Halide::Expr &v, UnitActivation act, float slope, int64_t prelu_offset,
                             const Halide::ImageParam &weights);

Halide::Expr conv_epilogue(Halide::Expr v, const ConvOp &op, const LayerPacking &packing,
                           const Halide::ImageParam &weights, const Halide::Expr &o);

ConvStages lower_conv(const Tensor &in, const ConvOp &op, const LayerPacking &packing,
                      const Halide::ImageParam &weights);

// The same conv unit as lower_conv, computed as Winograd F(m x m, 3x3) with m = packing.winograd
// (the weight plan chose it); U comes packed (winograd_u) or is transformed in the pipeline from
// the raw kernels. The result's extent as there.
ConvStages lower_conv_winograd(const Tensor &in, const ConvOp &op, const LayerPacking &packing,
                               const Halide::ImageParam &weights);

// InstanceNorm2d (groups = channels) or GroupNorm over `in`, statistics of each sample over in's
// whole extent [0, width) x [0, height), then gamma / beta (affine) and the activation; extent as in.
SampleNormStages lower_sample_norm(const Tensor &in, const SampleNormOp &op, const LayerPacking &packing,
                                   const Halide::ImageParam &weights);

// Transposed conv: out = (in - 1) * stride - 2 * pad + kernel + output_padding; packing kind
// conv_transpose (PyTorch weight [i, o, k, k]).
ConvStages lower_conv_transpose(const Tensor &in, const ConvTransposeOp &op, const LayerPacking &packing,
                                const Halide::ImageParam &weights);

// a + b [then ReLU]: inputs of one shape, output channels and extent as a's.
Tensor lower_add(const Tensor &a, const Tensor &b, bool relu, const std::string &name);

// x * alpha with alpha of one channel broadcast over x's (or of x's channels); extent as x's.
Tensor lower_multiply(const Tensor &x, const Tensor &alpha, const std::string &name);

// 2x2 max-pool, stride 2, floor (PyTorch MaxPool2d(2)).
Tensor lower_maxpool(const Tensor &in, const std::string &name);

// 2x2 average pool, stride 2, floor (PyTorch AvgPool2d(2)).
Tensor lower_avgpool(const Tensor &in, const std::string &name);

// x2 upsampling: nearest, or bilinear with PyTorch's index math for either align_corners.
Tensor lower_upsample(const Tensor &in, UpMode mode, bool align_corners, const std::string &name);

// Channel concat of a skip and an upsampled tensor, in `order`; the skip is center-cropped to
// the upsampled tensor (Crop), or the upsampled tensor zero-padded to the skip (Pad, left/top
// pad = offset), or both taken as they are (Exact). offset_x / offset_y: floor(diff / 2).
Tensor lower_concat(const Tensor &skip, const Tensor &up, SkipOrder order, SkipMatch match,
                    const Halide::Expr &offset_x, const Halide::Expr &offset_y, const std::string &name);

// The head's output activation when `activate` is nonzero (sigmoid, or softmax over channels),
// the logits as they are otherwise. `softmax_max` / `softmax_sum` receive the per-pixel
// reductions for the schedule (left undefined for other activations).
Halide::Func lower_activation(const Tensor &logits, Activation activation, const Halide::Expr &activate,
                              Halide::Func &softmax_max, Halide::Func &softmax_sum);

// A whole network lowered: its parameters, the per-layer Funcs the schedules work on, and the
// pipeline output.
struct LoweredNetwork {
    Halide::ImageParam input{Halide::Float(32), 4, "input"};
    Halide::ImageParam weights{Halide::Float(32), 1, "weights"};
    Halide::Param<int32_t> activate{"activate"};
    // The whole image's width and height (what the size program is evaluated at). The input and
    // output buffers are windows of it anywhere inside: every Func is defined in whole-image
    // coordinates, so a window's values are the whole image's (docs/large-images.md).
    Halide::Param<int32_t> image_width{"image_width"}, image_height{"image_height"};
    // common/manifest_tag.h of the manifest the caller packed the weights by (checked against
    // the one this pipeline was built with, see aot_build.cpp).
    Halide::Param<int32_t> manifest_tag{"manifest_tag"};
    std::vector<Tensor> tensors;         // per layer, as consumers see it
    std::vector<ConvStages> convs;       // per layer; accum undefined for non-conv layers
    std::vector<LayerOp> ops;            // per layer
    Halide::Func output;                 // [W_out, H_out, classes, N]
    Halide::Func softmax_max, softmax_sum;
    Activation activation = Activation::None;
    std::vector<Halide::Argument> arguments() const {
        return {input, weights, activate, image_width, image_height, manifest_tag};
    }
};

// How the algorithm is arranged for a target (schedules::lowering_choices_for): the same sums in
// another order of Funcs, picked because that target's loops run it faster.
struct LoweringChoices {
    // Transposed convs with a stride above 1 in phase form (CPU); off: the gather form (GPU).
    bool transpose_phases = false;
};

// Lowers every layer of `net` in execution order, reading weights as `plan` packs them (a conv
// the plan packs as Winograd U is lowered as Winograd, every other one directly).
LoweredNetwork lower_network(const Network &net, const WeightPlan &plan, const LoweringChoices &choices = {});

// The bits of v rounded to bfloat16 (nearest even, as common/winograd.h's bf16_bits), as UInt(16).
Halide::Expr bf16_bits(const Halide::Expr &v);

// `--precision bf16`: the extern GEMM stage (runtime/unetgen_bf16_gemm.h) over `input`, bf16 bits
// [i, x, y, t, n], and the bf16 VNNI columns `packing` packs at its weight_offset: a Func
// [column, x, y, t, n] of `columns` columns and `points` values of t.
Halide::Func bf16_gemm_stage(const std::string &name, const Halide::Func &input, const Halide::ImageParam &weights,
                             const LayerPacking &packing, int columns, int points, const Halide::Var &t);

// "enc0.conv1" -> "enc0_conv1": Halide names must not contain dots.
std::string func_name(const std::string &layer_name);

}  // namespace unetgen::codegen
