// segment(): 8-bit input normalisation, probabilities and masks, size errors with suggestions,
// and concurrent calls on one model.
#include "common/size_program.h"
#include "runtime/segment_io.h"
#include "runtime/unetgen.hpp"
#include "tests/runtime/tiny_network.h"

#include <catch2/catch.hpp>

#include <thread>

using namespace unetgen::test;
using Catch::Matchers::Contains;

namespace {

struct TinyModel {
    std::string manifest;
    unetgen_network_desc desc;
    unetgen::Model model;

    explicit TinyModel(const std::string &activation = "softmax")
        : manifest(tiny_manifest(activation)), desc(make_desc(manifest, tiny_pipeline)), model(load(desc)) {}

    static unetgen::Model load(const unetgen_network_desc &d) {
        std::vector<uint8_t> bytes = make_safetensors(tiny_weights(3));
        return unetgen::Model::load_from_memory(&d, bytes.data(), bytes.size());
    }
};

}  // namespace

TEST_CASE("u8 pixels are scaled to [0,1] and normalised per channel, NHWC to NCHW", "[segment]") {
    // 1 image, 1x2 pixels, 2 channels: pixel 0 = (255, 0), pixel 1 = (51, 128)
    const uint8_t px[] = {255, 0, 51, 128};
    std::vector<float> out(4);
    unetgen::rt::normalise_u8_nhwc(px, 1, 1, 2, 2, {0.5, 0.25}, {0.5, 2.0}, out.data());
    CHECK(out[0] == 1.0f);                    // (1 - 0.5) / 0.5, channel 0 pixel 0
    CHECK(out[1] == Approx(-0.6f));           // (0.2 - 0.5) / 0.5, channel 0 pixel 1
    CHECK(out[2] == -0.125f);                 // (0 - 0.25) / 2, channel 1 pixel 0
    CHECK(out[3] == Approx((128.0f / 255.0f - 0.25f) / 2.0f));

    // Through segment(): u8 input equals the float path on the same normalised values.
    TinyModel t;
    std::vector<uint8_t> img(2 * 4 * 2);
    for (size_t i = 0; i < img.size(); ++i) img[i] = uint8_t(i * 37 % 256);
    std::vector<float> planar(img.size());
    unetgen::rt::normalise_u8_nhwc(img.data(), 1, 2, 4, 2, {0.5, 0.25}, {0.5, 2.0}, planar.data());
    CHECK(t.model.segment(img, 1, 2, 4).values == t.model.segment(planar, 1, 2, 4).values);
}

TEST_CASE("masks: first argmax over classes, one class thresholded", "[segment]") {
    // 3 classes, 4 pixels: winners 2, 0 (tie 0/1 goes to the first), 1, 0 (NaN never wins)
    const float nan = std::nanf("");
    std::vector<float> scores = {0, 5, 1, nan,   // class 0
                                 1, 5, 3, 2,     // class 1
                                 9, 4, 2, 1};    // class 2
    std::vector<uint8_t> mask(4);
    unetgen::rt::class_mask(scores.data(), 1, 3, 1, 4, false, 0.5f, mask.data());
    CHECK(mask == std::vector<uint8_t>{2, 0, 1, 1});
    // One class: probabilities compared with >= threshold; logits go through a sigmoid first.
    std::vector<float> probs = {0.49f, 0.5f, 0.51f, 0.0f};
    unetgen::rt::class_mask(probs.data(), 1, 1, 2, 2, false, 0.5f, mask.data());
    CHECK(mask == std::vector<uint8_t>{0, 1, 1, 0});
    std::vector<float> logits = {-0.1f, 0.0f, 2.0f, 1.0f};
    unetgen::rt::class_mask(logits.data(), 1, 1, 2, 2, true, 0.7f, mask.data());
    CHECK(mask == std::vector<uint8_t>{0, 0, 1, 1});  // sigmoid: 0.475, 0.5, 0.881, 0.731
}

TEST_CASE("segment(): probabilities sum to one, the mask is their argmax", "[segment]") {
    TinyModel t;
    std::vector<float> in = pseudo_random(2 * 2 * 4 * 6, 5);
    unetgen::Scores probs = t.model.segment(in, 2, 4, 6, UNETGEN_OUTPUT_PROBS);
    unetgen::Scores logits = t.model.segment(in, 2, 4, 6, UNETGEN_OUTPUT_LOGITS);
    unetgen::Mask mask = t.model.segment_mask(in, 2, 4, 6);
    REQUIRE(mask.values.size() == size_t(2 * 8 * 12));
    const size_t plane = 8 * 12;
    int nontrivial = 0;
    for (size_t n = 0; n < 2; ++n)
        for (size_t p = 0; p < plane; ++p) {
            float sum = 0;
            int best = 0;
            for (int c = 0; c < kTinyClasses; ++c) {
                sum += probs.values[(n * 3 + size_t(c)) * plane + p];
                if (logits.values[(n * 3 + size_t(c)) * plane + p] > logits.values[(n * 3 + size_t(best)) * plane + p]) best = c;
            }
            CHECK(sum == Approx(1.0f));
            CHECK(mask.values[n * plane + p] == best);
            nontrivial += best != 0;
        }
    CHECK(nontrivial > 0);  // the weights do not make every pixel class 0

    unetgen_segment_args a{};
    std::vector<float> small(3);
    a.input = in.data();
    a.output = small.data();
    a.output_capacity = small.size();
    a.n = 1;
    a.channels = 2;
    a.h = 4;
    a.w = 6;
    CHECK(unetgen_segment(t.model.get(), &a) == UNETGEN_ERR_INVALID_ARGUMENT);
    CHECK_THAT(unetgen_last_error(), Contains("the output needs 288 elements, the buffer has room for 3"));
    a.channels = 3;
    CHECK(unetgen_segment(t.model.get(), &a) == UNETGEN_ERR_INVALID_ARGUMENT);
    CHECK_THAT(unetgen_last_error(), Contains("the input has 3 channels; the network takes 2"));
}

