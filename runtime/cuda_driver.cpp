// cuda_driver.cpp — require_cuda_device() and cuda_primary_context(): the CUDA driver API by dlsym.
//
// Probed once per process (the answer does not change while it runs); every failure becomes
// UNETGEN_ERR_NO_DEVICE with the reason, never an abort and never a Halide call into a missing
// driver (Halide's runtime would report "CUDA API not found" only once a pipeline runs).
#include "runtime/cuda_driver.h"

#include "runtime/runtime_failure.h"

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>

namespace unetgen::rt {

namespace {

// The driver API's own types, as far as we use them (cuda.h is not needed to build the runtime).
using CUresult = int;
using CUdevice = int;
using CuInit = CUresult (*)(unsigned int);
using CuDeviceGetCount = CUresult (*)(int *);
using CuDeviceGet = CUresult (*)(CUdevice *, int);
using CuPrimaryCtxRetain = CUresult (*)(void **, CUdevice);
using CuGetErrorName = CUresult (*)(CUresult, const char **);

struct Driver {
    std::string library;      // what was opened
    std::string problem;      // empty: usable
    void *handle = nullptr;
    int device_count = 0;
    CuGetErrorName error_name = nullptr;
};

std::string error_text(const Driver &d, CUresult r) {
    const char *name = nullptr;
    if (d.error_name && d.error_name(r, &name) == 0 && name) return std::string(name) + " (" + std::to_string(r) + ")";
    return "CUDA error " + std::to_string(r);
}

Driver probe() {
    Driver d;
    const char *env = std::getenv("UNETGEN_CUDA_DRIVER");
    d.library = env && *env ? env : "libcuda.so.1";
    d.handle = dlopen(d.library.c_str(), RTLD_NOW | RTLD_GLOBAL);
    if (d.handle == nullptr) {
        d.problem = "no CUDA driver found (" + d.library + ")";
        return d;
    }
    auto init = reinterpret_cast<CuInit>(dlsym(d.handle, "cuInit"));
    auto count = reinterpret_cast<CuDeviceGetCount>(dlsym(d.handle, "cuDeviceGetCount"));
    d.error_name = reinterpret_cast<CuGetErrorName>(dlsym(d.handle, "cuGetErrorName"));
    if (init == nullptr || count == nullptr) {
        d.problem = d.library + " is not a CUDA driver (it lacks cuInit / cuDeviceGetCount)";
        return d;
    }
    if (CUresult r = init(0); r != 0) {
        d.problem = "the CUDA driver (" + d.library + ") did not initialise: cuInit returned " + error_text(d, r);
        return d;
    }
    if (CUresult r = count(&d.device_count); r != 0) {
        d.problem = "the CUDA driver cannot count devices: cuDeviceGetCount returned " + error_text(d, r);
        return d;
    }
    if (d.device_count <= 0) d.problem = "the CUDA driver reports no device";
    return d;
}

const Driver &driver() {
    static const Driver d = probe();  // thread-safe once (C++11 statics)
    return d;
}

std::string fallback_hint() {
    return "; build for a CPU target instead, e.g. unetgen build SPEC --target host";
}

}  // namespace

void require_cuda_device(const std::string &network) {
    const Driver &d = driver();
    if (!d.problem.empty()) fail(UNETGEN_ERR_NO_DEVICE, "cannot run " + network + " on CUDA: " + d.problem + fallback_hint());
}

void *cuda_primary_context(const std::string &network) {
    require_cuda_device(network);
    static std::mutex lock;
    static void *context = nullptr;
    static std::string problem;
    std::lock_guard<std::mutex> guard(lock);
    if (context == nullptr && problem.empty()) {
        const Driver &d = driver();
        // Halide's halide_get_gpu_device() reads HL_GPU_DEVICE; pick the same device.
        int ordinal = 0;
        if (const char *env = std::getenv("HL_GPU_DEVICE")) ordinal = std::atoi(env);
        auto get = reinterpret_cast<CuDeviceGet>(dlsym(d.handle, "cuDeviceGet"));
        auto retain = reinterpret_cast<CuPrimaryCtxRetain>(dlsym(d.handle, "cuDevicePrimaryCtxRetain"));
        CUdevice dev = 0;
        if (ordinal < 0 || ordinal >= d.device_count)
            problem = "HL_GPU_DEVICE=" + std::to_string(ordinal) + " but the driver reports " +
                      std::to_string(d.device_count) + " device(s)";
        else if (get == nullptr || retain == nullptr)
            problem = "the CUDA driver lacks cuDeviceGet / cuDevicePrimaryCtxRetain";
        else if (CUresult r = get(&dev, ordinal); r != 0)
            problem = "cuDeviceGet(" + std::to_string(ordinal) + ") returned " + error_text(d, r);
        else if (CUresult r2 = retain(&context, dev); r2 != 0 || context == nullptr)
            problem = "cuDevicePrimaryCtxRetain returned " + error_text(d, r2);
    }
    if (!problem.empty()) fail(UNETGEN_ERR_NO_DEVICE, "cannot run " + network + " on CUDA: " + problem + fallback_hint());
    return context;
}

}  // namespace unetgen::rt
