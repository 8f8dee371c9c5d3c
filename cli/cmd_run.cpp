// cmd_run.cpp — `unetgen run DIR --weights W --input IN --output OUT [--mask|--probs|--logits] [--threads N]`:
// segment one input with a built network and write the result.
//
// IN: .npy float32/float64, NCHW or CHW, already normalised; or .png (gray, RGB, RGBA -> RGB),
// normalised with the spec's mean/std by the runtime. OUT: .npy (float32 probabilities after the
// spec's activation, logits with --logits, uint8 class indices with --mask) or .png (a visible
// class mask). The default output is a mask for .png and probabilities for .npy.
#include "cli/commands.h"
#include "cli/image_io.h"
#include "cli/npy_io.h"
#include "runtime/unetgen.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>

namespace unetgen::cli {

namespace {

struct RunOptions {
    std::string dir, weights, input, output;
    bool mask = false, probs = false, logits = false;
    int threads = 0;
};

bool has_ext(const std::string &path, const std::string &ext) {
    if (path.size() < ext.size()) return false;
    std::string tail = path.substr(path.size() - ext.size());
    std::transform(tail.begin(), tail.end(), tail.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return tail == ext;
}

std::string dims(std::initializer_list<int64_t> d) {
    std::string s;
    for (int64_t v : d) s += (s.empty() ? "" : "x") + std::to_string(v);
    return s;
}

// Share of each class in a mask, largest first (at most `top` of them).
std::string class_summary(const std::vector<uint8_t> &mask, int top) {
    std::map<int, size_t> counts;
    for (uint8_t c : mask) ++counts[c];
    std::vector<std::pair<size_t, int>> order;
    for (auto [c, n] : counts) order.push_back({n, c});
    std::sort(order.rbegin(), order.rend());
    std::string s;
    for (size_t i = 0; i < order.size() && int(i) < top; ++i) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%s%d: %.1f%%", i ? ", " : "", order[i].second,
                      100.0 * double(order[i].first) / double(mask.size()));
        s += buf;
    }
    if (int(order.size()) > top) s += ", ...";
    return s;
}

void run(const RunOptions &o) {
    const bool png_out = has_ext(o.output, ".png");
    if (!png_out && !has_ext(o.output, ".npy"))
        throw std::runtime_error("cannot write " + o.output + ": the output must be a .npy or .png file");
    unetgen_output_kind kind = o.logits ? UNETGEN_OUTPUT_LOGITS
                               : o.probs ? UNETGEN_OUTPUT_PROBS
                               : (o.mask || png_out) ? UNETGEN_OUTPUT_MASK
                                                     : UNETGEN_OUTPUT_PROBS;
    if (png_out && kind != UNETGEN_OUTPUT_MASK)
        throw std::runtime_error("cannot write " + std::string(kind == UNETGEN_OUTPUT_LOGITS ? "logits" : "probabilities") +
                                 " to " + o.output + ": a PNG holds a class mask; write a .npy");

    Library lib(o.dir);
    Model model = Model::load(lib.network(), o.weights);
    if (o.threads > 0) model.set_num_threads(o.threads);
    const int c = model.in_channels(), classes = model.classes();

    unetgen_segment_args a{};
    a.channels = c;
    a.n = 1;
    NpyArray npy;
    Image png;
    bool rank3 = false;
    if (has_ext(o.input, ".png")) {
        png = read_png(o.input, c);
        a.input_format = UNETGEN_INPUT_U8_NHWC;
        a.input = png.pixels.data();
        a.h = png.h;
        a.w = png.w;
    } else if (has_ext(o.input, ".npy")) {
        npy = read_npy_f32(o.input);
        rank3 = npy.shape.size() == 3;
        if (npy.shape.size() != 3 && npy.shape.size() != 4)
            throw std::runtime_error("cannot segment " + o.input + ": it has " + std::to_string(npy.shape.size()) +
                                     " dimensions; NCHW (4) or CHW (3) are needed");
        std::vector<int64_t> s = npy.shape;
        if (rank3) s.insert(s.begin(), 1);
        if (s[1] != c)
            throw std::runtime_error("cannot segment " + o.input + " with " + model.name() + ": it has " +
                                     std::to_string(s[1]) + " channels (dimension " + (rank3 ? "0" : "1") +
                                     "), the network takes " + std::to_string(c));
        if (s[0] < 1 || s[2] > (1 << 24) || s[3] > (1 << 24) || s[0] > (1 << 20))
            throw std::runtime_error("cannot segment " + o.input + ": its shape " + dims({s[0], s[1], s[2], s[3]}) +
                                     " is empty or too large");
        a.input_format = UNETGEN_INPUT_F32_NCHW;
        a.input = npy.values.data();
        a.n = int(s[0]);
        a.h = int(s[2]);
        a.w = int(s[3]);
    } else {
        throw std::runtime_error("cannot read " + o.input + ": the input must be a .npy or .png file");
    }
    if (png_out && a.n != 1)
        throw std::runtime_error("cannot write a batch of " + std::to_string(a.n) + " masks to " + o.output +
                                 ": a PNG holds one; write a .npy");

    size_t count = 0;
    throw_if_failed(unetgen_output_count(model.get(), a.n, a.h, a.w, kind, &count));
    std::vector<float> scores(kind == UNETGEN_OUTPUT_MASK ? 0 : count);
    std::vector<uint8_t> mask(kind == UNETGEN_OUTPUT_MASK ? count : 0);
    a.output_kind = kind;
    a.output = kind == UNETGEN_OUTPUT_MASK ? static_cast<void *>(mask.data()) : scores.data();
    a.output_capacity = count;
    auto t0 = std::chrono::steady_clock::now();
    throw_if_failed(unetgen_segment(model.get(), &a));
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();

    std::vector<int64_t> shape;
    if (kind == UNETGEN_OUTPUT_MASK) shape = {a.n, a.out_h, a.out_w};
    else shape = {a.n, classes, a.out_h, a.out_w};
    if (rank3) shape.erase(shape.begin());
    if (png_out) write_mask_png(o.output, mask.data(), a.out_h, a.out_w, classes);
    else if (kind == UNETGEN_OUTPUT_MASK) write_npy_u8(o.output, shape, mask.data());
    else write_npy_f32(o.output, shape, scores.data());

    std::string what = kind == UNETGEN_OUTPUT_LOGITS ? "logits"
                       : kind == UNETGEN_OUTPUT_MASK ? "class mask"
                       : model.activation() == "none" ? "scores (activation none)"
                                                      : "probabilities (" + model.activation() + ")";
    std::string out_dims = kind == UNETGEN_OUTPUT_MASK ? dims({a.n, a.out_h, a.out_w}) : dims({a.n, classes, a.out_h, a.out_w});
    std::printf("%s: %s input -> %s %s in %.2f ms, wrote %s\n", model.name().c_str(), dims({a.n, c, a.h, a.w}).c_str(),
                out_dims.c_str(), what.c_str(), ms, o.output.c_str());
    if (kind == UNETGEN_OUTPUT_MASK) std::printf("classes: %s\n", class_summary(mask, 6).c_str());
}

}  // namespace

