// model.h — the loaded model behind the opaque unetgen_model, and the C boundary helper.
//
// A model is immutable after load: segment() reads it from any number of threads.
#pragma once

#include "runtime/manifest.h"
#include "runtime/runtime_failure.h"
#include "runtime/unetgen.h"

#include <new>
#include <vector>

struct unetgen_model {
    const unetgen_network_desc *desc = nullptr;
    unetgen::rt::Manifest manifest;
    std::vector<float> packed;  // folded and packed weights, read-only after load
};

namespace unetgen::rt {

// Records `message` as the calling thread's last error.
void set_last_error(const std::string &message);

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
