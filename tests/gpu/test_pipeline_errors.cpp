// A CPU library never aborts: a buffer Halide rejects and an allocation Halide cannot make come
// back as a return code / status with Halide's own message (the generated glue's error handler);
// device memory with a CPU library is refused cleanly.
#include "gpu_small_host_unetgen.h"
#include "runtime/unetgen.hpp"
#include "tests/gpu/gpu_test_support.h"

#include <catch2/catch.hpp>

#include <sys/resource.h>

using namespace unetgen::test;
using Catch::Matchers::Contains;

namespace {

struct Buffer {
    std::vector<halide_dimension_t> dims;
    halide_buffer_t buf{};
    Buffer(float *data, std::vector<int> extents) {
        int stride = 1;
        for (int e : extents) {
            dims.emplace_back(0, e, stride);
            stride *= e;
        }
        buf.host = reinterpret_cast<uint8_t *>(data);
        buf.type = halide_type_t(halide_type_float, 32, 1);
        buf.dimensions = int(extents.size());
        buf.dim = dims.data();
    }
};

}  // namespace

TEST_CASE("a buffer the pipeline rejects is an error code and Halide's message, not abort()", "[errors]") {
    const unetgen_network_desc *desc = gpu_small_host_network();
    REQUIRE(desc->abi_version == UNETGEN_ABI_VERSION);
    REQUIRE(desc->last_pipeline_error != nullptr);
    std::vector<float> in(3 * 16 * 16), weights(10), out(32 * 16 * 16);
    Buffer bin(in.data(), {16, 16, 3, 1}), bw(weights.data(), {10}), bout(out.data(), {16, 16, 32, 1});
    int err = desc->pipeline(&bin.buf, &bw.buf, 0, &bout.buf);
    CHECK(err != 0);
    std::string message = desc->last_pipeline_error();
    CHECK_THAT(message, Contains("weights"));
    CHECK(std::string(desc->last_pipeline_error()) == "");  // taken: the next failure starts afresh
}

TEST_CASE("an allocation Halide cannot make is OUT_OF_MEMORY with Halide's message", "[errors]") {
    std::vector<uint8_t> bytes = random_weights_for(gpu_small_host_network());
    unetgen::Model model = unetgen::Model::load_from_memory(gpu_small_host_network(), bytes.data(), bytes.size());
    REQUIRE(unetgen_set_num_threads(model.get(), 1) == UNETGEN_OK);  // no thread stacks to map later
    std::vector<float> small_in(3 * 32 * 32);
    REQUIRE(model.segment(small_in, 1, 32, 32, UNETGEN_OUTPUT_LOGITS).values.size() == 32 * 32 * 32);

    // 1024 x 1024: the caller's buffers (12 MB in, 128 MB out) exist before the limit; the
    // pipeline's intermediates (tens of MB each) cannot be allocated under it.
    const int side = 1024;
    std::vector<float> in(size_t(3) * side * side, 0.5f), out(size_t(32) * side * side);
    struct rlimit old {};
    REQUIRE(getrlimit(RLIMIT_AS, &old) == 0);
    long pages = 0;
    {
        FILE *f = std::fopen("/proc/self/statm", "r");
        REQUIRE(f != nullptr);
        REQUIRE(std::fscanf(f, "%ld", &pages) == 1);
        std::fclose(f);
    }
    struct rlimit tight = old;
    tight.rlim_cur = rlim_t(pages) * 4096 + (16u << 20);  // what is mapped now + 16 MB
    REQUIRE(setrlimit(RLIMIT_AS, &tight) == 0);
    unetgen_segment_args a{};
    a.input = in.data();
    a.n = 1;
    a.channels = 3;
    a.h = side;
    a.w = side;
    a.output_kind = UNETGEN_OUTPUT_LOGITS;
    a.output = out.data();
    a.output_capacity = out.size();
    unetgen_status s = unetgen_segment(model.get(), &a);
    std::string message = unetgen_last_error();
    setrlimit(RLIMIT_AS, &old);
    CHECK(s == UNETGEN_ERR_OUT_OF_MEMORY);
    CHECK_THAT(message, Contains("cannot segment a 1x3x1024x1024 input with gpu_small_host"));
    CHECK_THAT(message, Contains("Halide error -11"));
    CHECK_THAT(message, Contains("Out of memory"));
    // The model still works once memory is back.
    CHECK(model.segment(small_in, 1, 32, 32, UNETGEN_OUTPUT_LOGITS).values.size() == 32 * 32 * 32);
}

TEST_CASE("CUDA memory with a CPU library is UNSUPPORTED, an unknown memory kind INVALID_ARGUMENT", "[errors]") {
    std::vector<uint8_t> bytes = random_weights_for(gpu_small_host_network());
    unetgen::Model model = unetgen::Model::load_from_memory(gpu_small_host_network(), bytes.data(), bytes.size());
    std::vector<float> in(3 * 16 * 16), out(32 * 16 * 16);
    unetgen_segment_args a{};
    a.input = in.data();
    a.n = 1;
    a.channels = 3;
    a.h = 16;
    a.w = 16;
    a.output_kind = UNETGEN_OUTPUT_LOGITS;
    a.output = out.data();
    a.output_capacity = out.size();
    CHECK(unetgen_segment_memory(model.get(), &a, UNETGEN_MEMORY_CUDA, UNETGEN_MEMORY_HOST) == UNETGEN_ERR_UNSUPPORTED);
    CHECK_THAT(unetgen_last_error(), Contains("CUDA memory needs a library built for a CUDA target"));
    CHECK(unetgen_segment_memory(model.get(), &a, UNETGEN_MEMORY_HOST, unetgen_memory(7)) == UNETGEN_ERR_INVALID_ARGUMENT);
    CHECK(unetgen_segment_memory(model.get(), &a, UNETGEN_MEMORY_HOST, UNETGEN_MEMORY_HOST) == UNETGEN_OK);
}
