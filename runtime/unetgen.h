/* unetgen.h — the thin runtime's C API: load trained weights into a generated network and segment.
 *
 * A generated library hands over a `unetgen_network_desc` (runtime/unetgen_network.h), either
 * linked statically (NAME_unetgen.h: NAME_network()) or opened at run time
 * (unetgen_library_open). unetgen_model_load() reads a safetensors file exported from PyTorch,
 * checks every tensor against the network's manifest, folds BatchNorm and packs the weights once;
 * unetgen_segment() then runs the pipeline on images of any size the network takes.
 *
 *     const unetgen_network_desc *net = small_network();
 *     unetgen_model *model = NULL;
 *     if (unetgen_model_load(net, "small.safetensors", &model) != UNETGEN_OK)
 *         fprintf(stderr, "%s\n", unetgen_last_error());
 *
 * Threads: a loaded model is read-only; unetgen_segment() may run on one model from many threads
 * at once. unetgen_last_error() is per thread. Every function returning unetgen_status sets the
 * calling thread's last error on failure (and leaves it untouched on success). */
#ifndef UNETGEN_H
#define UNETGEN_H

#include "unetgen_network.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum unetgen_status {
    UNETGEN_OK = 0,
    UNETGEN_ERR_INVALID_ARGUMENT = 1,  /* NULL pointer, unknown enum value, mismatched channels,
                                          output buffer too small, batch < 1 */
    UNETGEN_ERR_IO = 2,                /* a file cannot be opened or read (weights, library) */
    UNETGEN_ERR_BAD_NETWORK = 3,       /* the descriptor or its manifest is unusable (ABI version,
                                          malformed manifest, missing pipeline symbol) */
    UNETGEN_ERR_BAD_WEIGHTS_FILE = 4,  /* not a well-formed safetensors file (truncated, header
                                          length past the end, bad JSON, offsets out of range or
                                          overlapping or not matching dtype x shape) */
    UNETGEN_ERR_WEIGHTS_MISMATCH = 5,  /* a well-formed file that does not fit the spec: missing or
                                          unknown tensors, unsupported dtype, wrong shape */
    UNETGEN_ERR_BAD_SIZE = 6,          /* the network cannot take this input height or width;
                                          the message lists the nearest sizes it takes */
    UNETGEN_ERR_PIPELINE = 7,          /* the Halide pipeline failed (the message has its error code
                                          and, for libraries of ABI 2, Halide's own message) */
    UNETGEN_ERR_OUT_OF_MEMORY = 8,     /* an allocation failed (host, or device for GPU libraries) */
    UNETGEN_ERR_UNSUPPORTED = 9,       /* the library lacks the hook asked for (e.g. thread count,
                                          device memory for a CPU library) */
    UNETGEN_ERR_NO_DEVICE = 10,        /* a GPU (CUDA) library, but no CUDA driver, no device, or the
                                          driver failed to initialise; a CPU build of the same spec
                                          is the fallback (unetgen build SPEC --target host) */
    UNETGEN_ERR_MEMORY_BUDGET = 11,    /* no tiling of this input fits the memory budget; the message
                                          names the least budget that works (checked before any work) */
    UNETGEN_ERR_CALLBACK = 12          /* a reader or writer callback of unetgen_segment_stream
                                          returned nonzero (the message names the region) */
} unetgen_status;

/* Short constant name of a status ("ok", "invalid argument", ...); never NULL. */
const char *unetgen_status_string(unetgen_status status);

/* Message of the calling thread's last failure ("" if none). Valid until the thread's next failing
 * call. Messages read "cannot <do what> <with what>: <the rule>". */
const char *unetgen_last_error(void);

/* ---- generated libraries opened at run time --------------------------------------------------- */

typedef struct unetgen_library unetgen_library;

/* Opens a `unetgen build` output: `path` is the build directory (its build.json names the shared
 * library) or the shared library itself. dlopen with RTLD_LOCAL, so several networks can be open.
 * Errors: INVALID_ARGUMENT, IO (no build.json / cannot dlopen), BAD_NETWORK (no
 * unetgen_get_network symbol, ABI mismatch). */
unetgen_status unetgen_library_open(const char *path, unetgen_library **out);
/* The library's network descriptor; valid until unetgen_library_close. */
const unetgen_network_desc *unetgen_library_network(const unetgen_library *lib);
/* Bytes in the library's pool of intermediate buffers (the buffers of Halide's pipeline, 128 KiB
 * and up): live now, the most live at once since the last reset, and cached for reuse. What the
 * pool holds (live + cached) never passes the most ever live plus twice the largest block, or
 * the call's memory budget when that is more (unetgen_pool.h). reset_peak nonzero: restart the
 * peak from what is live now (after reading it). Errors: INVALID_ARGUMENT, UNSUPPORTED (a
 * library built before the pool reported its counts). */
