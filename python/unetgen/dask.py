"""Segment a dask array, far larger than memory, block by block on a dask cluster.

    import dask.array as da, unetgen.dask
    image = da.from_zarr(...)                      # H x W x C (or H x W) uint8, uint16 or float32
    mask = unetgen.dask.segment(image, "generated/net", "net.safetensors", output="mask")
    mask.to_zarr(...)                              # or .compute() when it fits

Each output block is the output window of its block's pixels, computed by the runtime's window
call (unetgen_segment_window): the pipeline works in whole-image coordinates, so every block has
exactly the values of a whole-image run and the blocks meet with no seams. The halo a block needs
comes from the compiled pipeline itself: unetgen_window_input (its bounds queries) gives the
input region of every block's window, and the largest reach beyond a block becomes map_overlap's
depth. Blocks are re-chunked to multiples of the network's alignment (2^pools, where every
level's pixel grid lines up), so the Winograd tile grid and the schedule's rounding waste nothing
at block edges.

The output has the image's height and width: with border="none" the network must take the image
size and keep it (padding = same); border="mirror" takes any size, for any network. Outputs:
"mask" uint8 H x W, "probs" / "logits" float32 H x W x classes (channels last, like the input).
Inputs: uint8 and uint16 pixels (normalised with the spec's mean / std, /255 or /65535), or
float32 already normalised, H x W x C with C the network's input channels (H x W for one).

On a cluster, every worker opens the library and loads the weights once (a per-process cache),
so LIBRARY and WEIGHTS must be readable at the same paths on every worker (a shared file system,
or the same install). docs/integrate.md shows a LocalCluster and a real one.
"""
import functools
import math
import threading

import numpy as np

from . import _native
from .runtime import Model

_cache = {}
_cache_lock = threading.Lock()


def _model(library, weights):
    """The process's Model for (LIBRARY, WEIGHTS): loaded once per worker process."""
    key = (library, weights)
    with _cache_lock:
        if key not in _cache:
            _cache[key] = Model(library, weights)
        return _cache[key]


def _alignment(model):
    """The product of the downsampling factors (2 per max-pool, each strided conv's stride): the
    network's output alignment (common/tile_plan.h, tile_alignment)."""
    a = 1
    for layer in model.manifest.get("geometry", []):
        if layer.get("op") == "maxpool":
            a *= 2
        elif layer.get("op") == "conv" and layer.get("stride", 1) > 1:
            a *= int(layer["stride"])
    return min(a, 256)


def _format(dtype):
    if dtype == np.uint8:
        return _native.INPUT_U8_NHWC
    if dtype == np.uint16 or np.dtype(dtype).kind == "f":
        return _native.INPUT_F32_NCHW
    raise TypeError("cannot segment a dask array of %s: give uint8 / uint16 pixels or float32 normalised values"
                    % np.dtype(dtype))


def _region_reader(block, origin, model, dtype):
    """READ(x, y, w, h) for segment_window from a numpy block whose (0, 0) is image pixel ORIGIN."""
    oy, ox = origin

    def read(x, y, w, h):
        if x < ox or y < oy or x + w > ox + block.shape[1] or y + h > oy + block.shape[0]:
            raise RuntimeError("unetgen.dask: a window reads rows %d..%d x columns %d..%d, beyond its block's halo "
                               "(rows %d..%d x columns %d..%d)" % (y, y + h, x, x + w, oy, oy + block.shape[0], ox,
                                                                  ox + block.shape[1]))
        part = block[y - oy:y - oy + h, x - ox:x - ox + w]
        if dtype == np.uint8:
            return part
        if dtype == np.uint16:
            part = model.normalise_u16(part)
        return np.ascontiguousarray(np.asarray(part, np.float32).transpose(2, 0, 1))

    return read


def _segment_block(block, block_info=None, *, library, weights, output, border, memory, starts, halo, shape):
    """One output block: the window of its core pixels, read from the overlapped block."""
    model = _model(library, weights)
    iy, ix = block_info[None]["chunk-location"][:2]
    y0, y1 = starts[0][iy], starts[0][iy + 1]
    x0, x1 = starts[1][ix], starts[1][ix + 1]
    # boundary="none": no halo beyond the image's edges, so the block starts at max(0, core - halo).
    origin = (max(0, y0 - halo[0]), max(0, x0 - halo[1]))
    dtype = block.dtype
    out = model.segment_window(_region_reader(block, origin, model, dtype), shape[0], shape[1],
                               (x0, y0, x1 - x0, y1 - y0), output=output, border=border, memory=memory,
                               fmt=_format(dtype))
    return out if output == "mask" else out.transpose(1, 2, 0)


