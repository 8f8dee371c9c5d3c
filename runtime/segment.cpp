// segment.cpp — unetgen_segment(): wrap the caller's arrays in halide_buffer_t's and run the
// pipeline, with the 8-bit input and class-mask output conversions around it.
//
// Thread safety: everything per call lives on this call's stack or heap (buffer structs, scratch
// arrays, a copy of the device weights' struct); the model is only read. GPU pipelines: whatever
// device memory the pipeline attached to this call's buffers is copied back (output) and freed
// (into Halide's allocation cache) before returning, so no call leaves state behind for another;
// caller device memory is wrapped for the call and detached after it.
#include "runtime/input_sizes.h"
#include "runtime/model.h"
#include "runtime/segment_io.h"

#include <HalideRuntime.h>

#include <climits>

using namespace unetgen::rt;

namespace {

// A float32 halide_buffer_t over caller memory (host, or a device pointer wrapped with the
// library's device interface); dims innermost first.
struct Buffer4 {
    halide_dimension_t dim[4];
    halide_buffer_t buf{};
    bool wrapped = false;  // buf.device is the caller's: detach it, never free it

    Buffer4(float *host, const int64_t (&extent)[4], int dims) {
        int64_t stride = 1;
        for (int d = 0; d < dims; ++d) {
            dim[d] = halide_dimension_t(0, int32_t(extent[d]), int32_t(stride));
            stride *= extent[d];
        }
        buf.host = reinterpret_cast<uint8_t *>(host);
        buf.type = halide_type_t(halide_type_float, 32, 1);
        buf.dimensions = dims;
        buf.dim = dim;
    }
    Buffer4(const Buffer4 &) = delete;

    // Points the buffer at caller device memory instead of host memory.
    int wrap_device(const void *device_ptr, const halide_device_interface_t *iface) {
        buf.host = nullptr;
        int err = iface->wrap_native(nullptr, &buf, uint64_t(reinterpret_cast<uintptr_t>(device_ptr)), iface);
        wrapped = err == 0;
        return err;
    }

