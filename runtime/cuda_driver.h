// cuda_driver.h — is a CUDA driver and device there? And the context CUDA libraries run in.
//
// The runtime never links CUDA: it opens the driver (libcuda.so.1) with dlopen, as Halide's CUDA
// runtime does, so one runtime serves machines with and without a GPU.
#pragma once

#include <string>

namespace unetgen::rt {

// Throws Failure(UNETGEN_ERR_NO_DEVICE) unless the CUDA driver loads, initialises and reports at
// least one device; the message names `network` and says that a CPU build is the fallback.
// The driver stays loaded (RTLD_GLOBAL, so Halide's CUDA runtime, which looks for the driver's
// symbols in the process first, finds it even where only libcuda.so.1 is installed).
// UNETGEN_CUDA_DRIVER, when set, names the driver library to open instead of libcuda.so.1.
void require_cuda_device(const std::string &network);

// The primary context of the CUDA device Halide would pick (HL_GPU_DEVICE, else device 0),
// retained once for the life of the process; it is the context the CUDA runtime API (cudaMalloc,
// PyTorch) uses, so device pointers the caller hands in are valid in it. Call after
// require_cuda_device(). Throws Failure(UNETGEN_ERR_NO_DEVICE) when it cannot be had.
void *cuda_primary_context(const std::string &network);

}  // namespace unetgen::rt