void add_run_command(CLI::App &app, int &exit_code) {
    auto opts = std::make_shared<RunOptions>();
    CLI::App *sub = app.add_subcommand("run", "segment one input (.npy or .png) with a built network");
    sub->add_option("dir", opts->dir, "output directory of `unetgen build` (or its shared library)")->required();
    sub->add_option("--weights,-w", opts->weights, "safetensors weights (tools/export_pytorch.py)")->required();
    sub->add_option("--input,-i", opts->input, "input: .npy (float NCHW or CHW, normalised) or .png")->required();
    sub->add_option("--output,-o", opts->output, "output: .npy or .png (class mask)")->required();
    CLI::Option *mask = sub->add_flag("--mask", opts->mask, "write a class mask (default for .png)");
    CLI::Option *probs = sub->add_flag("--probs", opts->probs, "write the output after the spec's activation (default for .npy)");
    CLI::Option *logits = sub->add_flag("--logits", opts->logits, "write the output before the activation");
    mask->excludes(probs)->excludes(logits);
    probs->excludes(logits);
    sub->add_option("--threads", opts->threads, "Halide thread pool size (default: all cores)");
    sub->callback([opts, &exit_code] {
        try {
            run(*opts);
            exit_code = 0;
        } catch (const std::exception &e) {
            std::cerr << "unetgen run: error: " << e.what() << "\n";
            exit_code = 1;
        }
    });
}

}  // namespace unetgen::cli