    // Host buffers: copies device results back (output) and frees what the pipeline put on a
    // device (into Halide's allocation cache). Wrapped buffers: waits for the results (output)
    // and lets go of the caller's pointer.
    int release(bool is_output) {
        if (buf.device == 0 || buf.device_interface == nullptr) return 0;
        const halide_device_interface_t *iface = buf.device_interface;
        int err = 0;
        if (wrapped) {
            if (is_output) err = iface->device_sync(nullptr, &buf);
            int detach_err = iface->detach_native(nullptr, &buf);
            return err != 0 ? err : detach_err;
        }
        if (is_output && buf.device_dirty()) err = iface->copy_to_host(nullptr, &buf);
        int free_err = iface->device_free(nullptr, &buf);
        return err != 0 ? err : free_err;
    }
};

// n * product of extents, or -1 past INT32_MAX (Halide's strides and extents are 32-bit).
int64_t checked_count(std::initializer_list<int64_t> extents) {
    int64_t total = 1;
    for (int64_t e : extents) {
        if (e < 0 || (e != 0 && total > INT32_MAX / e)) return -1;
        total *= e;
    }
    return total;
}

struct Plan {
    int out_h = 0, out_w = 0;
    int64_t in_count = 0, out_count = 0, scores_count = 0;
};

Plan plan_call(const unetgen_model &m, const unetgen_segment_args &a) {
    const Manifest &mf = m.manifest;
    const std::string ctx = "cannot segment with " + mf.name + ": ";
    if (a.input == nullptr || a.output == nullptr) fail(UNETGEN_ERR_INVALID_ARGUMENT, ctx + "input or output is NULL");
    if (a.input_format != UNETGEN_INPUT_F32_NCHW && a.input_format != UNETGEN_INPUT_U8_NHWC)
        fail(UNETGEN_ERR_INVALID_ARGUMENT, ctx + "input_format " + std::to_string(int(a.input_format)) +
                                               " is neither F32_NCHW nor U8_NHWC");
    if (a.output_kind != UNETGEN_OUTPUT_LOGITS && a.output_kind != UNETGEN_OUTPUT_PROBS &&
        a.output_kind != UNETGEN_OUTPUT_MASK)
        fail(UNETGEN_ERR_INVALID_ARGUMENT, ctx + "output_kind " + std::to_string(int(a.output_kind)) +
                                               " is not LOGITS, PROBS or MASK");
    if (a.n < 1) fail(UNETGEN_ERR_INVALID_ARGUMENT, ctx + "the batch size is " + std::to_string(a.n) + "; it must be >= 1");
    if (a.channels != mf.in_channels)
        fail(UNETGEN_ERR_INVALID_ARGUMENT, ctx + "the input has " + std::to_string(a.channels) +
                                               " channels; the network takes " + std::to_string(mf.in_channels));
    if (a.output_kind == UNETGEN_OUTPUT_MASK && mf.classes > 256)
        fail(UNETGEN_ERR_INVALID_ARGUMENT, ctx + "a uint8 mask holds at most 256 classes; the network has " +
                                               std::to_string(mf.classes) + " (ask for logits or probabilities)");
    check_input_size(mf, a.h, a.w);
    Plan p;
    p.out_h = int(output_extent(mf, a.h));
    p.out_w = int(output_extent(mf, a.w));
    p.in_count = checked_count({a.n, a.channels, a.h, a.w});
    p.scores_count = checked_count({a.n, mf.classes, p.out_h, p.out_w});
    if (p.in_count < 0 || p.scores_count < 0)
        fail(UNETGEN_ERR_INVALID_ARGUMENT, ctx + "a buffer of the " + std::to_string(a.n) + "x" + std::to_string(a.h) +
                                               "x" + std::to_string(a.w) +
                                               " batch would pass 2^31 elements; split the batch");
    p.out_count = a.output_kind == UNETGEN_OUTPUT_MASK ? int64_t(a.n) * p.out_h * p.out_w : p.scores_count;
    return p;
}

// The device interface a call with device memory needs (NULL when both sides are on the host).
const halide_device_interface_t *check_memory(const unetgen_model &m, const unetgen_segment_args &a,
                                              unetgen_memory in_mem, unetgen_memory out_mem) {
    const std::string ctx = "cannot segment with " + m.manifest.name + ": ";
    for (unetgen_memory mem : {in_mem, out_mem})
        if (mem != UNETGEN_MEMORY_HOST && mem != UNETGEN_MEMORY_CUDA)
            fail(UNETGEN_ERR_INVALID_ARGUMENT, ctx + "memory kind " + std::to_string(int(mem)) + " is neither HOST nor CUDA");
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
    return iface;
}

}  // namespace

