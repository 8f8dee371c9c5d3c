// Safetensors reading and weight checks: well-formed files load, every kind of malformed or
// mismatched file is refused with a message naming the tensor and both sides.
#include "runtime/unetgen.hpp"
#include "tests/runtime/tiny_network.h"

#include <catch2/catch.hpp>

#include <fstream>

using namespace unetgen::test;
using Catch::Matchers::Contains;

namespace {

struct Loaded {
    unetgen_status status;
    std::string message;
};

Loaded load(const std::vector<uint8_t> &bytes) {
    static const std::string manifest = tiny_manifest();
    static const unetgen_network_desc desc = make_desc(manifest, tiny_pipeline);
    unetgen_model *m = nullptr;
    unetgen_status s = unetgen_model_load_from_memory(&desc, bytes.data(), bytes.size(), &m);
    Loaded r{s, s == UNETGEN_OK ? "" : unetgen_last_error()};
    if (s == UNETGEN_OK) REQUIRE(m != nullptr);
    else REQUIRE(m == nullptr);
    unetgen_model_free(m);
    return r;
}

std::vector<TensorSpec> with(std::vector<TensorSpec> ts, const std::string &name, std::vector<int64_t> shape) {
    for (TensorSpec &t : ts)
        if (t.name == name) {
            t.shape = shape;
            t.values = pseudo_random(size_t(numel(shape)), 1);
        }
    return ts;
}

}  // namespace

TEST_CASE("a well-formed weights file loads, num_batches_tracked ignored", "[safetensors]") {
    std::vector<TensorSpec> ts = tiny_weights();
    TensorSpec nbt{"enc0.bn0.num_batches_tracked", {}, {}, "I64", std::vector<uint8_t>(8, 0)};
    ts.push_back(nbt);
    CHECK(load(make_safetensors(ts)).status == UNETGEN_OK);
}

TEST_CASE("a weights file from disk loads; a missing file is an I/O error", "[safetensors]") {
    std::vector<uint8_t> bytes = make_safetensors(tiny_weights());
    const std::string path = "test_runtime_tiny.safetensors";
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char *>(bytes.data()), std::streamsize(bytes.size()));
    const std::string manifest = tiny_manifest();
    unetgen_network_desc desc = make_desc(manifest, tiny_pipeline);
    unetgen::Model m = unetgen::Model::load(&desc, path);
    CHECK(m.name() == "tiny");
    CHECK(unetgen_model_packed_floats(m.get()) == 290);
    try {
        unetgen::Model::load(&desc, "no/such/file.safetensors");
        FAIL("loaded a missing file");
    } catch (const unetgen::Error &e) {
        CHECK(e.status() == UNETGEN_ERR_IO);
        CHECK_THAT(e.what(), Contains("cannot open weights file no/such/file.safetensors"));
    }
}

TEST_CASE("malformed safetensors files are refused, never read out of bounds", "[safetensors]") {
    std::vector<uint8_t> good = make_safetensors(tiny_weights());
    SECTION("shorter than the length field") {
        Loaded r = load(std::vector<uint8_t>(good.begin(), good.begin() + 5));
        CHECK(r.status == UNETGEN_ERR_BAD_WEIGHTS_FILE);
        CHECK_THAT(r.message, Contains("fewer than the 8-byte header length"));
    }
    SECTION("truncated in the data") {
        Loaded r = load(std::vector<uint8_t>(good.begin(), good.end() - 10));
        CHECK(r.status == UNETGEN_ERR_BAD_WEIGHTS_FILE);
        CHECK_THAT(r.message, Contains("tensor up0.bias") && Contains("run past the data") && Contains("truncated"));
    }
    SECTION("header length beyond the file") {
        std::vector<uint8_t> bad = good;
        bad[5] = 0x7f;
        Loaded r = load(bad);
        CHECK(r.status == UNETGEN_ERR_BAD_WEIGHTS_FILE);
        CHECK_THAT(r.message, Contains("header length") && Contains("runs past the end of the file"));
    }
    SECTION("header is not JSON") {
        Loaded r = load(make_safetensors({}, "{\"a\": [1, 2"));
        CHECK(r.status == UNETGEN_ERR_BAD_WEIGHTS_FILE);
        CHECK_THAT(r.message, Contains("the header is not valid JSON"));
    }
    SECTION("entry without data_offsets") {
        Loaded r = load(make_safetensors({}, R"({"x": {"dtype": "F32", "shape": [1]}})"));
        CHECK(r.status == UNETGEN_ERR_BAD_WEIGHTS_FILE);
        CHECK_THAT(r.message, Contains("tensor x: \"data_offsets\" must be an array [begin, end]"));
    }
    SECTION("offsets that do not match dtype x shape") {
        Loaded r = load(make_safetensors({}, R"({"x": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 0]}})"));
        CHECK(r.status == UNETGEN_ERR_BAD_WEIGHTS_FILE);
        CHECK_THAT(r.message, Contains("tensor x") && Contains("hold 0 bytes, but F32 [2, 3] needs 24"));
    }
    SECTION("huge shapes do not overflow") {
        Loaded r = load(make_safetensors(
            {}, R"({"x": {"dtype": "F32", "shape": [4611686018427387904, 4], "data_offsets": [0, 0]}})"));
        CHECK(r.status == UNETGEN_ERR_BAD_WEIGHTS_FILE);
        CHECK_THAT(r.message, Contains("more than the file holds"));
    }
    SECTION("overlapping tensors") {
        std::vector<TensorSpec> ts = {{"a", {2}, {1, 2}}, {"b", {2}, {3, 4}}};
        std::vector<uint8_t> bytes = make_safetensors(
            ts, R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},)"
                R"( "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})");
        bytes.resize(bytes.size() + 16, 0);
        Loaded r = load(bytes);
        CHECK(r.status == UNETGEN_ERR_BAD_WEIGHTS_FILE);
        CHECK_THAT(r.message, Contains("tensors a and b overlap"));
    }
}

