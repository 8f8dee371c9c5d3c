// unetgen.hpp — a thin C++17 wrapper over unetgen.h: RAII handles, exceptions, std::vector I/O.
//
//     unetgen::Model model = unetgen::Model::load(small_network(), "small.safetensors");
//     unetgen::Scores probs = model.segment(nchw, 1, 256, 256);      // float, after the activation
//     unetgen::Mask mask = model.segment_mask(rgb_pixels, 1, 256, 256);
//
// Every failure throws unetgen::Error (status + the C API's message). A Model is safe to share
// between threads for segment() calls.
#pragma once

#include "unetgen.h"

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace unetgen {

class Error : public std::runtime_error {
public:
    Error(unetgen_status status, const std::string &message) : std::runtime_error(message), status_(status) {}
    unetgen_status status() const { return status_; }

private:
    unetgen_status status_;
};

inline void throw_if_failed(unetgen_status s) {
    if (s != UNETGEN_OK) throw Error(s, unetgen_last_error());
}

// n x classes x h x w float scores (logits or probabilities).
struct Scores {
    int n = 0, classes = 0, h = 0, w = 0;
    std::vector<float> values;
};

// n x h x w class indices.
struct Mask {
    int n = 0, h = 0, w = 0;
    std::vector<uint8_t> values;
};

// A generated library opened at run time (see unetgen_library_open).
class Library {
public:
    explicit Library(const std::string &path) { throw_if_failed(unetgen_library_open(path.c_str(), &lib_)); }
    Library(Library &&o) noexcept : lib_(std::exchange(o.lib_, nullptr)) {}
    Library &operator=(Library &&o) noexcept {
        std::swap(lib_, o.lib_);
        return *this;
    }
    Library(const Library &) = delete;
    Library &operator=(const Library &) = delete;
    ~Library() { unetgen_library_close(lib_); }

    const unetgen_network_desc *network() const { return unetgen_library_network(lib_); }
    const unetgen_library *get() const { return lib_; }

private:
    unetgen_library *lib_ = nullptr;
};

class Model {
public:
    static Model load(const unetgen_network_desc *net, const std::string &weights_path) {
        Model m;
        throw_if_failed(unetgen_model_load(net, weights_path.c_str(), &m.model_));
        return m;
    }
    static Model load_from_memory(const unetgen_network_desc *net, const void *data, size_t size) {
        Model m;
        throw_if_failed(unetgen_model_load_from_memory(net, data, size, &m.model_));
        return m;
    }
    Model(Model &&o) noexcept : model_(std::exchange(o.model_, nullptr)) {}
    Model &operator=(Model &&o) noexcept {
        std::swap(model_, o.model_);
        return *this;
    }
    Model(const Model &) = delete;
    Model &operator=(const Model &) = delete;
    ~Model() { unetgen_model_free(model_); }

    const unetgen_model *get() const { return model_; }
    std::string name() const { return unetgen_model_name(model_); }
    int in_channels() const { return unetgen_model_in_channels(model_); }
    int classes() const { return unetgen_model_classes(model_); }
    std::string activation() const { return unetgen_model_activation(model_); }

    std::pair<int, int> output_size(int h, int w) const {
        std::pair<int, int> hw;
        throw_if_failed(unetgen_output_size(model_, h, w, &hw.first, &hw.second));
        return hw;
    }
    std::vector<int> nearest_sizes(int extent, int count = 3) const {
        std::vector<int> sizes(size_t(count > 0 ? count : 0));
        sizes.resize(size_t(unetgen_nearest_sizes(model_, extent, sizes.data(), count)));
        return sizes;
    }
    void set_num_threads(int n) const { throw_if_failed(unetgen_set_num_threads(model_, n)); }

    // float32 planar NCHW input (already normalised) -> scores (PROBS or LOGITS).
    Scores segment(const std::vector<float> &nchw, int n, int h, int w,
                   unetgen_output_kind kind = UNETGEN_OUTPUT_PROBS) const {
        return scores(UNETGEN_INPUT_F32_NCHW, nchw.data(), nchw.size(), n, h, w, kind);
    }
    // uint8 interleaved NHWC pixels -> scores.
    Scores segment(const std::vector<uint8_t> &nhwc, int n, int h, int w,
                   unetgen_output_kind kind = UNETGEN_OUTPUT_PROBS) const {
        return scores(UNETGEN_INPUT_U8_NHWC, nhwc.data(), nhwc.size(), n, h, w, kind);
    }
    Mask segment_mask(const std::vector<float> &nchw, int n, int h, int w) const {
        return mask(UNETGEN_INPUT_F32_NCHW, nchw.data(), nchw.size(), n, h, w);
    }
    Mask segment_mask(const std::vector<uint8_t> &nhwc, int n, int h, int w) const {
        return mask(UNETGEN_INPUT_U8_NHWC, nhwc.data(), nhwc.size(), n, h, w);
    }

private:
    Model() = default;

    unetgen_segment_args args(unetgen_input_format f, const void *in, size_t in_size, int n, int h, int w,
                              unetgen_output_kind kind) const {
        int c = in_channels();
        if (n < 1 || h < 1 || w < 1 || c < 1 || in_size != size_t(n) * size_t(c) * size_t(h) * size_t(w))
            throw Error(UNETGEN_ERR_INVALID_ARGUMENT,
                        "cannot segment: the input holds " + std::to_string(in_size) + " values, not n*" +
                            std::to_string(c) + "*h*w for n=" + std::to_string(n) + ", h=" + std::to_string(h) +
                            ", w=" + std::to_string(w));
        unetgen_segment_args a{};
        a.input_format = f;
        a.input = in;
        a.n = n;
        a.channels = c;
        a.h = h;
        a.w = w;
        a.output_kind = kind;
        return a;
    }
    Scores scores(unetgen_input_format f, const void *in, size_t in_size, int n, int h, int w,
                  unetgen_output_kind kind) const {
        if (kind == UNETGEN_OUTPUT_MASK) throw Error(UNETGEN_ERR_INVALID_ARGUMENT, "cannot segment: use segment_mask for masks");
        unetgen_segment_args a = args(f, in, in_size, n, h, w, kind);
        Scores s;
        size_t count = 0;
        throw_if_failed(unetgen_output_count(model_, n, h, w, kind, &count));
        s.values.resize(count);
        a.output = s.values.data();
        a.output_capacity = count;
        throw_if_failed(unetgen_segment(model_, &a));
        s.n = n;
        s.classes = classes();
        s.h = a.out_h;
        s.w = a.out_w;
        return s;
    }
    Mask mask(unetgen_input_format f, const void *in, size_t in_size, int n, int h, int w) const {
        unetgen_segment_args a = args(f, in, in_size, n, h, w, UNETGEN_OUTPUT_MASK);
        Mask m;
        size_t count = 0;
        throw_if_failed(unetgen_output_count(model_, n, h, w, UNETGEN_OUTPUT_MASK, &count));
        m.values.resize(count);
        a.output = m.values.data();
        a.output_capacity = count;
        throw_if_failed(unetgen_segment(model_, &a));
        m.n = n;
        m.h = a.out_h;
        m.w = a.out_w;
        return m;
    }

    unetgen_model *model_ = nullptr;
};

}  // namespace unetgen
