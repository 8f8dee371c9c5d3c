// tile_geometry.h — which part of every layer an output window needs, and what computing that
// window costs (memory, multiply-accumulates); shared by the compiler (`unetgen check`) and the
// runtime (the tile planner).
//
// Every layer is defined in whole-image coordinates (codegen/lower_network.cpp), so a window of
// the output is computed exactly by computing, for every layer, the span its readers need. This
// file propagates spans backwards through the ops with the same index math as the lowering
// (one axis at a time: kernels are square and the axes independent), then replays the pipeline's
// allocation order to get the peak of live intermediate bytes: a layer's buffer lives from its
// production until its last reader has run (Halide frees a buffer after its last use), a conv's
// zero-padded input copy while that conv runs. Header-only, no dependencies.
#pragma once

#include "common/size_program.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace unetgen {

// A half-open span [lo, hi) of one axis.
struct Span {
    int64_t lo = 0, hi = 0;
    int64_t size() const { return hi > lo ? hi - lo : 0; }
    bool empty() const { return hi <= lo; }
    Span clip(int64_t extent) const { return {std::max<int64_t>(lo, 0), std::min(hi, extent)}; }
    void unite(const Span &o) {
        if (o.empty()) return;
        if (empty()) { *this = o; return; }
        lo = std::min(lo, o.lo);
        hi = std::max(hi, o.hi);
    }
};

// One layer as the tiling sees it (the manifest's "geometry").
struct GeometryLayer {
    enum class Op { Input, Conv, ConvTranspose, MaxPool, Upsample, Concat };
    enum class Match { Exact, Crop, Pad, Replicate };
    Op op = Op::Input;
    std::string name;
    int inputs[2] = {-1, -1};  // Concat: [skip, upsampled]
    int kernel = 1, pad = 0, stride = 1;
    bool bilinear = false, align_corners = false;
    Match match = Match::Exact;
    int size = 0;     // size-program node of the output extent
    int offset = -1;  // Concat with Crop / Pad: size node of floor((skip - up) / 2)
    int channels = 0;
    // What the schedule stores (0: inlined into its reader): floats per pixel of this layer's own
    // buffer and of a conv's zero-padded input copy, and bytes held only while it runs.
    int64_t stored_channels = 0, staged_channels = 0, transient_bytes = 0;
    // The granularity (x, y) the schedule's loops round this layer's computed span and its
    // input copy's up to (Halide's RoundUp tails): a window computes, and reads, that much more.
    int round[2] = {1, 1}, staged_round[2] = {1, 1};
    // Winograd convs read their input in tiles of `grid` pixels on the whole image's grid (0:
    // not Winograd).
    int grid = 0;
    // Scratch of one parallel task while it runs: bytes per column of its span, per task of
    // task_rows rows; as many tasks run at once as there are threads (and tasks).
    int64_t task_rows = 0, task_bytes_per_column = 0;
    int64_t macs_per_pixel = 0;  // per output pixel
};

// What one window costs.
struct WindowCost {
    int64_t peak_bytes = 0;        // most intermediate bytes live at once
    int64_t largest_buffer = 0;    // the largest single intermediate (Halide's limit is 2^31 - 1)
    double macs = 0;               // multiply-accumulates of the convs
    Span input_x, input_y;         // the input the window reads
};

struct TileGeometry {
    std::vector<GeometryLayer> layers;  // in execution order; the last is the head
    SizeProgram sizes;

    bool materialised(int l) const { return layers[size_t(l)].stored_channels > 0; }

    // The span of every layer's output that output span `out` computes (empty when none), along
    // axis `axis` (0: x, 1: y) whose input extent is `extent`; `staged` receives the span of
    // each conv's zero-padded input copy (unclipped: it covers the zero border too).
    std::vector<Span> required(int axis, int64_t extent, Span out, std::vector<Span> *staged = nullptr) const {
        const std::vector<int64_t> ext = sizes.evaluate(extent);
        std::vector<Span> need(layers.size());
        if (staged) staged->assign(layers.size(), Span{});
        if (layers.empty()) return need;
        need.back() = out.clip(ext[size_t(layers.back().size)]);
        for (size_t li = layers.size(); li-- > 0;) {
            const GeometryLayer &l = layers[li];
            if (need[li].empty() || l.op == GeometryLayer::Op::Input) continue;
            need[li] = round_up(need[li], l.round[axis]);
            const Span s = need[li];
            auto give = [&](int p, Span want) {
                need[size_t(p)].unite(want.clip(ext[size_t(layers[size_t(p)].size)]));
            };
            switch (l.op) {
            case GeometryLayer::Op::Input: break;
            case GeometryLayer::Op::Conv: {
                // Output x reads input x * stride - pad .. x * stride - pad + kernel - 1.
                Span in{s.lo * l.stride - l.pad, (s.hi - 1) * l.stride - l.pad + l.kernel};
                if (l.grid > 0) {
                    const int64_t t0 = floor_div(s.lo, l.grid), t1 = floor_div(s.hi - 1, l.grid) + 1;
                    in = {l.grid * t0 - l.pad, l.grid * t1 - l.pad + l.kernel - 1};
                }
                if (l.staged_channels > 0) {
                    in = round_up(in, l.staged_round[axis]);
                    if (staged) (*staged)[li] = in;
                }
                give(l.inputs[0], in);
                break;
            }
            case GeometryLayer::Op::ConvTranspose: {
                // out = in * stride - pad + tap: the lowering reads in((o + pad) / stride - j), j < taps.
                const int64_t taps = (l.kernel + l.stride - 1) / l.stride;
                Span in{floor_div(s.lo + l.pad, l.stride) - taps + 1, floor_div(s.hi - 1 + l.pad, l.stride) + 1};
                if (l.staged_channels > 0) {  // the phase form's input copy (it covers the zero border)
                    in = round_up(in, l.staged_round[axis]);
                    if (staged) (*staged)[li] = in;
                }
                give(l.inputs[0], in);
                break;
            }
            case GeometryLayer::Op::MaxPool: give(l.inputs[0], {2 * s.lo, 2 * s.hi}); break;
            case GeometryLayer::Op::Upsample: {
                const int64_t in_ext = ext[size_t(layers[size_t(l.inputs[0])].size)];
                if (!l.bilinear) {
                    give(l.inputs[0], {floor_div(s.lo, 2), floor_div(s.hi - 1, 2) + 1});
                } else {
                    const int64_t lo = bilinear_i0(s.lo, in_ext, l.align_corners);
                    const int64_t hi = std::min(bilinear_i0(s.hi - 1, in_ext, l.align_corners) + 1, in_ext - 1);
                    give(l.inputs[0], {lo, hi + 1});
                }
                break;
            }
            case GeometryLayer::Op::Concat: {
                const int64_t off = l.offset >= 0 ? ext[size_t(l.offset)] : 0;
                const bool crop = l.match == GeometryLayer::Match::Crop, padm = l.match == GeometryLayer::Match::Pad;
                give(l.inputs[0], crop ? Span{s.lo + off, s.hi + off} : s);
                if (l.match == GeometryLayer::Match::Replicate) {
                    // Reads clamp to the upsampled tensor's extent (one short of the skip's at most).
                    const int64_t up_ext = ext[size_t(layers[size_t(l.inputs[1])].size)];
                    give(l.inputs[1], Span{std::min(s.lo, up_ext - 1), std::min(s.hi, up_ext)});
                } else {
                    give(l.inputs[1], padm ? Span{s.lo - off, s.hi - off} : s);
                }
                break;
            }
            }
        }
        return need;
    }

