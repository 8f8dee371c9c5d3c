// device_weights.cpp — prepare_device(): a GPU model's weights go to the device once, at load;
// ~unetgen_model() frees them (and, for the last model of a library, its cached allocations).
// Also the two helpers every call into a library uses: Halide's message and the status of a code.
//
// Why once: the packed weights are the largest input of every call (tens to hundreds of MB);
// copying them per call would cost more than the network on a fast GPU.
#include "runtime/cuda_driver.h"
#include "runtime/model.h"

#include <map>
#include <mutex>

namespace unetgen::rt {

namespace {

// Live GPU models per descriptor: the library's device state (context kernels, allocation
// cache) is released with its last model, never under another model's feet.
std::mutex g_models_lock;
std::map<const unetgen_network_desc *, int> g_gpu_models;

}  // namespace

std::string take_pipeline_error(const unetgen_network_desc &d) {
    if (d.abi_version < 2 || d.last_pipeline_error == nullptr) return "";
    const char *msg = d.last_pipeline_error();
    return msg ? msg : "";
}

unetgen_status status_of_halide_error(int halide_error) {
    switch (halide_error) {
    case halide_error_code_out_of_memory:
    case halide_error_code_buffer_allocation_too_large:
    case halide_error_code_device_malloc_failed: return UNETGEN_ERR_OUT_OF_MEMORY;
    default: return UNETGEN_ERR_PIPELINE;
    }
}

void prepare_device(unetgen_model &m) {
    const unetgen_network_desc &d = *m.desc;
    if (!d.uses_gpu) return;
    const std::string &name = m.manifest.name;
    require_cuda_device(name);
    const halide_device_interface_t *iface = device_interface_of(d);
    if (iface == nullptr) return;  // ABI 1: the pipeline uploads the weights on every call
    if (d.set_cuda_context) d.set_cuda_context(cuda_primary_context(name));

    m.device_weights_dim = halide_dimension_t(0, int32_t(m.packed.size()), 1);
    halide_buffer_t &b = m.device_weights;
    b.host = reinterpret_cast<uint8_t *>(m.packed.data());
    b.type = halide_type_t(halide_type_float, 32, 1);
    b.dimensions = 1;
    b.dim = &m.device_weights_dim;
    b.set_host_dirty(true);
    take_pipeline_error(d);  // drop a stale message of this thread
    int err = iface->copy_to_device(nullptr, &b, iface);
    if (err == 0 && b.device_interface != nullptr) err = b.device_interface->device_sync(nullptr, &b);
    if (err != 0) {
        std::string why = take_pipeline_error(d);
        if (b.device != 0 && b.device_interface != nullptr) b.device_interface->device_free(nullptr, &b);
        b.device = 0;
        b.device_interface = nullptr;
        fail(status_of_halide_error(err), "cannot upload the " + std::to_string(m.packed.size() * 4) + " bytes of " +
                                              name + "'s weights to the GPU: Halide error " + std::to_string(err) +
                                              (why.empty() ? "" : ": " + why));
    }
    std::lock_guard<std::mutex> guard(g_models_lock);
    ++g_gpu_models[m.desc];
}

}  // namespace unetgen::rt

unetgen_model::~unetgen_model() {
    using namespace unetgen::rt;
    if (device_weights.device == 0 || device_weights.device_interface == nullptr) return;
    // Errors cannot be reported from a free; the driver reclaims the memory at exit in any case.
    device_weights.device_interface->device_free(nullptr, &device_weights);
    bool last = false;
    {
        std::lock_guard<std::mutex> guard(g_models_lock);
        last = --g_gpu_models[desc] == 0;
        if (last) g_gpu_models.erase(desc);
    }
    if (last && desc->release_device) desc->release_device();
    take_pipeline_error(*desc);
}
