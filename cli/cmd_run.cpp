// cmd_run.cpp — `unetgen run DIR --weights W --input IN --output OUT [--mask|--probs|--logits]
// [--threads N] [--memory SIZE] [--border none|mirror] [--gray|--rgb]`: segment one input with a built
// network.
//
// IN: .npy float32/float64, NCHW or CHW, already normalised; .png (gray, RGB, RGBA -> RGB); or
// .tif (TIFF / BigTIFF, 8- or 16-bit, read region by region), normalised with the spec's
// mean/std. OUT: .npy (float32 probabilities after the spec's activation, logits with --logits,
// uint8 class indices with --mask), .png (a visible class mask) or .tif (class indices, a tiled
// BigTIFF written tile row by tile row). The default output is a mask for .png / .tif and
// probabilities for .npy. A TIFF on either side streams: the image is never held whole.
#include "cli/commands.h"
#include "cli/fast_mode_note.h"
#include "cli/image_io.h"
#include "cli/memory_size.h"
#include "cli/npy_io.h"
#include "cli/progress_line.h"
#include "cli/tiff_io.h"
#include "cli/wide_normaliser.h"
#include "runtime/unetgen.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <iostream>
#include <map>
#include <memory>

namespace unetgen::cli {

namespace {

// A `--precision bf16` build says where its bf16 GEMMs ran (cli/fast_mode_note.h).
void print_fast_mode(const unetgen_library *lib) {
    const unetgen_network_desc *net = unetgen_library_network(lib);
    if (net == nullptr) return;
    if (const std::string note = fast_mode_note(net->manifest_json); !note.empty()) std::printf("%s\n", note.c_str());
}

struct RunOptions {
    std::string dir, weights, input, output;
    bool mask = false, probs = false, logits = false;
    int threads = 0;
    std::string memory, border = "none";
    bool plan_only = false;
    bool gray = false, rgb = false;  // channel conversions the user asked for (check_channels)
    std::string png_mask = "picture";  // MaskPng