typedef struct unetgen_memory_stats {
    size_t live, peak, cached;
} unetgen_memory_stats;
unetgen_status unetgen_library_memory(const unetgen_library *lib, int reset_peak, unetgen_memory_stats *stats);

/* Closes the library: its device allocations, Halide's worker threads and its cached buffers
 * are released before it is unloaded. Free every model of its network first. NULL is fine. */
void unetgen_library_close(unetgen_library *lib);

/* ---- models ---------------------------------------------------------------------------------- */

typedef struct unetgen_model unetgen_model;

/* Loads, checks, folds and packs the weights in a safetensors file for network `net`.
 * `net` must outlive the model. On success *out owns the model (free with unetgen_model_free).
 * GPU (CUDA) networks: the driver and a device are checked first (NO_DEVICE otherwise), kernels
 * run in the device's primary context, and the packed weights are uploaded once and stay on the
 * device until unetgen_model_free (ABI 2 libraries).
 * Errors: INVALID_ARGUMENT, BAD_NETWORK, IO, BAD_WEIGHTS_FILE, WEIGHTS_MISMATCH, OUT_OF_MEMORY,
 * NO_DEVICE, PIPELINE (the upload failed). */
unetgen_status unetgen_model_load(const unetgen_network_desc *net, const char *weights_path,
                                  unetgen_model **out);
/* The same, from a safetensors image in memory (copied from as needed; not kept). */
unetgen_status unetgen_model_load_from_memory(const unetgen_network_desc *net, const void *data,
                                              size_t size, unetgen_model **out);
/* Frees a model (and its device copy of the weights; when it was the last model of its network,
 * the library's cached device allocations too). NULL is fine. */
void unetgen_model_free(unetgen_model *model);

/* What the model's network is (-1 / NULL for a NULL model). */
const char *unetgen_model_name(const unetgen_model *model);
int unetgen_model_in_channels(const unetgen_model *model);
int unetgen_model_classes(const unetgen_model *model);
/* "none", "sigmoid" or "softmax". */
const char *unetgen_model_activation(const unetgen_model *model);
/* Number of floats in the packed weight buffer. */
size_t unetgen_model_packed_floats(const unetgen_model *model);
/* The embedded manifest (JSON text). */
const char *unetgen_model_manifest(const unetgen_model *model);

/* Output height and width for an h x w input. Errors: INVALID_ARGUMENT, BAD_SIZE (the message
 * names the rule broken and the nearest accepted sizes). */
unetgen_status unetgen_output_size(const unetgen_model *model, int h, int w, int *out_h, int *out_w);

/* Writes up to `capacity` accepted extents (for H or W) nearest to `extent`, ascending, into
 * `sizes`; returns how many (0 for a NULL model or when none lies within 4096). */
int unetgen_nearest_sizes(const unetgen_model *model, int extent, int *sizes, int capacity);

/* Sets the thread count of the Halide thread pool of the model's library (one pool per library,
 * shared by all its models). n <= 0: Halide's default. Errors: INVALID_ARGUMENT, UNSUPPORTED. */
unetgen_status unetgen_set_num_threads(const unetgen_model *model, int n);

/* ---- segmentation ---------------------------------------------------------------------------- */

typedef enum unetgen_input_format {
    UNETGEN_INPUT_F32_NCHW = 0,  /* float32, planar: n x channels x h x w, already normalised */
    UNETGEN_INPUT_U8_NHWC = 1    /* uint8, interleaved: n x h x w x channels (gray or RGB images);
                                    x = (u8 / 255 - mean[c]) / std[c] with the manifest's mean/std */
} unetgen_input_format;

typedef enum unetgen_output_kind {
    UNETGEN_OUTPUT_LOGITS = 0,   /* float32 n x classes x h_out x w_out, before the activation */
    UNETGEN_OUTPUT_PROBS = 1,    /* the same after the spec's activation (sigmoid / softmax over
                                    classes; equal to the logits for activation = none) */
    UNETGEN_OUTPUT_MASK = 2      /* uint8 n x h_out x w_out class index: the first argmax over
                                    classes; one class: sigmoid(logit) >= threshold (the spec's
                                    threshold; the sigmoid is the pipeline's for activation =
                                    sigmoid) gives 1, else 0 */
} unetgen_output_kind;

