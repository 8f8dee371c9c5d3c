// BN folding and packing: the runtime packs a hand-written manifest (three layouts, o_block,
// before/after-ReLU BN, a transposed conv); a pipeline that reads the packed buffer with its own
// index arithmetic must reproduce a double-precision reference computed from the raw tensors.
#include "runtime/unetgen.hpp"
#include "tests/runtime/tiny_network.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace unetgen::test;

TEST_CASE("folded, packed weights reproduce conv -> BN -> ReLU / conv -> ReLU -> BN / transposed conv",
          "[packing]") {
    const std::string manifest = tiny_manifest();
    unetgen_network_desc desc = make_desc(manifest, tiny_pipeline);
    std::vector<TensorSpec> weights = tiny_weights(11);
    std::vector<uint8_t> bytes = make_safetensors(weights);
    unetgen::Model model = unetgen::Model::load_from_memory(&desc, bytes.data(), bytes.size());

    const int N = 2, H = 6, W = 4;
    std::vector<float> input = pseudo_random(size_t(N * kTinyIn * H * W), 99);
    unetgen::Scores logits = model.segment(input, N, H, W, UNETGEN_OUTPUT_LOGITS);
    REQUIRE(logits.h == 2 * H);
    REQUIRE(logits.w == 2 * W);
    REQUIRE(logits.classes == kTinyClasses);
    std::vector<double> ref = tiny_reference(weights, input, N, H, W);
    REQUIRE(logits.values.size() == ref.size());
    double worst = 0;
    for (size_t i = 0; i < ref.size(); ++i) worst = std::max(worst, std::fabs(double(logits.values[i]) - ref[i]));
    CHECK(worst < 1e-5);

    // The check can fail: a layout letter swapped in the manifest gives other results.
    std::string swapped = manifest;
    swapped.replace(swapped.find("\"hwoi\""), 6, "\"hwio\"");
    unetgen_network_desc bad_desc = make_desc(swapped, tiny_pipeline);
    unetgen::Model bad = unetgen::Model::load_from_memory(&bad_desc, bytes.data(), bytes.size());
    std::vector<float> wrong = bad.segment(input, N, H, W, UNETGEN_OUTPUT_LOGITS).values;
    double diff = 0;
    for (size_t i = 0; i < ref.size(); ++i) diff = std::max(diff, std::fabs(double(wrong[i]) - ref[i]));
    CHECK(diff > 1e-3);
}

TEST_CASE("a manifest that contradicts itself is a bad network, not a crash", "[packing]") {
    std::vector<uint8_t> bytes = make_safetensors(tiny_weights());
    auto load_status = [&](const std::string &manifest, std::string &message) {
        unetgen_network_desc desc = make_desc(manifest, tiny_pipeline);
        unetgen_model *m = nullptr;
        unetgen_status s = unetgen_model_load_from_memory(&desc, bytes.data(), bytes.size(), &m);
        unetgen_model_free(m);
        message = s == UNETGEN_OK ? "" : unetgen_last_error();
        return s;
    };
    std::string msg, manifest = tiny_manifest();
    std::string past_end = manifest;
    past_end.replace(past_end.find("\"weight_offset\": 236"), 20, "\"weight_offset\": 280");
    CHECK(load_status(past_end, msg) == UNETGEN_ERR_BAD_NETWORK);
    CHECK_THAT(msg, Catch::Matchers::Contains("packing[2].weight_offset\" is 280, so its 48 floats run past packed_floats 290"));
    nlohmann::json huge = nlohmann::json::parse(manifest);  // weights past Halide's 32-bit extent
    huge["packed_floats"] = int64_t(1) << 31;
    CHECK(load_status(huge.dump(), msg) == UNETGEN_ERR_BAD_NETWORK);
    CHECK_THAT(msg, Catch::Matchers::Contains("\"packed_floats\" is 2147483648, outside [0, 2147483647]"));
    CHECK(load_status("{\"format\": 1", msg) == UNETGEN_ERR_BAD_NETWORK);
    CHECK_THAT(msg, Catch::Matchers::Contains("not valid JSON"));
    std::string bad_block = manifest;
    bad_block.replace(bad_block.find("\"o_block\": 2"), 12, "\"o_block\": 3");
    CHECK(load_status(bad_block, msg) == UNETGEN_ERR_BAD_NETWORK);
    CHECK_THAT(msg, Catch::Matchers::Contains("does not divide out_channels 4"));
    // "winograd" (U packed at load) only where the pipeline's Winograd rule allows it.
    nlohmann::json wino = nlohmann::json::parse(manifest);
    wino["packing"][0]["winograd"] = 2;
    CHECK(load_status(wino.dump(), msg) == UNETGEN_ERR_BAD_NETWORK);
    CHECK_THAT(msg, Catch::Matchers::Contains("packing[0].winograd\" needs a 3x3 conv (not transposed) with out_channels a multiple of 16"));
    wino["packing"][0]["winograd"] = 3;
    CHECK(load_status(wino.dump(), msg) == UNETGEN_ERR_BAD_NETWORK);
    CHECK_THAT(msg, Catch::Matchers::Contains("packing[0].winograd\" is 3, not 2 or 4"));
}