    // Cost of the output window ox x oy of an image whose input is width x height, batch n, on
    // `threads` threads.
    WindowCost cost(int64_t width, int64_t height, Span ox, Span oy, int64_t n = 1, int64_t threads = 1) const {
        std::vector<Span> sx, sy;
        const std::vector<Span> nx = required(0, width, ox, &sx), ny = required(1, height, oy, &sy);
        WindowCost c;
        if (layers.empty()) return c;
        c.input_x = nx.front();
        c.input_y = ny.front();
        // The last materialised reader of every materialised layer (reads pass through the
        // inlined pool / upsample / concat layers in between).
        std::vector<int> last_reader(layers.size(), -1);
        for (size_t li = 0; li < layers.size(); ++li) {
            if (!materialised(int(li))) continue;
            std::vector<int> stack{layers[li].inputs[0], layers[li].inputs[1]};
            while (!stack.empty()) {
                int p = stack.back();
                stack.pop_back();
                if (p < 0) continue;
                if (materialised(p) || layers[size_t(p)].op == GeometryLayer::Op::Input) {
                    last_reader[size_t(p)] = std::max(last_reader[size_t(p)], int(li));
                } else {
                    stack.push_back(layers[size_t(p)].inputs[0]);
                    stack.push_back(layers[size_t(p)].inputs[1]);
                }
            }
        }
        auto bytes = [&](const Span &x, const Span &y, int64_t channels) {
            return x.size() * y.size() * channels * n * int64_t(sizeof(float));
        };
        int64_t live = 0;
        std::vector<int64_t> held(layers.size(), 0);
        auto alloc = [&](int64_t b) {
            live += b;
            c.peak_bytes = std::max(c.peak_bytes, live);
            c.largest_buffer = std::max(c.largest_buffer, b);
        };
        auto release_read_by = [&](int l) {
            for (size_t p = 0; p < layers.size(); ++p)
                if (last_reader[p] == l && held[p] > 0) {
                    live -= held[p];
                    held[p] = 0;
                }
        };
        for (size_t li = 0; li < layers.size(); ++li) {
            const GeometryLayer &l = layers[li];
            if (!materialised(int(li))) continue;
            int64_t staged = 0;
            if (l.staged_channels > 0) {
                staged = bytes(sx[li], sy[li], l.staged_channels);
                alloc(staged);
                release_read_by(int(li));
            }
            held[li] = bytes(nx[li], ny[li], l.stored_channels);
            alloc(held[li]);
            int64_t scratch = l.transient_bytes;
            if (l.task_rows > 0) {
                const int64_t tasks = (ny[li].size() + l.task_rows - 1) / l.task_rows * n;
                scratch += std::min(tasks, std::max<int64_t>(threads, 1)) * l.task_bytes_per_column * nx[li].size();
            }
            alloc(scratch);
            live -= scratch + staged;
            if (staged == 0) release_read_by(int(li));
            c.macs += double(nx[li].size()) * double(ny[li].size()) * double(l.macs_per_pixel) * double(n);
        }
        return c;
    }

    // The first bilinear source tap of output coordinate dst (float32 math, as the lowering).
    static int64_t bilinear_i0(int64_t dst, int64_t in, bool align_corners) {
        float src;
        if (align_corners) {
            const int64_t out = in * 2;
            const float scale = out > 1 ? float(in - 1) / float(out - 1) : 0.0f;
            src = scale * float(dst);
        } else {
            src = std::max(0.5f * (float(dst) + 0.5f) - 0.5f, 0.0f);
        }
        return std::clamp<int64_t>(int64_t(src), 0, in - 1);
    }

    static Span round_up(Span s, int64_t r) {
        return r <= 1 || s.empty() ? s : Span{s.lo, s.lo + (s.size() + r - 1) / r * r};
    }

    static int64_t floor_div(int64_t a, int64_t b) {
        int64_t q = a / b;
        return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
    }
};

}  // namespace unetgen