/* What happens at the image border (docs/large-images.md). */
typedef enum unetgen_border {
    UNETGEN_BORDER_NONE = 0,   /* the image as it is: its size must be one the network takes, and
                                  the output has the network's output size for it */
    UNETGEN_BORDER_MIRROR = 1, /* any size: the image is extended by mirroring (numpy's "reflect",
                                  PyTorch's padding_mode "reflect": the edge pixel is not repeated)
                                  to the smallest size the network takes whose output covers the
                                  image, placed where the output's centre crop lines up with it,
                                  and the output is cropped back: the result is the image's size.
                                  Ronneberger 2015's overlap-tile border rule for valid networks. */
    UNETGEN_BORDER_SLIDING = 2 /* any size: nnU-Net's sliding-window inference. The network runs on
                                  patches of its spec's `input patch` (the image zero-padded, centred,
                                  to at least one patch), `input step` of a patch apart, and their
                                  logits are averaged with a Gaussian weight (sigma = patch / 8);
                                  the output is the image's size. For networks with instance / group
                                  norms, whose whole-image output differs from their patch-trained
                                  behaviour; in-memory host calls only (unetgen_segment). */
} unetgen_border;

/* Called after each tile with the tiles done so far and the total. */
typedef void (*unetgen_progress_fn)(void *user, int64_t tiles_done, int64_t tiles_total);

/* Used when memory_budget is 0. */
#define UNETGEN_DEFAULT_MEMORY_BUDGET ((size_t)2 << 30)

typedef struct unetgen_segment_args {
    unetgen_input_format input_format;
    const void *input;
    int n, channels, h, w;          /* batch (>= 1), channels (= the network's in_channels), size */
    unetgen_output_kind output_kind;
    void *output;                   /* float32 for LOGITS / PROBS, uint8 for MASK */
    size_t output_capacity;         /* elements (not bytes) `output` has room for */
    int out_h, out_w;               /* set by unetgen_segment on success */
    /* Zero for each of these is the default. */
    size_t memory_budget;           /* bytes the call may allocate besides the caller's arrays and
                                       the model (0: UNETGEN_DEFAULT_MEMORY_BUDGET); an input whose
                                       whole-image run needs more is segmented in tiles */
    unetgen_border border;
    unetgen_progress_fn progress;   /* may be NULL */
    void *progress_user;
} unetgen_segment_args;

/* Number of output elements (floats or mask bytes) for n images of h x w, into *count, with
 * border = NONE (with MIRROR the output is the image's size: n x h x w, times classes for
 * scores; unetgen_plan_segment reports it). Errors: INVALID_ARGUMENT, BAD_SIZE. */
unetgen_status unetgen_output_count(const unetgen_model *model, int n, int h, int w, unetgen_output_kind kind,
                                    size_t *count);

/* How a call will run (unetgen_plan_segment, unetgen_plan_stream). */
typedef struct unetgen_tile_plan {
    int in_h, in_w;                 /* the network's input: the image, or the mirror-extended image */
    int image_y, image_x;           /* where the image starts in it (0, 0 unless mirrored) */
    int out_h, out_w;               /* what the call delivers */
    int tile_h, tile_w;             /* output pixels of one tile (every tile has this size) */
    int rows, cols;                 /* tiles = rows x cols; 1 x 1: the whole image at once */
    int halo;                       /* input pixels a tile reads beyond its own span, per side */
    size_t peak_bytes;              /* the most the call allocates at once (model excluded) */
    double overlap;                 /* work recomputed in tile overlaps, as a fraction of a
                                       whole-image pass (0 for one tile) */
} unetgen_tile_plan;

/* The plan unetgen_segment would run `args` with (pointers in it are not read).
 * Errors: INVALID_ARGUMENT, BAD_SIZE, MEMORY_BUDGET. */
unetgen_status unetgen_plan_segment(const unetgen_model *model, const unetgen_segment_args *args,
                                    unetgen_tile_plan *plan);

/* Runs the network: in one pass when it fits the memory budget, else tile by tile (the same
 * values: every tile is computed in whole-image coordinates). Errors: INVALID_ARGUMENT,
 * BAD_SIZE, MEMORY_BUDGET (before any work), OUT_OF_MEMORY, PIPELINE.
 * Thread-safe on one model; `args` is the caller's (only out_h/out_w are written).
 * GPU networks: host input is copied to the device and the result back, per call; device buffers
 * come from Halide's allocation cache, so repeated calls of one size allocate nothing new. */
unetgen_status unetgen_segment(const unetgen_model *model, unetgen_segment_args *args);

