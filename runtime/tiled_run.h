// tiled_run.h — run_tiles(): segment an image window by window within a memory budget.
//
// The windowed pipeline (ABI 3) computes any output window of the whole image exactly, so a run
// is: pick tiles (common/tile_plan.h), and per tile ask the pipeline which input it reads (a
// Halide bounds query), hand it that input (the caller's array in place, or pixels read into
// scratch), and deliver the tile's scores. With border = mirror the image is first extended by
// reflection (shape_of), which only changes where the input pixels of a window come from.
#pragma once

#include "common/tile_plan.h"
#include "runtime/halide_buffers.h"
#include "runtime/model.h"

#include <functional>
#include <utility>

namespace unetgen::rt {

// Whether the model's library has the windowed pipeline and the geometry tiles need (ABI 3);
// older ones segment whole images only.
bool windowed(const unetgen_model &m);

// The weights buffer a call hands the pipeline: the model's device copy when it has one (a
// private copy of the struct per call, since Halide may write its fields), else the host array.
class CallWeights {
public:
    explicit CallWeights(const unetgen_model &m)
        : host_(const_cast<float *>(m.packed.data()), {int64_t(m.packed.size()), 0, 0, 0}, 1),
          device_dim_(m.device_weights_dim), device_(m.device_weights), on_device_(m.device_weights.device != 0) {
        device_.dim = &device_dim_;
    }
    CallWeights(const CallWeights &) = delete;
    halide_buffer_t *buffer() { return on_device_ ? &device_ : &host_.buf; }
    void release() { host_.release(false); }  // what a GPU pipeline attached to the host array

private:
    FloatBuffer host_;
    halide_dimension_t device_dim_;
    halide_buffer_t device_;
    bool on_device_;
};

// The image, and the network input and output it maps to.
struct RunShape {
    int n = 1, channels = 0, h = 0, w = 0;  // the image
    bool mirror = false;
    int64_t net_w = 0, net_h = 0;           // the network's input (= w, h unless mirrored)
    int64_t off_x = 0, off_y = 0;           // the image's origin in the network's input
    Span crop_x, crop_y;                    // the delivered output (output coordinates)
    int64_t out_w() const { return crop_x.size(); }
    int64_t out_h() const { return crop_y.size(); }
};

// Checks the size (BAD_SIZE names the rule and the nearest sizes; with mirror any size goes) and
// maps the image onto the network; `border` is a value already range-checked. `what` starts messages ("cannot segment a 1x3x570x570 input
// with net").
RunShape shape_of(const Manifest &m, int n, int channels, int h, int w, unetgen_border border, const std::string &what);

// Reads image block x x y (image coordinates, inside the image) as normalised float32 planar
// n x channels x h x w.
using BlockReader = std::function<void(Span x, Span y, float *dst)>;
// Receives the scores n x classes x h x w of output block x x y (coordinates from the crop's
// origin); every delivered pixel once.
using ScoreWriter = std::function<void(Span x, Span y, const float *scores)>;

// Receives the image region (image coordinates) one tile reads.
using RegionSink = std::function<void(Span x, Span y)>;

struct TileRun {
    RegionSink bounds;                    // when set: only the bounds queries run, nothing is read or computed
    const float *direct_input = nullptr;  // the whole image (n x c x h x w), read in place (no mirror)
    BlockReader read;                     // else
    float *direct_output = nullptr;       // n x classes x out_h x out_w, written in place
    ScoreWriter write;                    // else
    int activate = 0;
    unetgen_progress_fn progress = nullptr;
    void *progress_user = nullptr;
};

// The bytes per pixel the run's own buffers take (what TilePlan adds to the intermediates).
TileIo io_of(const Manifest &m, const RunShape &s, bool direct_input, bool direct_output, int64_t extra_input_bytes,
             int64_t extra_output_bytes);

// The plan for `s` within `budget` bytes (0: the default). Throws MEMORY_BUDGET naming the least
// budget that works; libraries without geometry plan the whole image as one tile.
TilePlan plan_run(const unetgen_model &m, const RunShape &s, size_t budget, const TileIo &io, const std::string &what);

// Runs every tile of `plan` in order (each on the library's whole thread pool).
void run_tiles(const unetgen_model &m, const RunShape &s, const TilePlan &plan, const TileRun &run,
               const std::string &what);

// The image region (image coordinates) that network-input span ix x iy reads: itself, or with
// border = mirror the bounding box of the pixels its reflection reaches.
std::pair<Span, Span> image_region(const RunShape &s, Span ix, Span iy);

// The plan as the C API reports it.
unetgen_tile_plan plan_report(const RunShape &s, const TilePlan &p);

}  // namespace unetgen::rt
