// halide_buffers.h — float32 halide_buffer_t's over caller or scratch memory, with the device
// bookkeeping a call must undo before it returns (GPU libraries).
#pragma once

#include <HalideRuntime.h>

#include <cstdint>

namespace unetgen::rt {

// A float32 buffer of up to 4 dims (innermost first) over host memory, or over a caller's device
// pointer wrapped with the library's device interface.
struct FloatBuffer {
    halide_dimension_t dim[4];
    halide_buffer_t buf{};
    bool wrapped = false;  // buf.device is the caller's: detach it, never free it

    // Dense over `host` with these extents, mins 0.
    FloatBuffer(float *host, const int64_t (&extent)[4], int dims) {
        int64_t stride = 1;
        for (int d = 0; d < dims; ++d) {
            dim[d] = halide_dimension_t(0, int32_t(extent[d]), int32_t(stride));
            stride *= extent[d];
        }
        init(host, dims);
    }
    // Any window: dims given as (min, extent, stride); `host` points at the element at the mins.
    FloatBuffer(float *host, const halide_dimension_t (&dims)[4]) {
        for (int d = 0; d < 4; ++d) dim[d] = dims[d];
        init(host, 4);
    }
    FloatBuffer(const FloatBuffer &) = delete;

    bool is_bounds_query() const { return buf.host == nullptr && buf.device == 0; }

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

private:
    void init(float *host, int dims) {
        buf.host = reinterpret_cast<uint8_t *>(host);
        buf.type = halide_type_t(halide_type_float, 32, 1);
        buf.dimensions = dims;
        buf.dim = dim;
    }
};

}  // namespace unetgen::rt
