// A CUDA library on a machine without a CUDA driver (or forced to look for a missing one):
// model load is UNETGEN_ERR_NO_DEVICE with a message naming the CPU fallback, and the pipeline
// called directly (no runtime check in front of it) returns Halide's error instead of aborting.
#include "gpu_small_cuda_unetgen.h"
#include "runtime/unetgen.hpp"
#include "tests/gpu/gpu_test_support.h"

#include <catch2/catch.hpp>

#include <dlfcn.h>

#include <cstdlib>

using namespace unetgen::test;
using Catch::Matchers::Contains;

TEST_CASE("loading a CUDA model without a CUDA driver is NO_DEVICE, naming the CPU fallback", "[no_device]") {
    // Each test case runs in its own process (catch_discover_tests), and the probe reads this
    // before its first (cached) look, so the missing driver is forced on any machine.
    setenv("UNETGEN_CUDA_DRIVER", "/nonexistent/libcuda.so.1", 1);
    const unetgen_network_desc *desc = gpu_small_cuda_network();
    REQUIRE(desc->uses_gpu == 1);
    REQUIRE(desc->device_interface != nullptr);
    std::vector<uint8_t> bytes = random_weights_for(desc);
    unetgen_model *model = nullptr;
    CHECK(unetgen_model_load_from_memory(desc, bytes.data(), bytes.size(), &model) == UNETGEN_ERR_NO_DEVICE);
    CHECK(model == nullptr);
    CHECK(std::string(unetgen_last_error()) ==
          "cannot run gpu_small_cuda on CUDA: no CUDA driver found (/nonexistent/libcuda.so.1); build for a CPU target "
          "instead, e.g. unetgen build SPEC --target host");
    CHECK(std::string(unetgen_status_string(UNETGEN_ERR_NO_DEVICE)) == "no GPU device");
}

TEST_CASE("the CUDA pipeline itself reports a missing driver as an error, not abort()", "[no_device]") {
    void *driver = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (driver != nullptr) {
        dlclose(driver);
        WARN("a CUDA driver is installed here: the missing-driver path cannot be shown (test passes vacuously)");
        return;
    }
    const unetgen_network_desc *desc = gpu_small_cuda_network();
    std::vector<float> in(3 * 16 * 16), weights(size_t(nlohmann::json::parse(desc->manifest_json)["packed_floats"])),
        out(32 * 16 * 16);
    halide_dimension_t din[4] = {{0, 16, 1}, {0, 16, 16}, {0, 3, 256}, {0, 1, 768}};
    halide_dimension_t dout[4] = {{0, 16, 1}, {0, 16, 16}, {0, 32, 256}, {0, 1, 8192}};
    halide_dimension_t dw[1] = {{0, int32_t(weights.size()), 1}};
    halide_buffer_t bin{}, bw{}, bout{};
    for (auto [b, data, dims, n] : {std::make_tuple(&bin, in.data(), din, 4), std::make_tuple(&bw, weights.data(), dw, 1),
                                    std::make_tuple(&bout, out.data(), dout, 4)}) {
        b->host = reinterpret_cast<uint8_t *>(data);
        b->type = halide_type_t(halide_type_float, 32, 1);
        b->dimensions = n;
        b->dim = dims;
    }
    bin.set_host_dirty(true);
    bw.set_host_dirty(true);
    int err = desc->pipeline(&bin, &bw, 0, &bout);
    CHECK(err != 0);
    CHECK_THAT(desc->last_pipeline_error(), Contains("CUDA"));
}