TEST_CASE("sizes the network cannot take are refused with the nearest accepted ones", "[segment]") {
    TinyModel t;
    CHECK(t.model.output_size(6, 10) == std::pair<int, int>{12, 20});
    int oh = 0, ow = 0;
    CHECK(unetgen_output_size(t.model.get(), 6, 11, &oh, &ow) == UNETGEN_ERR_BAD_SIZE);
    CHECK(std::string(unetgen_last_error()) ==
          "cannot segment a 6x11 input with tiny: the network takes sizes H where H == 2*(floor((H)/2)) "
          "(at enc0.pool), and 11 breaks it; nearest: 8, 10, 12");
    CHECK(t.model.nearest_sizes(11, 3) == std::vector<int>{8, 10, 12});
    CHECK(t.model.nearest_sizes(12, 1) == std::vector<int>{12});
    std::vector<float> in(2 * 7 * 8);
    try {
        t.model.segment(in, 1, 7, 8);
        FAIL("segmented an odd height");
    } catch (const unetgen::Error &e) {
        CHECK(e.status() == UNETGEN_ERR_BAD_SIZE);
        CHECK_THAT(e.what(), Contains("cannot segment a 7x8 input with tiny") && Contains("nearest: 4, 6, 8"));
    }
    CHECK(unetgen_output_size(t.model.get(), 0, 8, &oh, &ow) == UNETGEN_ERR_BAD_SIZE);
    CHECK_THAT(unetgen_last_error(), Contains("height and width must be between 1 and"));
}

TEST_CASE("one model serves many threads at once", "[segment][threads]") {
    TinyModel t;
    const int threads = 8, rounds = 20, H = 4, W = 6;
    std::vector<std::vector<float>> inputs, expected;
    for (int i = 0; i < threads; ++i) {
        inputs.push_back(pseudo_random(size_t(2 * H * W), uint32_t(100 + i)));
        expected.push_back(t.model.segment(inputs.back(), 1, H, W).values);
    }
    int before = tiny_calls().load();
    std::vector<int> mismatches(threads, 0);
    std::vector<std::thread> pool;
    for (int i = 0; i < threads; ++i)
        pool.emplace_back([&, i] {
            for (int r = 0; r < rounds; ++r) {
                // Alternate float and mask outputs and provoke an error to exercise the thread-local message.
                if (t.model.segment(inputs[size_t(i)], 1, H, W).values != expected[size_t(i)]) ++mismatches[size_t(i)];
                int oh, ow;
                if (unetgen_output_size(t.model.get(), H + 1, W, &oh, &ow) != UNETGEN_ERR_BAD_SIZE ||
                    std::string(unetgen_last_error()).find("a 5x6 input") == std::string::npos)
                    ++mismatches[size_t(i)];
            }
        });
    for (std::thread &th : pool) th.join();
    CHECK(tiny_calls().load() - before == threads * rounds);
    for (int m : mismatches) CHECK(m == 0);
}

TEST_CASE("null arguments and a missing thread hook give statuses, not crashes", "[segment]") {
    TinyModel t;
    CHECK(unetgen_segment(nullptr, nullptr) == UNETGEN_ERR_INVALID_ARGUMENT);
    CHECK(unetgen_set_num_threads(t.model.get(), 2) == UNETGEN_ERR_UNSUPPORTED);
    CHECK_THAT(unetgen_last_error(), Contains("exports no set_num_threads hook"));
    unetgen_model *m = reinterpret_cast<unetgen_model *>(1);
    CHECK(unetgen_model_load(nullptr, "x", &m) == UNETGEN_ERR_INVALID_ARGUMENT);
    CHECK(m == nullptr);
    CHECK(std::string(unetgen_status_string(UNETGEN_ERR_BAD_SIZE)) == "input size not accepted");
}

TEST_CASE("size programs with huge factors saturate and report overflow instead of wrapping", "[segment]") {
    unetgen::SizeProgram p;
    int node = p.input();
    for (int i = 0; i < 3; ++i) node = p.mul_const(node, int64_t(1) << 20);  // H * 2^60
    p.constraints.push_back({unetgen::SizeConstraint::Kind::Positive, node, -1, "huge"});
    bool overflow = false;
    std::vector<int64_t> v = p.evaluate(int64_t(1) << 24, &overflow);
    CHECK(overflow);
    CHECK(v[size_t(node)] == INT64_MAX);
    CHECK(p.first_violation(int64_t(1) << 24) == -3);
    CHECK_FALSE(p.accepts(int64_t(1) << 24));
    CHECK(p.accepts(1));  // 2^60 still fits
    overflow = true;
    p.evaluate(0, &overflow);
    CHECK_FALSE(overflow);
}