/* Where the input or output of unetgen_segment_memory lives. */
typedef enum unetgen_memory {
    UNETGEN_MEMORY_HOST = 0,  /* host memory: as unetgen_segment */
    UNETGEN_MEMORY_CUDA = 1   /* CUDA device memory: a CUdeviceptr cast to a pointer, allocated in
                                 the device's primary context (cudaMalloc, PyTorch tensors and
                                 cuMemAlloc under cuDevicePrimaryCtxRetain all are); the same dense
                                 layout and element count as the host case */
} unetgen_memory;

/* unetgen_segment with the input and/or the output in device memory (GPU networks). A device
 * input must be UNETGEN_INPUT_F32_NCHW; a device output must be LOGITS or PROBS (the uint8 mask
 * is made on the host). Synchronous: the device output is complete when the call returns.
 * Errors: as unetgen_segment; INVALID_ARGUMENT for an unknown memory kind or a device input /
 * output of a format it cannot be; UNSUPPORTED for device memory with a CPU network (or a GPU
 * library generated before ABI 2). */
unetgen_status unetgen_segment_memory(const unetgen_model *model, unetgen_segment_args *args,
                                      unetgen_memory input_memory, unetgen_memory output_memory);

/* ---- streaming: images too large to hold ------------------------------------------------------ */

/* Reads image rows [y, y + h) x columns [x, x + w) into `pixels`, rows packed: uint8
 * h x w x channels (U8_NHWC) or float32 channels x h x w (F32_NCHW). Return 0, or nonzero to stop
 * the run (unetgen_segment_stream then fails with CALLBACK). Regions lie inside the image; they
 * overlap by the network's halo. */
typedef int (*unetgen_read_fn)(void *user, int x, int y, int w, int h, void *pixels);
/* Receives output rows [y, y + h) x columns [x, x + w): uint8 h x w (MASK) or float32
 * classes x h x w (LOGITS, PROBS), rows packed, valid during the call. Every output pixel
 * arrives exactly once, tile row after tile row, left to right. Return 0, or nonzero to stop. */
typedef int (*unetgen_write_fn)(void *user, int x, int y, int w, int h, const void *values);

typedef struct unetgen_stream_args {
    unetgen_input_format input_format;
    int channels, h, w;             /* the image (a batch of one) */
    unetgen_read_fn read;
    void *read_user;
    unetgen_output_kind output_kind;
    unetgen_write_fn write;
    void *write_user;
    size_t memory_budget;           /* as unetgen_segment_args; it includes the tile's pixels */
    unetgen_border border;
    unetgen_progress_fn progress;
    void *progress_user;
    int out_h, out_w;               /* set on success (and by unetgen_plan_stream) */
} unetgen_stream_args;

/* Segments an image read region by region and hands the results over tile by tile, within the
 * memory budget: images larger than memory (OpenSlide, GDAL, a tiled TIFF). Host memory only.
 * Errors: INVALID_ARGUMENT, BAD_SIZE, MEMORY_BUDGET, CALLBACK, OUT_OF_MEMORY, PIPELINE,
 * UNSUPPORTED (a library built before windowed pipelines). */
unetgen_status unetgen_segment_stream(const unetgen_model *model, unetgen_stream_args *args);

/* The plan unetgen_segment_stream would run `args` with (callbacks are not called). */
unetgen_status unetgen_plan_stream(const unetgen_model *model, const unetgen_stream_args *args,
                                   unetgen_tile_plan *plan);

/* ---- windows: one part of an image ------------------------------------------------------------ */

/* Segments only the output window [x, x + w) x [y, y + h) of the image `args` describes (output
 * coordinates of what unetgen_segment_stream would deliver: with border = MIRROR, the image's own
 * pixels), with exactly the values that part of the whole-image result has: the pipeline computes
 * in whole-image coordinates, so windows tile an image with no seams. The reader is asked only
 * for the input the window needs (unetgen_window_input says which, before any call); the writer
 * gets whole-output coordinates. For Dask-style block processing of mosaics, many processes
 * each taking a window. Sets args->out_h = h, out_w = w. Errors: as unetgen_segment_stream;
 * INVALID_ARGUMENT for a window not inside the output. */
unetgen_status unetgen_segment_window(const unetgen_model *model, unetgen_stream_args *args, int x, int y, int w,
                                      int h);

/* The image region (x, y, w, h in region[0..3], image coordinates) unetgen_segment_window reads
 * for that window with these args: the union of its tiles' inputs, as the pipeline's own bounds
 * queries give them (nothing is read or computed; callbacks are not called). */
unetgen_status unetgen_window_input(const unetgen_model *model, const unetgen_stream_args *args, int x, int y, int w,
                                    int h, int region[4]);

#ifdef __cplusplus
}
#endif
#endif
