/* unetgen_network.h — what a generated library hands to the runtime.
 *
 * `unetgen build` emits, per network, a descriptor of this type: the AOT-compiled Halide
 * pipeline(s) and the manifest (JSON text) that tells the runtime which weights to expect and how
 * to pack them. The runtime (unetgen.h) takes a descriptor, never a network-specific symbol, so one
 * runtime serves every generated library, linked statically or opened with dlopen.
 * Plain C so that both the C and the C++ headers can use it. */
#ifndef UNETGEN_NETWORK_H
#define UNETGEN_NETWORK_H

#include <stddef.h> /* size_t */

#ifdef __cplusplus
extern "C" {
#endif

struct halide_buffer_t;
struct halide_device_interface_t;

/* The generated pipeline. Buffers are Halide's (dim 0 innermost):
 *   input   float32 [W, H, C_in, N]      planar NCHW memory
 *   weights float32 [packed_floats]      packed as the manifest says (folded BN, schedule layout)
 *   activate nonzero: apply the spec's output activation (sigmoid / softmax); zero: raw logits
 *   output  float32 [W_out, H_out, classes, N]
 * Returns 0 on success, a Halide error code otherwise. Whole images only (mins 0). */
typedef int (*unetgen_pipeline_fn)(struct halide_buffer_t *input, struct halide_buffer_t *weights,
                                   int activate, struct halide_buffer_t *output);

/* The windowed pipeline (ABI 3): the same network on a window of an image_width x image_height
 * image. `output` may be any window [min, min + extent) of the whole output (dims 0 and 1);
 * `input` must hold (at least) the part of the image that window reads, with its mins in image
 * coordinates; a bounds query (an input with host and device NULL) fills in that part. Channel
 * and batch mins are 0. The values are the whole-image output's, wherever the window lies.
 * manifest_tag: common/manifest_tag.h of the manifest the weights were packed by; the pipeline
 * fails (Halide's requirement error) unless it is the manifest it was built with. */
typedef int (*unetgen_window_pipeline_fn)(struct halide_buffer_t *input, struct halide_buffer_t *weights,
                                          int activate, int image_width, int image_height, int manifest_tag,
                                          struct halide_buffer_t *output);

/* 2 added the hooks after release_device, 3 the windowed pipeline, 4 the pool's limit. The
 * runtime also takes descriptors of ABI 1 to 3 (it then reads nothing past the fields of their
 * version: no Halide messages or GPU weights kept on the device before 2, whole images only
 * before 3, the pool at its own bound before 4). */
#define UNETGEN_ABI_VERSION 4
#define UNETGEN_ABI_VERSION_MIN 1

typedef struct unetgen_network_desc {
    int abi_version;                 /* UNETGEN_ABI_VERSION */
    const char *name;                /* the spec's network name */
    const char *manifest_json;       /* see docs/architecture.md, "The manifest" */
    unetgen_pipeline_fn pipeline;
    const char *target;              /* Halide target string(s) it was compiled for */
    int uses_gpu;                    /* 1 when the pipeline runs on a GPU (CUDA) */
    /* Halide runtime hooks of the library's own copy of the runtime (may be NULL). */
    int (*set_num_threads)(int n);   /* returns the previous count */
    void (*release_device)(void);    /* frees device allocations of the weights (GPU targets) */
    /* ---- ABI 2 ---- (every hook may be NULL) */
    /* The first message Halide's runtime reported on the calling thread since that thread last
     * entered the library through a descriptor function ("" if none). The library's error handler
     * records messages instead of aborting the process. */
    const char *(*last_pipeline_error)(void);
    /* The library's Halide device interface for its GPU (NULL for CPU libraries): how the runtime
     * uploads, wraps and frees device buffers with the library's own copy of Halide's runtime. */
    const struct halide_device_interface_t *(*device_interface)(void);
    /* CUDA libraries: run every kernel in this CUcontext (e.g. the device's primary context, which
     * the CUDA runtime API shares) instead of a context of Halide's own. NULL: Halide's default.
     * Call before the first pipeline run. */
    void (*set_cuda_context)(void *cu_context);
    /* ---- ABI 3 ---- */
    /* The windowed pipeline; `pipeline` above is it on a whole image (mins 0). */
    unetgen_window_pipeline_fn window_pipeline;
    /* ---- ABI 4 ---- */
    /* The buffer pool may hold this many bytes in all (the call's memory budget), when that is
     * more than it needs for itself (unetgen_pool.h: unetgen_pool_set_limit). May be NULL. */
    void (*pool_limit)(size_t bytes);
} unetgen_network_desc;

/* A shared library from `unetgen build` exports this symbol (see unetgen_get_network_name). */
typedef const unetgen_network_desc *(*unetgen_get_network_fn)(void);
#define UNETGEN_GET_NETWORK_SYMBOL "unetgen_get_network"

#ifdef __cplusplus
}
#endif
#endif
