// tiled_run.cpp — shape_of(), plan_run(), run_tiles(): the tiled execution behind every host
// segment() call (one tile when the whole image fits the budget).
#include "runtime/tiled_run.h"

#include "common/manifest_tag.h"
#include "runtime/halide_buffers.h"
#include "runtime/input_sizes.h"

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

namespace unetgen::rt {

bool windowed(const unetgen_model &m) {
    return m.desc->abi_version >= 3 && m.desc->window_pipeline != nullptr && !m.manifest.geometry.layers.empty();
}

namespace {

// numpy's "reflect" (PyTorch's "reflect"): ... 2 1 | 0 1 2 ... S-1 | S-2 ..., for any offset.
int64_t reflect(int64_t u, int64_t size) {
    if (size == 1) return 0;
    const int64_t period = 2 * (size - 1);
    u %= period;
    if (u < 0) u += period;
    return u >= size ? period - u : u;
}

// The smallest accepted extent whose output covers `image` pixels when the image starts at the
// centre-crop offset, and that offset.
bool mirror_extent(const Manifest &m, int64_t image, int64_t &extent, int64_t &offset) {
    for (int64_t e = image; e <= image + 4096; ++e) {
        if (!m.sizes.accepts(e)) continue;
        const int64_t out = output_extent(m, e);
        const int64_t off = (e - out) / 2;
        if (out >= image && e - image - off >= 0) {
            extent = e;
            offset = off;
            return true;
        }
    }
    return false;
}

std::string mib(int64_t bytes) {
    char s[64];
    if (bytes >= (int64_t(1) << 30)) std::snprintf(s, sizeof s, "%.2f GiB", double(bytes) / double(int64_t(1) << 30));
    else if (bytes >= (int64_t(10) << 20)) std::snprintf(s, sizeof s, "%.0f MiB", double(bytes) / double(1 << 20));
    else std::snprintf(s, sizeof s, "%.2f MiB", double(bytes) / double(1 << 20));  // small budgets: enough digits to differ
    return s;
}

}  // namespace

namespace {
std::mutex g_threads_mutex;
std::map<const unetgen_network_desc *, int> g_threads;  // per library descriptor: the last count set
}  // namespace

void note_num_threads(const unetgen_network_desc &d, int n) {
    std::lock_guard<std::mutex> lock(g_threads_mutex);
    g_threads[&d] = n;
}

int pipeline_threads(const unetgen_network_desc &d) {
    {
        std::lock_guard<std::mutex> lock(g_threads_mutex);
        auto it = g_threads.find(&d);
        if (it != g_threads.end() && it->second > 0) return it->second;
    }
    return int(std::max(1u, std::thread::hardware_concurrency()));
}

RunShape shape_of(const Manifest &m, int n, int channels, int h, int w, unetgen_border border, const std::string &what) {
    RunShape s;
    s.n = n;
    s.channels = channels;
    s.h = h;
    s.w = w;
    const int64_t limit = int64_t(1) << 24;
    if (border == UNETGEN_BORDER_NONE || h < 1 || w < 1 || h > limit || w > limit) {
        check_input_size(m, h, w);
        s.net_w = w;
        s.net_h = h;
        s.crop_x = {0, output_extent(m, w)};
        s.crop_y = {0, output_extent(m, h)};
        return s;
    }
    s.mirror = true;
    for (int axis = 0; axis < 2; ++axis) {
        const int64_t image = axis == 0 ? w : h;
        int64_t &extent = axis == 0 ? s.net_w : s.net_h;
        int64_t &off = axis == 0 ? s.off_x : s.off_y;
        if (!mirror_extent(m, image, extent, off))
            fail(UNETGEN_ERR_BAD_SIZE, what + ": no size the network takes between " + std::to_string(image) + " and " +
                                           std::to_string(image + 4096) + " has an output covering " +
                                           std::to_string(image) + " pixels");
        (axis == 0 ? s.crop_x : s.crop_y) = {0, image};
    }
    return s;
}

TileIo io_of(const Manifest &m, const RunShape &s, bool direct_input, bool direct_output, int64_t extra_input_bytes,
             int64_t extra_output_bytes) {
    TileIo io;
    const int64_t in_px = int64_t(s.channels) * int64_t(sizeof(float));
    if (!direct_input) io.input_bytes_per_pixel = (s.mirror ? 2 * in_px : in_px) + extra_input_bytes;
    if (!direct_output) io.output_bytes_per_pixel = int64_t(m.classes) * int64_t(sizeof(float)) + extra_output_bytes;
    return io;
}

TilePlan plan_run(const unetgen_model &m, const RunShape &s, size_t budget, const TileIo &io, const std::string &what) {
    if (budget == 0) budget = UNETGEN_DEFAULT_MEMORY_BUDGET;
    // The buffer pool may cache up to the budget (the plan keeps the pipeline's own peak within it).
    if (m.desc->abi_version >= 4 && m.desc->pool_limit) m.desc->pool_limit(budget);
    const int64_t limit = int64_t(std::min<size_t>(budget, size_t(INT64_MAX)));
    if (!windowed(m)) {
        // Built before windowed pipelines: the whole image in one call, as it always was.
        if (s.mirror)
            fail(UNETGEN_ERR_UNSUPPORTED, what + ": border = mirror needs a library built by unetgen with windowed "
                                                 "pipelines (runtime ABI 3); rebuild it");
        TilePlan p;
        p.width = s.net_w;
        p.height = s.net_h;
        p.crop_x = s.crop_x;
        p.crop_y = s.crop_y;
        p.tile_w = s.crop_x.size();
        p.tile_h = s.crop_y.size();
        p.cols = p.rows = 1;
        p.fits = true;
        return p;
    }
    if (m.manifest.sample_statistics) {
        const char *why = ": the network normalises with each image's own statistics (instance / group norm), so every "
                          "output pixel depends on the whole image";
        if (s.mirror)
            fail(UNETGEN_ERR_UNSUPPORTED, what + " with border = mirror" + why +
                                              " and a mirrored border would change those statistics; give it a size "
                                              "the network takes (`unetgen check` lists them)");
        if (s.crop_x.lo != 0 || s.crop_y.lo != 0 || s.crop_x.hi != output_extent(m.manifest, s.net_w) ||
            s.crop_y.hi != output_extent(m.manifest, s.net_h))
            fail(UNETGEN_ERR_UNSUPPORTED, what + " as a window" + why + "; segment the whole image in one call");
    }
    TilePlan p = plan_tiles(m.manifest.geometry, s.net_w, s.net_h, s.crop_x, s.crop_y, s.n, limit, io,
                            pipeline_threads(*m.desc));
    if (m.manifest.sample_statistics && (!p.fits || p.cols * p.rows > 1)) {
        const TilePlan whole = plan_tiles(m.manifest.geometry, s.net_w, s.net_h, s.crop_x, s.crop_y, s.n, INT64_MAX,
                                          io, pipeline_threads(*m.desc));
        fail(UNETGEN_ERR_MEMORY_BUDGET,
             what + " within a memory budget of " + mib(limit) +
                 ": the network normalises with each image's own statistics (instance / group norm), so it runs on the "
                 "whole image in one piece (tiles would not be exact), which takes " + mib(whole.peak_bytes) +
                 "; give it at least that");
    }
    if (!p.fits)
        fail(UNETGEN_ERR_MEMORY_BUDGET,
             what + " within a memory budget of " + mib(limit) + ": the least any tiling takes is " +
                 mib(p.min_budget) + " (tiles of " + std::to_string(p.tile_w) + "x" + std::to_string(p.tile_h) +
                 " output pixels); give it at least " + mib(p.min_budget));
    return p;
}

std::pair<Span, Span> image_region(const RunShape &s, Span ix, Span iy) {
    if (!s.mirror) return {ix, iy};
    auto axis = [](Span net, int64_t off, int64_t size) {
        Span b{INT64_MAX, INT64_MIN};
        // A span of at least 2 * size - 2 pixels reaches every pixel of the axis.
        if (net.size() >= 2 * size) return Span{0, size};
        for (int64_t u = net.lo; u < net.hi; ++u) {
            const int64_t v = reflect(u - off, size);
            b = {std::min(b.lo, v), std::max(b.hi, v + 1)};
        }
        return b;
    };
    return {axis(ix, s.off_x, s.w), axis(iy, s.off_y, s.h)};
}

unetgen_tile_plan plan_report(const RunShape &s, const TilePlan &p) {
    unetgen_tile_plan r{};
    r.in_h = int(s.net_h);
    r.in_w = int(s.net_w);
    r.image_y = int(s.off_y);
    r.image_x = int(s.off_x);
    r.out_h = int(s.out_h());
    r.out_w = int(s.out_w());
    r.tile_h = int(p.tile_h);
    r.tile_w = int(p.tile_w);
    r.rows = int(p.rows);
    r.cols = int(p.cols);
    r.halo = int(p.halo);
    r.peak_bytes = size_t(std::max<int64_t>(p.peak_bytes, 0));
    r.overlap = p.whole_macs > 0 ? std::max(0.0, p.macs / p.whole_macs - 1.0) : 0.0;
    return r;
}

namespace {

// One tile's input: the image region the window reads, from the caller's array in place or
// read (and, mirrored, gathered) into scratch.
struct TileInput {
    std::vector<float> scratch, block;

