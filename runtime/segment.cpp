// segment.cpp — unetgen_segment() and friends: check the call, plan its tiles, run them.
//
// Host calls go through run_tiles (tiled_run.cpp): one tile when the whole image fits the
// memory budget, the caller's float arrays read and written in place where the layout allows,
// 8-bit pixels normalised and class masks made per tile. Calls with device (CUDA) memory run the
// whole image in one pipeline call on the caller's device pointers.
//
// Thread safety: everything per call lives on this call's stack or heap (buffer structs, scratch
// arrays, a copy of the device weights' struct); the model is only read. GPU pipelines: whatever
// device memory the pipeline attached to this call's buffers is copied back (output) and freed
// (into Halide's allocation cache) before returning, so no call leaves state behind for another;
// caller device memory is wrapped for the call and detached after it.
#include "runtime/c_enums.h"
#include "runtime/halide_buffers.h"
#include "runtime/input_sizes.h"
#include "runtime/model.h"
#include "runtime/segment_io.h"
#include "runtime/sliding_window.h"
#include "runtime/tiled_run.h"

#include <HalideRuntime.h>

#include <climits>
#include <cstring>

using namespace unetgen;
using namespace unetgen::rt;

namespace {

// Product of extents, or -1 past INT32_MAX (Halide's strides and extents are 32-bit).
int64_t checked_count(std::initializer_list<int64_t> extents) {
    int64_t total = 1;
    for (int64_t e : extents) {
        if (e < 0 || (e != 0 && total > INT32_MAX / e)) return -1;
        total *= e;
    }
    return total;
}

std::string describe(const Manifest &mf, int n, int c, int h, int w) {
    return "cannot segment a " + std::to_string(n) + "x" + std::to_string(c) + "x" + std::to_string(h) + "x" +
           std::to_string(w) + " input with " + mf.name;
}

// The rules on channels and kind every call shares (enum ranges were checked by checked()).
void check_kinds(const Manifest &mf, unetgen_output_kind kind, int channels, const std::string &ctx) {
    if (channels != mf.in_channels)
        fail(UNETGEN_ERR_INVALID_ARGUMENT, ctx + "the input has " + std::to_string(channels) +
                                               " channels; the network takes " + std::to_string(mf.in_channels));
    if (kind == UNETGEN_OUTPUT_MASK && mf.classes > 256)
        fail(UNETGEN_ERR_INVALID_ARGUMENT, ctx + "a uint8 mask holds at most 256 classes; the network has " +
                                               std::to_string(mf.classes) + " (ask for logits or probabilities)");
}

// A copy of the caller's unetgen_segment_args / unetgen_stream_args whose enum fields were read
// as integers and checked first (c_enums.h), so nothing below loads an out-of-range enum.
template <typename Args>
Args checked(const Args &in, const std::string &ctx) {
    Args a = in;
    a.input_format = checked_enum(in.input_format, 0, 1, ctx, "input_format", "is neither F32_NCHW nor U8_NHWC");
    a.output_kind = checked_enum(in.output_kind, 0, 2, ctx, "output_kind", "is not LOGITS, PROBS or MASK");
    a.border = checked_enum(in.border, 0, 2, ctx, "border", "is not NONE, MIRROR or SLIDING");
    return a;
}

// What every in-memory call (host or device) requires of its arguments.
void check_call(const Manifest &mf, const unetgen_segment_args &a, bool need_pointers, const std::string &ctx) {
    if (need_pointers && (a.input == nullptr || a.output == nullptr))
        fail(UNETGEN_ERR_INVALID_ARGUMENT, ctx + "input or output is NULL");
    check_kinds(mf, a.output_kind, a.channels, ctx);
    if (a.n < 1) fail(UNETGEN_ERR_INVALID_ARGUMENT, ctx + "the batch size is " + std::to_string(a.n) + "; it must be >= 1");
}

// The pipeline's activation flag and the mask's sigmoid: a one-class mask thresholds a
// probability, the pipeline's sigmoid when the spec has one, else the sigmoid of the logit.
struct Activation {
    int activate = 0;
    bool mask_sigmoid = false;
};
Activation activation_of(const Manifest &mf, unetgen_output_kind kind) {
    const bool mask = kind == UNETGEN_OUTPUT_MASK, pipeline_sigmoid = mf.activation == "sigmoid";
    return {kind == UNETGEN_OUTPUT_PROBS || (mask && mf.classes == 1 && pipeline_sigmoid),
            mask && mf.classes == 1 && !pipeline_sigmoid};
}

// A host call, checked and planned.
struct HostCall {
    std::string what;
    RunShape shape;
    bool direct_input = false, direct_output = false;
    int64_t out_count = 0;
    TilePlan plan;
};

HostCall prepare(const unetgen_model &m, const unetgen_segment_args &a, bool need_pointers) {
    const Manifest &mf = m.manifest;
    check_call(mf, a, need_pointers, "cannot segment with " + mf.name + ": ");
    HostCall c;
    c.what = describe(mf, a.n, a.channels, a.h, a.w);
    c.shape = shape_of(mf, a.n, a.channels, a.h, a.w, a.border, c.what);
    const RunShape &s = c.shape;
    // In place when Halide's 32-bit strides reach across the caller's whole array.
    c.direct_input = a.input_format == UNETGEN_INPUT_F32_NCHW && !s.mirror &&
                     checked_count({a.n, a.channels, a.h, a.w}) >= 0;
    c.direct_output = a.output_kind != UNETGEN_OUTPUT_MASK && checked_count({a.n, mf.classes, s.out_h(), s.out_w()}) >= 0;
    c.out_count = int64_t(a.n) * s.out_h() * s.out_w() * (a.output_kind == UNETGEN_OUTPUT_MASK ? 1 : mf.classes);
    c.plan = plan_run(m, s, a.memory_budget, io_of(mf, s, c.direct_input, c.direct_output, 0, 0), c.what);
    return c;
}

void segment_host(const unetgen_model &m, unetgen_segment_args &a) {
    const Manifest &mf = m.manifest;
    if (a.border == UNETGEN_BORDER_SLIDING) {
        check_call(mf, a, true, "cannot segment with " + mf.name + ": ");
        segment_sliding(m, a, describe(mf, a.n, a.channels, a.h, a.w) + " with border = sliding");
        return;
    }
    HostCall c = prepare(m, a, true);
    if (a.output_capacity < size_t(c.out_count))
        fail(UNETGEN_ERR_INVALID_ARGUMENT, "cannot segment with " + mf.name + ": the output needs " +
                                               std::to_string(c.out_count) + " elements, the buffer has room for " +
                                               std::to_string(a.output_capacity));
    const RunShape &s = c.shape;
    const Activation act = activation_of(mf, a.output_kind);
    TileRun run;
    run.activate = act.activate;
    run.progress = a.progress;
    run.progress_user = a.progress_user;
    if (c.direct_input) {
        run.direct_input = static_cast<const float *>(a.input);
    } else if (a.input_format == UNETGEN_INPUT_F32_NCHW) {
        const float *img = static_cast<const float *>(a.input);
        run.read = [&, img](Span x, Span y, float *dst) {
            for (int64_t p = 0; p < int64_t(a.n) * a.channels; ++p)
                for (int64_t r = y.lo; r < y.hi; ++r, dst += x.size())
                    std::memcpy(dst, img + (size_t(p) * size_t(a.h) + size_t(r)) * size_t(a.w) + size_t(x.lo),
                                size_t(x.size()) * sizeof(float));
        };
    } else {
        const uint8_t *img = static_cast<const uint8_t *>(a.input);
        run.read = [&, img](Span x, Span y, float *dst) {
            normalise_u8_block(img, a.n, a.h, a.w, a.channels, x.lo, y.lo, x.size(), y.size(), mf.mean, mf.std, dst);
        };
    }
    if (c.direct_output) {
        run.direct_output = static_cast<float *>(a.output);
    } else {
        uint8_t *mask = static_cast<uint8_t *>(a.output);
        const size_t row = size_t(s.out_w()), plane = row * size_t(s.out_h());
        run.write = [&, mask, row, plane](Span x, Span y, const float *scores) {
            class_mask(scores, a.n, mf.classes, int(y.size()), int(x.size()), act.mask_sigmoid, float(mf.threshold),
                       mask + size_t(y.lo) * row + size_t(x.lo), row, plane);
        };
    }
    run_tiles(m, s, c.plan, run, c.what);
    a.out_h = int(s.out_h());
    a.out_w = int(s.out_w());
}

// The device interface a call with device memory needs (NULL when both sides are on the host).
const halide_device_interface_t *check_memory(const unetgen_model &m, const unetgen_segment_args &a,
                                              unetgen_memory in_mem, unetgen_memory out_mem) {
    const std::string ctx = "cannot segment with " + m.manifest.name + ": ";
    if (in_mem == UNETGEN_MEMORY_HOST && out_mem == UNETGEN_MEMORY_HOST) return nullptr;
    const halide_device_interface_t *iface = device_interface_of(*m.desc);
    if (iface == nullptr)
        fail(UNETGEN_ERR_UNSUPPORTED, ctx + "CUDA memory needs a library built for a CUDA target (this one is " +
                                          std::string(m.desc->target ? m.desc->target : "?") +
                                          (m.desc->uses_gpu ? ", generated before ABI 2" : "") + ")");
    if (in_mem == UNETGEN_MEMORY_CUDA && a.input_format != UNETGEN_INPUT_F32_NCHW)
        fail(UNETGEN_ERR_INVALID_ARGUMENT, ctx + "a CUDA input must be F32_NCHW (8-bit pixels are normalised on the host)");
    if (out_mem == UNETGEN_MEMORY_CUDA && a.output_kind == UNETGEN_OUTPUT_MASK)
        fail(UNETGEN_ERR_INVALID_ARGUMENT, ctx + "a CUDA output must be LOGITS or PROBS (the mask is made on the host)");
    if (a.border != UNETGEN_BORDER_NONE)
        fail(UNETGEN_ERR_INVALID_ARGUMENT, ctx + "device memory takes the image as it is (border = NONE)");
    return iface;
}

// Device memory on either side: the whole image in one call on the caller's pointers.
void segment_device(const unetgen_model &m, unetgen_segment_args &a, unetgen_memory input_memory,
                    unetgen_memory output_memory, const halide_device_interface_t *iface) {
    const Manifest &mf = m.manifest;
    const std::string ctx = "cannot segment with " + mf.name + ": ";
    check_call(mf, a, true, ctx);
    check_input_size(mf, a.h, a.w);
    const int64_t out_h = output_extent(mf, a.h), out_w = output_extent(mf, a.w);
    const int64_t in_count = checked_count({a.n, a.channels, a.h, a.w});
    const int64_t scores_count = checked_count({a.n, mf.classes, out_h, out_w});
    const std::string what = describe(mf, a.n, a.channels, a.h, a.w);
    if (in_count < 0 || scores_count < 0)
        fail(UNETGEN_ERR_INVALID_ARGUMENT, what + ": a device buffer would pass 2^31 elements; split the batch");
    if (a.output_capacity < size_t(scores_count))
        fail(UNETGEN_ERR_INVALID_ARGUMENT, ctx + "the output needs " + std::to_string(scores_count) +
                                               " elements, the buffer has room for " + std::to_string(a.output_capacity));
    std::vector<float> in_scratch;
    float *in_host = const_cast<float *>(static_cast<const float *>(a.input));  // the pipeline only reads it
    if (a.input_format == UNETGEN_INPUT_U8_NHWC) {
        in_scratch.resize(size_t(in_count));
        normalise_u8_nhwc(static_cast<const uint8_t *>(a.input), a.n, a.h, a.w, a.channels, mf.mean, mf.std,
                          in_scratch.data());
        in_host = in_scratch.data();
    }
    FloatBuffer in(in_host, {a.w, a.h, a.channels, a.n}, 4);
    FloatBuffer out(static_cast<float *>(a.output), {out_w, out_h, mf.classes, a.n}, 4);
    take_pipeline_error(*m.desc);
    if (input_memory == UNETGEN_MEMORY_CUDA && in.wrap_device(a.input, iface) != 0)
        fail(UNETGEN_ERR_INVALID_ARGUMENT, what + ": the input pointer cannot be wrapped as CUDA memory: " +
                                               take_pipeline_error(*m.desc));
    if (output_memory == UNETGEN_MEMORY_CUDA && out.wrap_device(a.output, iface) != 0) {
        std::string why = take_pipeline_error(*m.desc);
        in.release(false);
        fail(UNETGEN_ERR_INVALID_ARGUMENT, what + ": the output pointer cannot be wrapped as CUDA memory: " + why);
    }
    CallWeights weights(m);
    const int activate = activation_of(mf, a.output_kind).activate;
    int err = m.desc->pipeline(&in.buf, weights.buffer(), activate, &out.buf);
    int release_err = out.release(true);
    int in_err = in.release(false);
    weights.release();
    if (err == 0) err = release_err != 0 ? release_err : in_err;
    if (err != 0) {
        std::string why = take_pipeline_error(*m.desc);
        fail(status_of_halide_error(err), what + ": the pipeline returned Halide error " + std::to_string(err) +
                                              (why.empty() ? " (Halide's error handler printed the details)" : ": " + why));
    }
    a.out_h = int(out_h);
    a.out_w = int(out_w);
}

// A streaming call, checked and planned.
struct StreamCall {
    std::string what;
    RunShape shape;
    TilePlan plan;
};

// An output window [x, x + w) x [y, y + h) of the delivered output; whole: the whole output.
struct Window {
    bool whole = true;
    int x = 0, y = 0, w = 0, h = 0;
};

StreamCall prepare_stream(const unetgen_model &m, const unetgen_stream_args &a, bool need_callbacks,
                          const Window &win = {}) {
    const Manifest &mf = m.manifest;
    const std::string ctx = "cannot segment a stream with " + mf.name + ": ";
    if (need_callbacks && (a.read == nullptr || a.write == nullptr))
        fail(UNETGEN_ERR_INVALID_ARGUMENT, ctx + "the read or write callback is NULL");
    check_kinds(mf, a.output_kind, a.channels, ctx);
    if (!windowed(m))
        fail(UNETGEN_ERR_UNSUPPORTED, ctx + "streaming needs a library built by unetgen with windowed pipelines "
                                            "(runtime ABI 3); rebuild it");
    if (a.border == UNETGEN_BORDER_SLIDING)
        fail(UNETGEN_ERR_UNSUPPORTED, ctx + "border = sliding runs in memory only (unetgen_segment): its patches "
                                            "average into an image-sized accumulator");
    StreamCall c;
    c.what = describe(mf, 1, a.channels, a.h, a.w);
    c.shape = shape_of(mf, 1, a.channels, a.h, a.w, a.border, c.what);
    if (!win.whole) {
        // Any window is exact: the pipeline computes in whole-image coordinates.
        RunShape &s = c.shape;
        if (win.w < 1 || win.h < 1 || win.x < 0 || win.y < 0 || int64_t(win.x) + win.w > s.out_w() ||
            int64_t(win.y) + win.h > s.out_h())
            fail(UNETGEN_ERR_INVALID_ARGUMENT, c.what + ": the window " + std::to_string(win.w) + "x" +
                                                   std::to_string(win.h) + " at (" + std::to_string(win.x) + ", " +
                                                   std::to_string(win.y) + ") is not inside the " +
                                                   std::to_string(s.out_w()) + "x" + std::to_string(s.out_h()) + " output");
        s.crop_x = {s.crop_x.lo + win.x, s.crop_x.lo + win.x + win.w};
        s.crop_y = {s.crop_y.lo + win.y, s.crop_y.lo + win.y + win.h};
    }
    const int64_t pixel = a.input_format == UNETGEN_INPUT_U8_NHWC ? a.channels : 0;  // the reader's bytes
    const int64_t result = a.output_kind == UNETGEN_OUTPUT_MASK ? 1 : int64_t(mf.classes) * 4;
    c.plan = plan_run(m, c.shape, a.memory_budget, io_of(mf, c.shape, false, false, pixel, result), c.what);
    return c;
}

std::string region(Span x, Span y) {
    return "rows " + std::to_string(y.lo) + ".." + std::to_string(y.hi) + " x columns " + std::to_string(x.lo) + ".." +
           std::to_string(x.hi);
}

void segment_stream(const unetgen_model &m, unetgen_stream_args &a, const Window &win = {}) {
    const Manifest &mf = m.manifest;
    StreamCall c = prepare_stream(m, a, true, win);
    const int64_t wx = win.whole ? 0 : win.x, wy = win.whole ? 0 : win.y;  // the writer sees output coordinates
    const Activation act = activation_of(mf, a.output_kind);
    TileRun run;
    run.activate = act.activate;
    run.progress = a.progress;
    run.progress_user = a.progress_user;
    std::vector<uint8_t> pixels, mask;
    run.read = [&](Span x, Span y, float *dst) {
        void *target = dst;
        if (a.input_format == UNETGEN_INPUT_U8_NHWC) {
            pixels.resize(size_t(x.size()) * size_t(y.size()) * size_t(a.channels));
            target = pixels.data();
        }
        if (int rc = a.read(a.read_user, int(x.lo), int(y.lo), int(x.size()), int(y.size()), target); rc != 0)
            fail(UNETGEN_ERR_CALLBACK, c.what + ": the reader returned " + std::to_string(rc) + " for " + region(x, y));
        if (a.input_format == UNETGEN_INPUT_U8_NHWC)
            normalise_u8_nhwc(pixels.data(), 1, int(y.size()), int(x.size()), a.channels, mf.mean, mf.std, dst);
    };
    run.write = [&](Span x, Span y, const float *scores) {
        const void *values = scores;
        if (a.output_kind == UNETGEN_OUTPUT_MASK) {
            mask.resize(size_t(x.size()) * size_t(y.size()));
            class_mask(scores, 1, mf.classes, int(y.size()), int(x.size()), act.mask_sigmoid, float(mf.threshold),
                       mask.data());
            values = mask.data();
        }
        if (int rc = a.write(a.write_user, int(wx + x.lo), int(wy + y.lo), int(x.size()), int(y.size()), values); rc != 0)
            fail(UNETGEN_ERR_CALLBACK, c.what + ": the writer returned " + std::to_string(rc) + " for " + region(x, y));
    };
    run_tiles(m, c.shape, c.plan, run, c.what);
    a.out_h = int(c.shape.out_h());
    a.out_w = int(c.shape.out_w());
}

Window window_of(int x, int y, int w, int h) {
    Window win;
    win.whole = false;
    win.x = x, win.y = y, win.w = w, win.h = h;
    return win;
}

}  // namespace

