// model.h — the loaded model behind the opaque unetgen_model, and the C boundary helper.
//
// A model is immutable after load: segment() reads it from any number of threads.
#pragma once

#include "runtime/manifest.h"
#include "runtime/runtime_failure.h"
#include "runtime/unetgen.h"

#include <HalideRuntime.h>

#include <new>
#include <vector>

struct unetgen_model {
    const unetgen_network_desc *desc = nullptr;
    unetgen::rt::Manifest manifest;
    std::vector<float> packed;  // folded and packed weights, read-only after load
    // GPU libraries of ABI 2: `packed` uploaded once at load (device_weights.cpp). Never handed to
    // a pipeline itself: every call passes its own copy of this struct (device valid, nothing
    // dirty), so the fields Halide may touch during a call are never shared between threads.
    halide_dimension_t device_weights_dim{};
    halide_buffer_t device_weights{};
    ~unetgen_model();
};

namespace unetgen::rt {

// Records `message` as the calling thread's last error.
void set_last_error(const std::string &message);

// The library's GPU device interface, or NULL (CPU, or ABI 1: the descriptor ends before it).
inline const halide_device_interface_t *device_interface_of(const unetgen_network_desc &d) {
    return d.abi_version >= 2 && d.uses_gpu && d.device_interface ? d.device_interface() : nullptr;
}

// Halide's message of the library's last failure on this thread, drained ("" if none or ABI 1).
std::string take_pipeline_error(const unetgen_network_desc &d);

// The threads a pipeline of `d` runs on: what unetgen_set_num_threads set last for its library,
// else the machine's cores (Halide's default). The tile planner counts a task's scratch per thread.
int pipeline_threads(const unetgen_network_desc &d);
void note_num_threads(const unetgen_network_desc &d, int n);

// The status a Halide error code maps to: OUT_OF_MEMORY for failed (device) allocations,
// PIPELINE for everything else.
unetgen_status status_of_halide_error(int halide_error);

// GPU networks: checks the driver (NO_DEVICE), points the library at the primary context and
// uploads m.packed into m.device_weights (ABI 2; ABI 1 libraries upload per call). CPU: nothing.
void prepare_device(unetgen_model &m);

// Runs `body`, turning a Failure / bad_alloc / other exception into a status and last error,
// so that no exception crosses the C API.
template <typename Body>
unetgen_status guarded(Body &&body) {
    try {
        body();
        return UNETGEN_OK;
    } catch (const Failure &f) {
        set_last_error(f.what());
        return f.status;
    } catch (const std::bad_alloc &) {
        set_last_error("cannot allocate memory: the system refused an allocation");
        return UNETGEN_ERR_OUT_OF_MEMORY;
    } catch (const std::exception &e) {
        set_last_error(std::string("cannot complete the call: unexpected error: ") + e.what());
        return UNETGEN_ERR_INVALID_ARGUMENT;
    }
}

}  // namespace unetgen::rt