    ChannelConversion conversion() const {
        return gray ? ChannelConversion::to_gray : rgb ? ChannelConversion::to_rgb : ChannelConversion::none;
    }
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

// The plan in a line, when it is more than one tile (and the mirror extension, when there is one).
void print_plan(const unetgen_tile_plan &p, size_t budget, unetgen_border border) {
    if (border == UNETGEN_BORDER_MIRROR)
        std::printf("border mirror: the %dx%d image is extended to %dx%d (image at %d, %d), the output cropped back\n",
                    p.out_h, p.out_w, p.in_h, p.in_w, p.image_y, p.image_x);
    if (border == UNETGEN_BORDER_SLIDING) {
        std::printf("sliding window: %d x %d patches of %dx%d over the %dx%d image (padded to %dx%d), Gaussian-weighted\n",
                    p.rows, p.cols, p.tile_h, p.tile_w, p.out_h, p.out_w, p.in_h, p.in_w);
        return;
    }
    if (p.rows * p.cols <= 1) return;
    std::printf("tiles: %d x %d of %dx%d output pixels (halo %d px, %.0f%% of the work recomputed in overlaps), "
                "peak %s of a %s budget\n",
                p.rows, p.cols, p.tile_h, p.tile_w, p.halo, 100 * p.overlap, format_bytes(double(p.peak_bytes)).c_str(),
                format_bytes(double(budget ? budget : UNETGEN_DEFAULT_MEMORY_BUDGET)).c_str());
}

// --plan-only: the plan in full, and nothing run or written.
void print_plan_only(const unetgen_tile_plan &p) {
    std::printf("plan: %d x %d tiles of %dx%d output pixels for a %dx%d output, peak %s (nothing run: --plan-only)\n",
                p.rows, p.cols, p.tile_h, p.tile_w, p.out_h, p.out_w, format_bytes(double(p.peak_bytes)).c_str());
}

unetgen_output_kind output_kind_of(const RunOptions &o) {
    const bool png_out = has_ext(o.output, ".png"), tiff_out = is_tiff_path(o.output);
    if (!png_out && !tiff_out && !has_ext(o.output, ".npy"))
        throw std::runtime_error("cannot write " + o.output + ": the output must be a .npy, .png or .tif file");
    unetgen_output_kind kind = o.logits ? UNETGEN_OUTPUT_LOGITS
                               : o.probs ? UNETGEN_OUTPUT_PROBS
                               : (o.mask || png_out || tiff_out) ? UNETGEN_OUTPUT_MASK
                                                                 : UNETGEN_OUTPUT_PROBS;
    if ((png_out || tiff_out) && kind != UNETGEN_OUTPUT_MASK)
        throw std::runtime_error("cannot write " + std::string(kind == UNETGEN_OUTPUT_LOGITS ? "logits" : "probabilities") +
                                 " to " + o.output + ": a " + (png_out ? "PNG" : "TIFF") + " output holds a class mask; write a .npy");
    return kind;
}

// The mask PNG in the style asked for, and what its pixels mean.
void write_png_mask(const RunOptions &o, const std::vector<uint8_t> &mask, int h, int w, int classes) {
    const MaskPng style = o.png_mask == "index" ? MaskPng::index : MaskPng::picture;
    write_mask_png(o.output, mask.data(), h, w, classes, style);
    if (style == MaskPng::index)
        std::printf("mask PNG: 8-bit gray, pixel value = class index (0 .. %d)\n", classes - 1);
    else if (classes <= 2)
        std::printf("mask PNG: gray, 0 = class 0, 255 = class 1\n");
    else
        std::printf("mask PNG: indexed colour, palette index = class; legend: %s\n", mask_legend(classes).c_str());
}

// What the result is, for the summary line.
std::string result_name(const Model &model, unetgen_output_kind kind) {
    return kind == UNETGEN_OUTPUT_LOGITS ? "logits"
           : kind == UNETGEN_OUTPUT_MASK ? "class mask"
           : model.activation() == "none" ? "scores (activation none)"
                                          : "probabilities (" + model.activation() + ")";
}

// The pipeline's measured peak next to the plan's (libraries with a buffer pool).
void print_memory(const Library &lib, const unetgen_tile_plan &plan) {
    unetgen_memory_stats m{};
    if (unetgen_library_memory(lib.get(), 0, &m) != UNETGEN_OK) return;
    std::printf("memory: pipeline buffers peaked at %s (planned %s with the tile's own buffers)\n",
                format_bytes(double(m.peak)).c_str(), format_bytes(double(plan.peak_bytes)).c_str());
}

void print_notices(const Image &img) {
    for (const std::string &n : img.notices) std::fprintf(stderr, "unetgen run: note: %s\n", n.c_str());
}

void progress_thunk(void *user, int64_t done, int64_t total) { static_cast<ProgressLine *>(user)->update(done, total); }

// In memory: .npy / .png in and out, batches too.
void run_in_memory(const RunOptions &o, const Library &lib, const Model &model, unetgen_output_kind kind, size_t budget, unetgen_border border) {
    const int c = model.in_channels(), classes = model.classes();
    const bool png_out = has_ext(o.output, ".png");
    unetgen_segment_args a{};
    a.channels = c;
    a.n = 1;
    NpyArray npy;
    Image png;
    bool rank3 = false;
    std::vector<float> wide_input;
    if (has_ext(o.input, ".png")) {
        png = read_png(o.input, c, o.conversion());
        print_notices(png);
        a.h = png.h;
        a.w = png.w;
        if (png.bits == 16) {
            wide_input.resize(png.wide.size());
            const WideNormaliser norm(model);
            norm(png.wide.data(), size_t(png.w) * size_t(png.h), c, wide_input.data());
            a.input_format = UNETGEN_INPUT_F32_NCHW;
            a.input = wide_input.data();
        } else {
            a.input_format = UNETGEN_INPUT_U8_NHWC;
            a.input = png.pixels.data();
        }
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
        throw std::runtime_error("cannot read " + o.input + ": the input must be a .npy, .png or .tif file");
    }
    if (png_out && a.n != 1)
        throw std::runtime_error("cannot write a batch of " + std::to_string(a.n) + " masks to " + o.output +
                                 ": a PNG holds one; write a .npy");
    a.output_kind = kind;
    a.memory_budget = budget;
    a.border = border;
    unetgen_tile_plan plan{};
    throw_if_failed(unetgen_plan_segment(model.get(), &a, &plan));
    print_plan(plan, budget, border);
    if (o.plan_only) return print_plan_only(plan);
    const size_t count = size_t(a.n) * size_t(plan.out_h) * size_t(plan.out_w) * size_t(kind == UNETGEN_OUTPUT_MASK ? 1 : classes);
    std::vector<float> scores(kind == UNETGEN_OUTPUT_MASK ? 0 : count);
    std::vector<uint8_t> mask(kind == UNETGEN_OUTPUT_MASK ? count : 0);
    a.output = kind == UNETGEN_OUTPUT_MASK ? static_cast<void *>(mask.data()) : scores.data();
    a.output_capacity = count;
    ProgressLine progress(double(a.n) * plan.out_h * plan.out_w / 1e6);
    a.progress = progress_thunk;
    a.progress_user = &progress;
    unetgen_memory_stats reset{};
    unetgen_library_memory(lib.get(), 1, &reset);
    auto t0 = std::chrono::steady_clock::now();
    const unetgen_status st = unetgen_segment(model.get(), &a);
    progress.finish();
    throw_if_failed(st);
    print_memory(lib, plan);
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();

    std::vector<int64_t> shape;
    if (kind == UNETGEN_OUTPUT_MASK) shape = {a.n, a.out_h, a.out_w};
    else shape = {a.n, classes, a.out_h, a.out_w};
    if (rank3) shape.erase(shape.begin());
    if (png_out) write_png_mask(o, mask, a.out_h, a.out_w, classes);
    else if (kind == UNETGEN_OUTPUT_MASK) write_npy_u8(o.output, shape, mask.data());
    else write_npy_f32(o.output, shape, scores.data());

    std::string out_dims = kind == UNETGEN_OUTPUT_MASK ? dims({a.n, a.out_h, a.out_w}) : dims({a.n, classes, a.out_h, a.out_w});
    std::printf("%s: %s input -> %s %s in %.2f ms, wrote %s\n", model.name().c_str(), dims({a.n, c, a.h, a.w}).c_str(),
                out_dims.c_str(), result_name(model, kind).c_str(), ms, o.output.c_str());
    if (kind == UNETGEN_OUTPUT_MASK) std::printf("classes: %s\n", class_summary(mask, 6).c_str());
    print_fast_mode(lib.get());
}

// Streaming: a TIFF on either side. The input is read region by region (a TIFF from disk, or a
// PNG / .npy already in memory), the result handed over tile by tile (a tiled BigTIFF mask
// written as rows of tiles complete, or arrays for .npy / .png).
struct StreamContext {
    std::function<void(int, int, int, int, void *)> read;
    std::function<void(int, int, int, int, const void *)> write;
    std::string error;  // the first callback failure, reported instead of CALLBACK's generic text
};

int read_thunk(void *user, int x, int y, int w, int h, void *pixels) {
    auto *ctx = static_cast<StreamContext *>(user);
    try {
        ctx->read(x, y, w, h, pixels);
        return 0;
    } catch (const std::exception &e) {
        ctx->error = e.what();
        return 1;
    }
}

int write_thunk(void *user, int x, int y, int w, int h, const void *values) {
    auto *ctx = static_cast<StreamContext *>(user);
    try {
        ctx->write(x, y, w, h, values);
        return 0;
    } catch (const std::exception &e) {
        ctx->error = e.what();
        return 1;
    }
}

void run_stream(const RunOptions &o, const Library &lib, const Model &model, unetgen_output_kind kind, size_t budget, unetgen_border border) {
    const int c = model.in_channels(), classes = model.classes();
    StreamContext ctx;
    unetgen_stream_args a{};
    a.channels = c;
    std::unique_ptr<TiffReader> tiff;
    Image png;
    NpyArray npy;
    std::vector<uint16_t> wide;
    std::string described;
    if (is_tiff_path(o.input)) {
        tiff = std::make_unique<TiffReader>(o.input, c, o.conversion());
        if (!tiff->notice().empty()) std::fprintf(stderr, "unetgen run: note: %s\n", tiff->notice().c_str());
        a.w = tiff->width();
        a.h = tiff->height();
        described = " (" + tiff->describe() + ")";
        if (tiff->bits() == 8) {
            a.input_format = UNETGEN_INPUT_U8_NHWC;
            ctx.read = [&](int x, int y, int w, int h, void *px) { tiff->read(x, y, w, h, px); };
        } else {
            // 16-bit: normalised here (the runtime's 8-bit path divides by 255).
            a.input_format = UNETGEN_INPUT_F32_NCHW;
            ctx.read = [&, norm = WideNormaliser(model)](int x, int y, int w, int h, void *px) {
                const size_t n = size_t(w) * size_t(h);
                wide.resize(n * size_t(c));
                tiff->read(x, y, w, h, wide.data());
                norm(wide.data(), n, c, static_cast<float *>(px));
            };
        }
    } else if (has_ext(o.input, ".png")) {
        png = read_png(o.input, c, o.conversion());
        print_notices(png);
        a.w = png.w;
        a.h = png.h;
        if (png.bits == 16) {
            a.input_format = UNETGEN_INPUT_F32_NCHW;
            ctx.read = [&, norm = WideNormaliser(model)](int x, int y, int w, int h, void *px) {
                wide.resize(size_t(w) * size_t(h) * size_t(c));
                for (int r = 0; r < h; ++r)
                    std::memcpy(wide.data() + size_t(r) * size_t(w) * size_t(c),
                                png.wide.data() + (size_t(y + r) * size_t(png.w) + size_t(x)) * size_t(c),
                                size_t(w) * size_t(c) * sizeof(uint16_t));
                norm(wide.data(), size_t(w) * size_t(h), c, static_cast<float *>(px));
            };
        } else {
            a.input_format = UNETGEN_INPUT_U8_NHWC;
            ctx.read = [&](int x, int y, int w, int h, void *px) {
                for (int r = 0; r < h; ++r)
                    std::memcpy(static_cast<uint8_t *>(px) + size_t(r) * size_t(w) * size_t(c),
                                png.pixels.data() + (size_t(y + r) * size_t(png.w) + size_t(x)) * size_t(c), size_t(w) * size_t(c));
            };
        }
    } else if (has_ext(o.input, ".npy")) {
        npy = read_npy_f32(o.input);
        std::vector<int64_t> s = npy.shape;
        if (s.size() == 3) s.insert(s.begin(), 1);
        if (s.size() != 4 || s[0] != 1 || s[1] != c || s[2] > (1 << 24) || s[3] > (1 << 24))
            throw std::runtime_error("cannot segment " + o.input + " into a TIFF: it must be CHW or 1xCxHxW with " +
                                     std::to_string(c) + " channels");
        a.input_format = UNETGEN_INPUT_F32_NCHW;
        a.h = int(s[2]);
        a.w = int(s[3]);
        ctx.read = [&](int x, int y, int w, int h, void *px) {
            float *dst = static_cast<float *>(px);
            for (int k = 0; k < c; ++k)
                for (int r = 0; r < h; ++r, dst += w)
                    std::memcpy(dst, npy.values.data() + (size_t(k) * size_t(a.h) + size_t(y + r)) * size_t(a.w) + size_t(x),
                                size_t(w) * sizeof(float));
        };
    } else {
        throw std::runtime_error("cannot read " + o.input + ": the input must be a .npy, .png or .tif file");
    }
    a.output_kind = kind;
    a.memory_budget = budget;
    a.border = border;
    unetgen_tile_plan plan{};
    throw_if_failed(unetgen_plan_stream(model.get(), &a, &plan));
    std::printf("%s: %s input%s\n", model.name().c_str(), dims({1, c, a.h, a.w}).c_str(), described.c_str());
    print_plan(plan, budget, border);
    if (o.plan_only) return print_plan_only(plan);

    std::unique_ptr<TiffMaskWriter> tiff_out;
    std::vector<uint8_t> mask;
    std::vector<float> scores;
    const size_t plane = size_t(plan.out_h) * size_t(plan.out_w);
    if (is_tiff_path(o.output)) {
        tiff_out = std::make_unique<TiffMaskWriter>(o.output, plan.out_w, plan.out_h);
        ctx.write = [&](int x, int y, int w, int h, const void *v) { tiff_out->write(x, y, w, h, static_cast<const uint8_t *>(v)); };
    } else if (kind == UNETGEN_OUTPUT_MASK) {
        mask.assign(plane, 0);
        ctx.write = [&](int x, int y, int w, int h, const void *v) {
            for (int r = 0; r < h; ++r)
                std::memcpy(mask.data() + size_t(y + r) * size_t(plan.out_w) + size_t(x),
                            static_cast<const uint8_t *>(v) + size_t(r) * size_t(w), size_t(w));
        };
    } else {
        scores.assign(plane * size_t(classes), 0.0f);
        ctx.write = [&](int x, int y, int w, int h, const void *v) {
            const float *src = static_cast<const float *>(v);
            for (int k = 0; k < classes; ++k)
                for (int r = 0; r < h; ++r, src += w)
                    std::memcpy(scores.data() + size_t(k) * plane + size_t(y + r) * size_t(plan.out_w) + size_t(x), src,
                                size_t(w) * sizeof(float));
        };
    }
    a.read = read_thunk;
    a.read_user = &ctx;
    a.write = write_thunk;
    a.write_user = &ctx;
    ProgressLine progress(double(plane) / 1e6);
    a.progress = progress_thunk;
    a.progress_user = &progress;
    unetgen_memory_stats reset{};
    unetgen_library_memory(lib.get(), 1, &reset);
    auto t0 = std::chrono::steady_clock::now();
    const unetgen_status st = unetgen_segment_stream(model.get(), &a);
    progress.finish();
    if (st == UNETGEN_ERR_CALLBACK && !ctx.error.empty()) throw std::runtime_error(ctx.error);
    throw_if_failed(st);
    print_memory(lib, plan);
    if (tiff_out) tiff_out->finish();
    else if (has_ext(o.output, ".png")) write_png_mask(o, mask, a.out_h, a.out_w, classes);
    else if (kind == UNETGEN_OUTPUT_MASK) write_npy_u8(o.output, {a.out_h, a.out_w}, mask.data());
    else write_npy_f32(o.output, {1, classes, a.out_h, a.out_w}, scores.data());
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%s: -> %s %s in %s (%.2f MP/s), wrote %s\n", model.name().c_str(),
                dims({a.out_h, a.out_w}).c_str(), result_name(model, kind).c_str(), format_duration(s).c_str(),
                double(plane) / 1e6 / std::max(s, 1e-9), o.output.c_str());
    if (!mask.empty()) std::printf("classes: %s\n", class_summary(mask, 6).c_str());
    print_fast_mode(lib.get());
}

void run(const RunOptions &o) {
    const unetgen_output_kind kind = output_kind_of(o);
    const size_t budget = o.memory.empty() ? 0 : parse_memory_size(o.memory);
    const unetgen_border border = o.border == "mirror"    ? UNETGEN_BORDER_MIRROR
                                  : o.border == "sliding" ? UNETGEN_BORDER_SLIDING
                                                          : UNETGEN_BORDER_NONE;
    Library lib(o.dir);
    Model model = Model::load(lib.network(), o.weights);
    if (o.threads > 0) model.set_num_threads(o.threads);
    if (is_tiff_path(o.input) || is_tiff_path(o.output)) run_stream(o, lib, model, kind, budget, border);
    else run_in_memory(o, lib, model, kind, budget, border);
}

}  // namespace

void add_run_command(CLI::App &app, int &exit_code) {
    auto opts = std::make_shared<RunOptions>();
    CLI::App *sub = app.add_subcommand("run", "segment one input (.npy or .png) with a built network");
    sub->add_option("dir", opts->dir, "output directory of `unetgen build` (or its shared library)")->required();
    sub->add_option("--weights,-w", opts->weights, "safetensors weights (tools/export_pytorch.py)")->required();
    sub->add_option("--input,-i", opts->input, "input: .npy (float NCHW or CHW, normalised), .png, or .tif (TIFF / BigTIFF, read by region)")->required();
    sub->add_option("--output,-o", opts->output, "output: .npy, .png (class mask) or .tif (class mask, tiled BigTIFF)")->required();
    CLI::Option *mask = sub->add_flag("--mask", opts->mask, "write a class mask (default for .png)");
    CLI::Option *probs = sub->add_flag("--probs", opts->probs, "write the output after the spec's activation (default for .npy)");
    CLI::Option *logits = sub->add_flag("--logits", opts->logits, "write the output before the activation");
    mask->excludes(probs)->excludes(logits);
    probs->excludes(logits);
    sub->add_option("--threads", opts->threads, "Halide thread pool size (default: all cores)");
    sub->add_option("--memory", opts->memory,
                    "memory budget of the segmentation, e.g. 2GB, 800MiB (default 2 GiB): larger inputs run in tiles");
    sub->add_option("--border", opts->border,
                    "none: the image as it is; mirror: any size, extended by reflection and cropped back; "
                    "sliding: any size, nnU-Net's sliding-window inference on the spec's `input patch`")
        ->check(CLI::IsMember({"none", "mirror", "sliding"}));
    CLI::Option *gray = sub->add_flag("--gray", opts->gray,
                                      "a colour PNG / TIFF for a 1-channel network: convert it by BT.601 luma "
                                      "(0.299 R + 0.587 G + 0.114 B, PIL's convert(\"L\"))");
    sub->add_flag("--rgb", opts->rgb, "a gray PNG / TIFF for a 3-channel network: repeat it into R, G and B")->excludes(gray);
    sub->add_option("--png-mask", opts->png_mask,
                    "a .png mask as a picture (gray for 2 classes, else indexed colour: palette index = class, "
                    "the legend printed) or as class indices (8-bit gray, value = class)")
        ->check(CLI::IsMember({"picture", "index"}));
    sub->add_flag("--plan-only", opts->plan_only, "print the tile plan for this input and budget, run nothing");
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
