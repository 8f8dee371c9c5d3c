// library_test_support.h — what the tests of real generated libraries share: a model with
// synthetic weights (cli/synthetic_weights.cpp) and a segment() of a constant float image.
#pragma once

#include "cli/synthetic_weights.h"
#include "runtime/unetgen.h"

#include <string>
#include <vector>

// Loads `net` with synthetic weights into *model; on failure `message` holds the error.
inline unetgen_status load_synthetic(const unetgen_network_desc *net, unetgen_model **model, std::string &message) {
    std::vector<uint8_t> weights = unetgen::cli::synthetic_weights(net->manifest_json);
    const unetgen_status s = unetgen_model_load_from_memory(net, weights.data(), weights.size(), model);
    message = s == UNETGEN_OK ? "" : unetgen_last_error();
    return s;
}

// Segments a 1 x channels x h x w float image of `value` into `kind` (LOGITS or PROBS); on
// failure `message` holds the error.
inline unetgen_status segment_constant(const unetgen_model *model, int h, int w, float value, unetgen_output_kind kind,
                                       std::string &message) {
    const int c = unetgen_model_in_channels(model);
    std::vector<float> in(size_t(c) * size_t(h) * size_t(w), value);
    size_t count = 0;
    unetgen_output_count(model, 1, h, w, kind, &count);
    std::vector<float> out(count);
    unetgen_segment_args a{};
    a.input_format = UNETGEN_INPUT_F32_NCHW;
    a.input = in.data();
    a.n = 1, a.channels = c, a.h = h, a.w = w;
    a.output_kind = kind;
    a.output = out.data();
    a.output_capacity = count;
    const unetgen_status s = unetgen_segment(model, &a);
    message = s == UNETGEN_OK ? "" : unetgen_last_error();
    return s;
}