extern "C" {

unetgen_status unetgen_output_count(const unetgen_model *model, int n, int h, int w, unetgen_output_kind kind,
                                    size_t *count) {
    return guarded([&] {
        if (model == nullptr || count == nullptr)
            fail(UNETGEN_ERR_INVALID_ARGUMENT, "cannot count outputs: the model or count pointer is NULL");
        const std::string ctx = "cannot count outputs of " + model->manifest.name + ": ";
        kind = checked_enum(kind, 0, 2, ctx, "output_kind", "is not LOGITS, PROBS or MASK");
        check_kinds(model->manifest, kind, model->manifest.in_channels, ctx);
        if (n < 1) fail(UNETGEN_ERR_INVALID_ARGUMENT, "cannot count outputs: the batch size must be >= 1");
        check_input_size(model->manifest, h, w);
        const int64_t px = output_extent(model->manifest, h) * output_extent(model->manifest, w);
        *count = size_t(int64_t(n) * px * (kind == UNETGEN_OUTPUT_MASK ? 1 : model->manifest.classes));
    });
}

unetgen_status unetgen_plan_segment(const unetgen_model *model, const unetgen_segment_args *args,
                                    unetgen_tile_plan *plan) {
    return guarded([&] {
        if (model == nullptr || args == nullptr || plan == nullptr)
            fail(UNETGEN_ERR_INVALID_ARGUMENT, "cannot plan a segmentation: the model, args or plan pointer is NULL");
        const unetgen_segment_args a = checked(*args, "cannot plan a segmentation with " + model->manifest.name + ": ");
        if (a.border == UNETGEN_BORDER_SLIDING) {
            check_call(model->manifest, a, false, "cannot plan a segmentation with " + model->manifest.name + ": ");
            *plan = sliding_plan(*model, a, describe(model->manifest, a.n, a.channels, a.h, a.w) + " with border = sliding");
            return;
        }
        HostCall c = prepare(*model, a, false);
        *plan = plan_report(c.shape, c.plan);
    });
}

unetgen_status unetgen_segment(const unetgen_model *model, unetgen_segment_args *args) {
    return unetgen_segment_memory(model, args, UNETGEN_MEMORY_HOST, UNETGEN_MEMORY_HOST);
}

unetgen_status unetgen_segment_memory(const unetgen_model *model, unetgen_segment_args *args,
                                      unetgen_memory input_memory, unetgen_memory output_memory) {
    return guarded([&] {
        if (model == nullptr || args == nullptr)
            fail(UNETGEN_ERR_INVALID_ARGUMENT, "cannot segment: the model or args pointer is NULL");
        const std::string ctx = "cannot segment with " + model->manifest.name + ": ";
        unetgen_segment_args a = checked(*args, ctx);
        const unetgen_memory in_mem = checked_enum(input_memory, 0, 1, ctx, "memory kind", "is neither HOST nor CUDA");
        const unetgen_memory out_mem = checked_enum(output_memory, 0, 1, ctx, "memory kind", "is neither HOST nor CUDA");
        const halide_device_interface_t *iface = check_memory(*model, a, in_mem, out_mem);
        if (iface == nullptr) segment_host(*model, a);
        else segment_device(*model, a, in_mem, out_mem, iface);
        args->out_h = a.out_h;
        args->out_w = a.out_w;
    });
}

unetgen_status unetgen_plan_stream(const unetgen_model *model, const unetgen_stream_args *args, unetgen_tile_plan *plan) {
    return guarded([&] {
        if (model == nullptr || args == nullptr || plan == nullptr)
            fail(UNETGEN_ERR_INVALID_ARGUMENT, "cannot plan a stream: the model, args or plan pointer is NULL");
        const unetgen_stream_args a = checked(*args, "cannot plan a stream with " + model->manifest.name + ": ");
        StreamCall c = prepare_stream(*model, a, false);
        *plan = plan_report(c.shape, c.plan);
    });
}

unetgen_status unetgen_segment_stream(const unetgen_model *model, unetgen_stream_args *args) {
    return guarded([&] {
        if (model == nullptr || args == nullptr)
            fail(UNETGEN_ERR_INVALID_ARGUMENT, "cannot segment a stream: the model or args pointer is NULL");
        unetgen_stream_args a = checked(*args, "cannot segment a stream with " + model->manifest.name + ": ");
        segment_stream(*model, a);
        args->out_h = a.out_h;
        args->out_w = a.out_w;
    });
}

unetgen_status unetgen_segment_window(const unetgen_model *model, unetgen_stream_args *args, int x, int y, int w,
                                      int h) {
    return guarded([&] {
        if (model == nullptr || args == nullptr)
            fail(UNETGEN_ERR_INVALID_ARGUMENT, "cannot segment a window: the model or args pointer is NULL");
        unetgen_stream_args a = checked(*args, "cannot segment a window with " + model->manifest.name + ": ");
        segment_stream(*model, a, window_of(x, y, w, h));
        args->out_h = h;
        args->out_w = w;
    });
}

unetgen_status unetgen_window_input(const unetgen_model *model, const unetgen_stream_args *args, int x, int y, int w,
                                    int h, int region[4]) {
    return guarded([&] {
        if (model == nullptr || args == nullptr || region == nullptr)
            fail(UNETGEN_ERR_INVALID_ARGUMENT, "cannot find a window's input: the model, args or region pointer is NULL");
        const unetgen_stream_args a = checked(*args, "cannot find a window's input with " + model->manifest.name + ": ");
        StreamCall c = prepare_stream(*model, a, false, window_of(x, y, w, h));
        Span rx, ry;
        TileRun run;
        run.bounds = [&](Span bx, Span by) {
            rx.unite(bx);
            ry.unite(by);
        };
        run_tiles(*model, c.shape, c.plan, run, c.what);
        region[0] = int(rx.lo), region[1] = int(ry.lo), region[2] = int(rx.size()), region[3] = int(ry.size());
    });
}

}  // extern "C"