extern "C" {

unetgen_status unetgen_output_count(const unetgen_model *model, int n, int h, int w, unetgen_output_kind kind,
                                    size_t *count) {
    return guarded([&] {
        if (model == nullptr || count == nullptr)
            fail(UNETGEN_ERR_INVALID_ARGUMENT, "cannot count outputs: the model or count pointer is NULL");
        unetgen_segment_args a{};
        float dummy = 0;
        a.input = &dummy;
        a.output = &dummy;
        a.n = n;
        a.channels = model->manifest.in_channels;
        a.h = h;
        a.w = w;
        a.output_kind = kind;
        *count = size_t(plan_call(*model, a).out_count);
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
        const unetgen_model &m = *model;
        const Manifest &mf = m.manifest;
        unetgen_segment_args &a = *args;
        Plan p = plan_call(m, a);
        const halide_device_interface_t *iface = check_memory(m, a, input_memory, output_memory);
        if (a.output_capacity < size_t(p.out_count))
            fail(UNETGEN_ERR_INVALID_ARGUMENT, "cannot segment with " + mf.name + ": the output needs " +
                                                   std::to_string(p.out_count) + " elements, the buffer has room for " +
                                                   std::to_string(a.output_capacity));

        // Input: the caller's floats as they are, or 8-bit pixels normalised into scratch.
        std::vector<float> in_scratch;
        float *in_host = const_cast<float *>(static_cast<const float *>(a.input));  // the pipeline only reads it
        if (a.input_format == UNETGEN_INPUT_U8_NHWC) {
            in_scratch.resize(size_t(p.in_count));
            normalise_u8_nhwc(static_cast<const uint8_t *>(a.input), a.n, a.h, a.w, a.channels, mf.mean, mf.std,
                              in_scratch.data());
            in_host = in_scratch.data();
        }
        // Output: straight into the caller's floats, or into scratch scores for a mask.
        const bool mask = a.output_kind == UNETGEN_OUTPUT_MASK;
        // A one-class mask thresholds a probability: the pipeline's sigmoid when the spec has one,
        // else the sigmoid of the logit (class_mask applies it).
        const bool pipeline_sigmoid = mf.activation == "sigmoid";
        int activate = a.output_kind == UNETGEN_OUTPUT_PROBS || (mask && mf.classes == 1 && pipeline_sigmoid);
        std::vector<float> scores;
        float *out_host = static_cast<float *>(a.output);
        if (mask) {
            scores.resize(size_t(p.scores_count));
            out_host = scores.data();
        }

        const std::string what = "cannot segment a " + std::to_string(a.n) + "x" + std::to_string(a.channels) + "x" +
                                 std::to_string(a.h) + "x" + std::to_string(a.w) + " input with " + mf.name;
        Buffer4 in(in_host, {a.w, a.h, a.channels, a.n}, 4);
        Buffer4 out(out_host, {p.out_w, p.out_h, mf.classes, a.n}, 4);
        take_pipeline_error(*m.desc);  // a stale message of this thread is not this call's
        if (input_memory == UNETGEN_MEMORY_CUDA && in.wrap_device(a.input, iface) != 0)
            fail(UNETGEN_ERR_INVALID_ARGUMENT, what + ": the input pointer cannot be wrapped as CUDA memory: " +
                                                   take_pipeline_error(*m.desc));
        if (output_memory == UNETGEN_MEMORY_CUDA && out.wrap_device(a.output, iface) != 0) {
            std::string why = take_pipeline_error(*m.desc);
            in.release(false);
            fail(UNETGEN_ERR_INVALID_ARGUMENT, what + ": the output pointer cannot be wrapped as CUDA memory: " + why);
        }
        // Weights: the model's device copy when it has one (a private copy of the struct per
        // call: Halide may write its fields), else the host array.
        Buffer4 host_weights(const_cast<float *>(m.packed.data()), {int64_t(m.packed.size()), 0, 0, 0}, 1);
        halide_dimension_t device_weights_dim = m.device_weights_dim;
        halide_buffer_t device_weights = m.device_weights;
        device_weights.dim = &device_weights_dim;
        halide_buffer_t *weights = m.device_weights.device != 0 ? &device_weights : &host_weights.buf;

        int err = m.desc->pipeline(&in.buf, weights, activate, &out.buf);
        int release_err = out.release(true);
        int in_err = in.release(false);
        host_weights.release(false);
        if (err == 0) err = release_err != 0 ? release_err : in_err;
        if (err != 0) {
            std::string why = take_pipeline_error(*m.desc);
            fail(status_of_halide_error(err), what + ": the pipeline returned Halide error " + std::to_string(err) +
                                                  (why.empty() ? " (Halide's error handler printed the details)" : ": " + why));
        }
        if (mask)
            class_mask(scores.data(), a.n, mf.classes, p.out_h, p.out_w, mf.classes == 1 && !pipeline_sigmoid,
                       float(mf.threshold), static_cast<uint8_t *>(a.output));
        a.out_h = p.out_h;
        a.out_w = p.out_w;
    });
}

}  // extern "C"