def _aligned_chunks(extent, hint, align, least):
    """Chunk sizes of an axis: about HINT, a multiple of ALIGN, at least LEAST; a short last chunk
    joins the one before it (every block must be at least the halo for map_overlap)."""
    size = int(math.ceil(max(int(hint), least, align, 1) / align) * align)
    chunks = [size] * (extent // size)
    rest = extent - size * len(chunks)
    if rest:
        if chunks and rest < least:
            chunks[-1] += rest
        else:
            chunks.append(rest)
    return tuple(chunks)


def _depth(model, h, w, chunks, output, border, memory, fmt):
    """(starts per axis, halo per axis): how far any block's window reads beyond its block."""
    starts = [np.concatenate([[0], np.cumsum(c)]).astype(int).tolist() for c in chunks]
    depth = [0, 0]
    for iy in range(len(starts[0]) - 1):
        for ix in range(len(starts[1]) - 1):
            y0, y1, x0, x1 = starts[0][iy], starts[0][iy + 1], starts[1][ix], starts[1][ix + 1]
            rx, ry, rw, rh = model.window_input(h, w, (x0, y0, x1 - x0, y1 - y0), output=output, border=border,
                                                memory=memory, fmt=fmt)
            depth[0] = max(depth[0], y0 - ry, ry + rh - y1)
            depth[1] = max(depth[1], x0 - rx, rx + rw - x1)
    return starts, depth


def segment(array, library, weights, output="mask", border="none", memory=None):
    """The segmentation of dask ARRAY (H x W x C, or H x W for one channel) as a dask array:
    uint8 H x W for output="mask", float32 H x W x classes for "probs" / "logits"."""
    import dask.array as da

    if output not in ("mask", "probs", "logits"):
        raise ValueError("cannot segment with output=%r: it is 'mask', 'probs' or 'logits'" % (output,))
    array = da.asarray(array)
    if array.ndim == 2:
        array = array[:, :, None]
    model = _model(library, weights)
    if array.ndim != 3 or array.shape[2] != model.in_channels:
        raise ValueError("cannot segment a dask array of shape %s with %s: it takes H x W x %d" %
                         (array.shape, model.name, model.in_channels))
    h, w = int(array.shape[0]), int(array.shape[1])
    fmt = _format(array.dtype)
    plan = model.stream_plan(h, w, output=output, border=border, memory=memory, fmt=fmt)
    if (plan["out_h"], plan["out_w"]) != (h, w):
        raise ValueError("cannot segment a %dx%d dask array with %s and border=%r: its output is %dx%d, and blocks "
                         "map onto the image only when the output keeps the image's size; use border='mirror'"
                         % (h, w, model.name, border, plan["out_h"], plan["out_w"]))
    align = _alignment(model)
    # Blocks of the array's own chunking, aligned; grown until each is at least its halo (map_overlap
    # takes halos from the neighbouring blocks only).
    least = [1, 1]
    for _ in range(8):
        chunks = (_aligned_chunks(h, max(array.chunks[0]), align, least[0]),
                  _aligned_chunks(w, max(array.chunks[1]), align, least[1]))
        starts, depth = _depth(model, h, w, chunks, output, border, memory, fmt)
        if depth[0] <= min(chunks[0]) and depth[1] <= min(chunks[1]):
            break
        least = [max(least[0], depth[0]), max(least[1], depth[1])]
    else:
        raise RuntimeError("cannot chunk a %dx%d array for %s: no block size covers its halo %s" % (h, w, model.name,
                                                                                                   depth))
    array = array.rechunk(chunks + ((model.in_channels,),))
    # The block function's own arguments bound here (map_blocks keeps names like `output` for itself).
    job = functools.partial(_segment_block, library=library, weights=weights, output=output, border=border,
                            memory=memory, starts=starts, halo=tuple(depth), shape=(h, w))
    overlap = dict(depth={0: depth[0], 1: depth[1], 2: 0}, boundary="none", trim=False)
    if output == "mask":
        return da.map_overlap(job, array, dtype=np.uint8, drop_axis=2, chunks=array.chunks[:2],
                              meta=np.empty((0, 0), np.uint8), **overlap)
    return da.map_overlap(job, array, dtype=np.float32, chunks=array.chunks[:2] + ((model.classes,),),
                          meta=np.empty((0, 0, 0), np.float32), **overlap)