    void fill(const RunShape &s, const TileRun &run, Span ix, Span iy) {
        const size_t planes = size_t(s.n) * size_t(s.channels);
        scratch.resize(planes * size_t(ix.size()) * size_t(iy.size()));
        if (!s.mirror) {
            run.read(ix, iy, scratch.data());
            return;
        }
        // Extended coordinates -> image coordinates by reflection; read the bounding block once.
        std::vector<int64_t> cols(size_t(ix.size())), rows(size_t(iy.size()));
        for (int64_t k = 0; k < ix.size(); ++k) cols[size_t(k)] = reflect(ix.lo + k - s.off_x, s.w);
        for (int64_t k = 0; k < iy.size(); ++k) rows[size_t(k)] = reflect(iy.lo + k - s.off_y, s.h);
        const auto [bx, by] = image_region(s, ix, iy);
        block.resize(planes * size_t(bx.size()) * size_t(by.size()));
        run.read(bx, by, block.data());
        float *dst = scratch.data();
        for (size_t p = 0; p < planes; ++p) {
            const float *src = block.data() + p * size_t(bx.size()) * size_t(by.size());
            for (int64_t r : rows) {
                const float *row = src + size_t(r - by.lo) * size_t(bx.size());
                for (int64_t c : cols) *dst++ = row[c - bx.lo];
            }
        }
    }
};

// Buffer dims of a 4-d window (x, y, c, n) over a dense n x c x H x W array whose x / y origin
// is (x0, y0): the element at the window's mins is returned through `offset`.
void window_dims(halide_dimension_t (&d)[4], Span x, Span y, int64_t x0, int64_t y0, int64_t W, int64_t H, int c,
                 int n, size_t &offset) {
    if (W * H * c * n > INT32_MAX)  // callers read such arrays through scratch instead
        fail(UNETGEN_ERR_INVALID_ARGUMENT, "cannot describe a buffer of 2^31 elements or more to Halide");
    d[0] = halide_dimension_t(int32_t(x.lo), int32_t(x.size()), 1);
    d[1] = halide_dimension_t(int32_t(y.lo), int32_t(y.size()), int32_t(W));
    d[2] = halide_dimension_t(0, c, int32_t(W * H));
    d[3] = halide_dimension_t(0, n, int32_t(W * H * c));
    offset = size_t(y.lo - y0) * size_t(W) + size_t(x.lo - x0);
}

}  // namespace

void run_tiles(const unetgen_model &m, const RunShape &s, const TilePlan &plan, const TileRun &run,
               const std::string &what) {
    const Manifest &mf = m.manifest;
    const bool win = windowed(m);
    const int classes = mf.classes;
    const int64_t cw = s.crop_x.size(), ch = s.crop_y.size();
    CallWeights call_weights(m);
    halide_buffer_t *weights = call_weights.buffer();

    TileInput input;
    std::vector<float> scores, delivered;
    const int tag = manifest_tag(m.desc->manifest_json);  // of the manifest `m.packed` follows
    auto check = [&](int err, const char *stage) {
        if (err == 0) return;
        std::string why = take_pipeline_error(*m.desc);
        fail(status_of_halide_error(err), what + ": the pipeline " + stage + " returned Halide error " +
                                              std::to_string(err) +
                                              (why.empty() ? " (Halide's error handler printed the details)" : ": " + why));
    };
    take_pipeline_error(*m.desc);  // a stale message of this thread is not this call's
    for (int64_t j = 0; j < plan.rows; ++j) {
        for (int64_t i = 0; i < plan.cols; ++i) {
            const Span tx = plan.tile_x(i), ty = plan.tile_y(j);
            // Output: in place in the caller's array, or tile scores in scratch (none for a
            // bounds-only run: the query reads only the output's dimensions).
            halide_dimension_t od[4];
            float *out_host = nullptr;
            size_t off = 0;
            if (run.bounds) {
                window_dims(od, tx, ty, tx.lo, ty.lo, tx.size(), ty.size(), classes, s.n, off);
            } else if (run.direct_output) {
                window_dims(od, tx, ty, s.crop_x.lo, s.crop_y.lo, cw, ch, classes, s.n, off);
                out_host = run.direct_output + off;
            } else {
                window_dims(od, tx, ty, tx.lo, ty.lo, tx.size(), ty.size(), classes, s.n, off);
                scores.resize(size_t(s.n) * size_t(classes) * size_t(tx.size()) * size_t(ty.size()));
                out_host = scores.data();
            }
            FloatBuffer out(out_host, od);
            // Input: what the window reads (a bounds query), the whole image without windows.
            Span ix{0, s.net_w}, iy{0, s.net_h};
            if (win) {
                halide_dimension_t qd[4] = {};
                FloatBuffer query(nullptr, qd);
                check(m.desc->window_pipeline(&query.buf, weights, run.activate, int(s.net_w), int(s.net_h), tag, &out.buf),
                      "bounds query");
                ix = {query.dim[0].min, int64_t(query.dim[0].min) + query.dim[0].extent};
                iy = {query.dim[1].min, int64_t(query.dim[1].min) + query.dim[1].extent};
                if (ix.lo < 0 || iy.lo < 0 || ix.hi > s.net_w || iy.hi > s.net_h)
                    fail(UNETGEN_ERR_PIPELINE, what + ": the pipeline asks for input outside the image");
            }
            if (run.bounds) {
                const auto [rx, ry] = image_region(s, ix, iy);
                run.bounds(rx, ry);
                continue;
            }
            halide_dimension_t id[4];
            float *in_host;
            if (run.direct_input) {
                window_dims(id, ix, iy, 0, 0, s.net_w, s.net_h, s.channels, s.n, off);
                in_host = const_cast<float *>(run.direct_input) + off;  // the pipeline only reads it
            } else {
                input.fill(s, run, ix, iy);
                window_dims(id, ix, iy, ix.lo, iy.lo, ix.size(), iy.size(), s.channels, s.n, off);
                in_host = input.scratch.data();
            }
            FloatBuffer in(in_host, id);
            int err = win ? m.desc->window_pipeline(&in.buf, weights, run.activate, int(s.net_w), int(s.net_h), tag, &out.buf)
                          : m.desc->pipeline(&in.buf, weights, run.activate, &out.buf);
            int release_err = out.release(true);
            int in_err = in.release(false);
            call_weights.release();
            check(err != 0 ? err : release_err != 0 ? release_err : in_err, "run");
            if (!run.direct_output) {
                // Each delivered pixel once: the shifted last column / row skips what the one
                // before delivered.
                const Span dx{s.crop_x.lo + i * plan.tile_w, tx.hi}, dy{s.crop_y.lo + j * plan.tile_h, ty.hi};
                const Span rx{dx.lo - s.crop_x.lo, dx.hi - s.crop_x.lo}, ry{dy.lo - s.crop_y.lo, dy.hi - s.crop_y.lo};
                if (dx.lo == tx.lo && dy.lo == ty.lo) {
                    run.write(rx, ry, scores.data());
                } else {
                    delivered.resize(size_t(s.n) * size_t(classes) * size_t(dx.size()) * size_t(dy.size()));
                    float *dst = delivered.data();
                    for (int64_t p = 0; p < int64_t(s.n) * classes; ++p)
                        for (int64_t y = dy.lo; y < dy.hi; ++y) {
                            const float *row = scores.data() + (size_t(p) * size_t(ty.size()) + size_t(y - ty.lo)) *
                                                                   size_t(tx.size());
                            std::memcpy(dst, row + (dx.lo - tx.lo), size_t(dx.size()) * sizeof(float));
                            dst += dx.size();
                        }
                    run.write(rx, ry, delivered.data());
                }
            }
            if (run.progress) run.progress(run.progress_user, j * plan.cols + i + 1, plan.count());
        }
    }
}

}  // namespace unetgen::rt