TEST_CASE("weights that do not fit the spec name the tensor and both sides", "[safetensors]") {
    SECTION("wrong shape") {
        Loaded r = load(make_safetensors(with(tiny_weights(), "enc0.conv0.weight", {4, 2, 5, 5})));
        CHECK(r.status == UNETGEN_ERR_WEIGHTS_MISMATCH);
        CHECK_THAT(r.message, Contains("cannot load weights (in memory) into network tiny: tensor enc0.conv0.weight: "
                                       "expected shape [4, 2, 3, 3], file has [4, 2, 5, 5]"));
    }
    SECTION("wrong dtype") {
        std::vector<TensorSpec> ts = tiny_weights();
        ts[1] = {"enc0.conv0.bias", {4}, {}, "I64", std::vector<uint8_t>(32, 0)};
        Loaded r = load(make_safetensors(ts));
        CHECK(r.status == UNETGEN_ERR_WEIGHTS_MISMATCH);
        CHECK_THAT(r.message, Contains("tensor enc0.conv0.bias: expected dtype F32 (or F16, BF16, F64), file has I64"));
    }
    SECTION("missing and extra tensors, all reported at once") {
        std::vector<TensorSpec> ts = tiny_weights();
        ts.erase(ts.begin() + 2);  // enc0.bn0.weight
        ts.push_back({"dec9.conv0.weight", {1, 2}, {1, 2}});
        Loaded r = load(make_safetensors(ts));
        CHECK(r.status == UNETGEN_ERR_WEIGHTS_MISMATCH);
        CHECK_THAT(r.message, Contains("2 problems") && Contains("tensor enc0.bn0.weight is missing (expected shape [4])") &&
                                  Contains("tensor dec9.conv0.weight [1, 2] is not in the spec of tiny"));
    }
}

TEST_CASE("F16 and BF16 weights are converted exactly", "[safetensors]") {
    // Same network twice: once F32, once with enc0.conv0.bias stored as F16 / BF16 of values that
    // both formats represent exactly; the packed results must be identical.
    std::vector<TensorSpec> ts = tiny_weights();
    ts[1].values = {0.5f, -1.25f, 3.0f, 0.0f};
    const std::string manifest = tiny_manifest();
    unetgen_network_desc desc = make_desc(manifest, tiny_pipeline);
    auto packed_bias = [&](const std::vector<TensorSpec> &w) {
        std::vector<uint8_t> bytes = make_safetensors(w);
        unetgen::Model m = unetgen::Model::load_from_memory(&desc, bytes.data(), bytes.size());
        std::vector<float> in(2 * 2 * 2, 0.0f);  // zero input: the output is a function of biases only
        return m.segment(in, 1, 2, 2, UNETGEN_OUTPUT_LOGITS).values;
    };
    std::vector<float> ref = packed_bias(ts);
    std::vector<TensorSpec> f16 = ts, bf16 = ts;
    f16[1] = {"enc0.conv0.bias", {4}, {}, "F16", {0x00, 0x38, 0x00, 0xbd, 0x00, 0x42, 0x00, 0x00}};
    bf16[1] = {"enc0.conv0.bias", {4}, {}, "BF16", {0x00, 0x3f, 0xa0, 0xbf, 0x40, 0x40, 0x00, 0x00}};
    CHECK(packed_bias(f16) == ref);
    CHECK(packed_bias(bf16) == ref);
}
