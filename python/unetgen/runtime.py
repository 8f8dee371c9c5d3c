"""Segment numpy arrays with a library `unetgen build` made, through the C runtime.

    m = unetgen.load("generated/coins", "coins.safetensors")
    mask = m.segment(image)                     # uint8 H x W (x C) -> uint8 H' x W' class indices
    probs = m.segment(x, output="probs")        # float32 C x H x W (normalised) -> classes x H' x W'

Inputs, by dtype (a leading batch axis is optional and comes back on the result):
  uint8    H x W (gray) or H x W x C: pixels, normalised by the runtime with the spec's mean / std
           (x / 255 - mean) / std, passed without a copy when C-contiguous;
  uint16   H x W or H x W x C: 16-bit pixels, (x / 65535 - mean) / std, normalised here in float32;
  float32  C x H x W (or H x W for one channel): already normalised, passed without a copy when
           C-contiguous (float64 is converted).
Outputs: output="mask" (default) uint8 [N x] H' x W'; "probs" / "logits" float32 [N x] classes x
H' x W'. border="mirror" takes any size (the result is the image's size), as does border="sliding"
(nnU-Net's sliding window over the spec's `input patch`); memory= bounds what one
call allocates (the image is tiled to fit, with the same values). A Model is read-only after
load: any number of threads may call segment() on it at once; the GIL is released during the call.
Errors raise UnetgenError with the runtime's status and message.
"""
import ctypes
import json
import os

import numpy as np

from . import _native
from ._native import Status

_OUTPUTS = {"logits": _native.OUTPUT_LOGITS, "probs": _native.OUTPUT_PROBS, "mask": _native.OUTPUT_MASK}
_BORDERS = {"none": _native.BORDER_NONE, "mirror": _native.BORDER_MIRROR, "sliding": _native.BORDER_SLIDING}
_STATUS_NAMES = {v: k for k, v in vars(Status).items() if not k.startswith("_")}


class UnetgenError(RuntimeError):
    """A runtime call failed: .status (the unetgen_status value), .status_name ("BAD_SIZE"), .message."""

    def __init__(self, status, message):
        self.status = status
        self.status_name = _STATUS_NAMES.get(status, str(status))
        self.message = message
        super().__init__("%s (%s)" % (message, self.status_name))


def _check(status):
    if status != Status.OK:
        raise UnetgenError(status, _native.lib().unetgen_last_error().decode("utf-8", "replace"))


def _parse_memory(memory):
    if memory is None:
        return 0
    if isinstance(memory, str):
        units = {"kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12, "kib": 2 ** 10, "mib": 2 ** 20, "gib": 2 ** 30,
                 "tib": 2 ** 40, "b": 1}
        text = memory.strip().lower()
        for unit in sorted(units, key=len, reverse=True):
            if text.endswith(unit) and text[: -len(unit)].strip():
                return int(float(text[: -len(unit)]) * units[unit])
        return int(text)
    return int(memory)


class Model:
    """A network library with its weights loaded (unetgen.load)."""

    def __init__(self, library, weights):
        lib = _native.lib()
        self._lib_handle = ctypes.c_void_p()
        self._model = ctypes.c_void_p()
        self.library = library
        _check(lib.unetgen_library_open(os.fsencode(library), ctypes.byref(self._lib_handle)))
        try:
            net = lib.unetgen_library_network(self._lib_handle)
            if isinstance(weights, (bytes, bytearray, memoryview)):
                data = bytes(weights)
                _check(lib.unetgen_model_load_from_memory(net, data, len(data), ctypes.byref(self._model)))
            else:
                _check(lib.unetgen_model_load(net, os.fsencode(weights), ctypes.byref(self._model)))
        except BaseException:
            self.close()
            raise
        self.manifest = json.loads(lib.unetgen_model_manifest(self._model).decode())
        self.name = self.manifest["name"]
        self.in_channels = int(self.manifest["in_channels"])
        self.classes = int(self.manifest["classes"])
        self.activation = self.manifest["activation"]
        self.mean = np.asarray(self.manifest["mean"], np.float64)
        self.std = np.asarray(self.manifest["std"], np.float64)

    # -- lifetime ----------------------------------------------------------------------------------
    def close(self):
        """Frees the weights and closes the library (also on garbage collection)."""
        lib = _native.lib()
        if getattr(self, "_model", None) and self._model.value:
            lib.unetgen_model_free(self._model)
            self._model = ctypes.c_void_p()
        if getattr(self, "_lib_handle", None) and self._lib_handle.value:
            lib.unetgen_library_close(self._lib_handle)
            self._lib_handle = ctypes.c_void_p()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return "<unetgen.Model %s: %d channel(s) -> %d class(es), %s>" % (self.name, self.in_channels, self.classes,
                                                                        self.activation)

    def _handle(self):
        if not self._model.value:
            raise ValueError("cannot use model %s: it is closed" % self.name)
        return self._model

    # -- sizes -------------------------------------------------------------------------------------
    def output_size(self, h, w):
        """(H', W') of the output for an H x W input (UnetgenError BAD_SIZE names the nearest sizes)."""
        oh, ow = ctypes.c_int(), ctypes.c_int()
        _check(_native.lib().unetgen_output_size(self._handle(), int(h), int(w), ctypes.byref(oh), ctypes.byref(ow)))
        return oh.value, ow.value

    def nearest_sizes(self, extent, count=8):
        """Accepted extents (for H or W) nearest to EXTENT, ascending."""
        buf = (ctypes.c_int * count)()
        n = _native.lib().unetgen_nearest_sizes(self._handle(), int(extent), buf, count)
        return list(buf[:n])

    def set_threads(self, n):
        """Threads of the library's Halide pool (shared by every model of the library; 0: all cores)."""
        _check(_native.lib().unetgen_set_num_threads(self._handle(), int(n)))

    # -- segmentation ------------------------------------------------------------------------------
    def _input(self, x):
        """(format, contiguous array, batched, n, h, w) for an input array, by the module's rules."""
        x = np.asarray(x)
        c = self.in_channels
        if x.dtype in (np.uint8, np.uint16):
            if x.ndim == 2 or (x.ndim == 3 and c == 1 and x.shape[-1] != 1):
                x = x[..., None]  # gray H x W (or a batch N x H x W)
            if x.ndim not in (3, 4) or x.shape[-1] != c:
                raise ValueError("cannot segment a %s array of shape %s with %s: 8/16-bit images are [N x] H x W x %d"
                                 % (x.dtype, x.shape, self.name, c))
            batched = x.ndim == 4
            x4 = x if batched else x[None]
            if x.dtype == np.uint16:
                f = self.normalise_u16(x4)
                return _native.INPUT_F32_NCHW, np.ascontiguousarray(f.transpose(0, 3, 1, 2)), batched
            return _native.INPUT_U8_NHWC, np.ascontiguousarray(x4), batched
        if x.dtype.kind == "f":
            if x.ndim == 2 and c == 1:
                x = x[None]
            if x.ndim not in (3, 4) or x.shape[-3] != c:
                raise ValueError("cannot segment a %s array of shape %s with %s: float inputs are [N x] %d x H x W, "
                                 "normalised" % (x.dtype, x.shape, self.name, c))
            batched = x.ndim == 4
            x4 = x if batched else x[None]
            return _native.INPUT_F32_NCHW, np.ascontiguousarray(x4, dtype=np.float32), batched
        raise TypeError("cannot segment a %s array with %s: give uint8 / uint16 images (H x W x C) or float32 "
                        "normalised arrays (C x H x W)" % (x.dtype, self.name))

    def normalise_u16(self, pixels):
        """16-bit pixels [..., C] as the network input, float32 (x / 65535 - mean) / std, channels last."""
        return (pixels.astype(np.float32) / np.float32(65535.0) - self.mean.astype(np.float32)) / \
            self.std.astype(np.float32)

    def _args(self, x, output, border, memory):
        if output not in _OUTPUTS:
            raise ValueError("cannot segment with output=%r: it is one of %s" % (output, ", ".join(_OUTPUTS)))
        if border not in _BORDERS:
            raise ValueError("cannot segment with border=%r: it is 'none' or 'mirror'" % (border,))
        fmt, arr, batched = self._input(x)
        a = _native.SegmentArgs()
        a.input_format = fmt
        a.input = arr.ctypes.data
        if fmt == _native.INPUT_U8_NHWC:
            a.n, a.h, a.w, a.channels = arr.shape
        else:
            a.n, a.channels, a.h, a.w = arr.shape
        a.output_kind = _OUTPUTS[output]
        a.memory_budget = _parse_memory(memory)
        a.border = _BORDERS[border]
        return a, arr, batched

    def plan(self, x, output="mask", border="none", memory=None):
        """How segment() would run X: a dict of the unetgen_tile_plan fields (tiles, halo, peak bytes)."""
        a, _, _ = self._args(x, output, border, memory)
        p = _native.TilePlan()
        _check(_native.lib().unetgen_plan_segment(self._handle(), ctypes.byref(a), ctypes.byref(p)))
        return {name: getattr(p, name) for name, _ in p._fields_}

    def segment(self, x, output="mask", threads=None, border="none", memory=None):
        """Segments X (see the module's docstring for layouts); returns a new array."""
        a, arr, batched = self._args(x, output, border, memory)
        if threads is not None:
            self.set_threads(threads)
        p = _native.TilePlan()
        _check(_native.lib().unetgen_plan_segment(self._handle(), ctypes.byref(a), ctypes.byref(p)))
        if output == "mask":
            out = np.empty((a.n, p.out_h, p.out_w), np.uint8)
        else:
            out = np.empty((a.n, self.classes, p.out_h, p.out_w), np.float32)
        a.output = out.ctypes.data
        a.output_capacity = out.size
        _check(_native.lib().unetgen_segment(self._handle(), ctypes.byref(a)))
        return out if batched else out[0]


    # -- windows of a larger image (unetgen.dask) ---------------------------------------------------
    def _stream_args(self, h, w, fmt, output, border, memory):
        a = _native.StreamArgs()
        a.input_format = fmt
        a.channels = self.in_channels
        a.h, a.w = int(h), int(w)
        a.output_kind = _OUTPUTS[output]
        a.memory_budget = _parse_memory(memory)
        a.border = _BORDERS[border]
        return a

    def stream_plan(self, h, w, output="mask", border="none", memory=None, fmt=_native.INPUT_U8_NHWC):
        """The plan of a whole H x W image segmented through callbacks (out_h / out_w: its output)."""
        a = self._stream_args(h, w, fmt, output, border, memory)
        p = _native.TilePlan()
        _check(_native.lib().unetgen_plan_stream(self._handle(), ctypes.byref(a), ctypes.byref(p)))
        return {name: getattr(p, name) for name, _ in p._fields_}

    def window_input(self, h, w, window, output="mask", border="none", memory=None, fmt=_native.INPUT_U8_NHWC):
        """The image region (x, y, w, h) that output WINDOW (x, y, w, h) of an H x W image reads,
        from the pipeline's own bounds queries."""
        a = self._stream_args(h, w, fmt, output, border, memory)
        region = (ctypes.c_int * 4)()
        _check(_native.lib().unetgen_window_input(self._handle(), ctypes.byref(a), *[int(v) for v in window], region))
        return tuple(region)

    def segment_window(self, read, h, w, window, output="mask", border="none", memory=None,
                       fmt=_native.INPUT_U8_NHWC):
        """Output WINDOW (x, y, w, h) of an H x W image, equal to that part of the whole image's
        result. READ(x, y, w, h) returns the image region as uint8 h x w x C (fmt U8_NHWC) or
        float32 C x h x w (F32_NCHW, normalised). Returns uint8 h x w or float32 classes x h x w."""
        wx, wy, ww, wh = (int(v) for v in window)
        if output == "mask":
            out = np.empty((wh, ww), np.uint8)
        else:
            out = np.empty((self.classes, wh, ww), np.float32)
        failure = []
        c = self.in_channels

        def on_read(_user, x, y, rw, rh, dst):
            try:
                block = np.asarray(read(x, y, rw, rh))
                if fmt == _native.INPUT_U8_NHWC:
                    block = np.ascontiguousarray(block, dtype=np.uint8).reshape(rh, rw, c)
                else:
                    block = np.ascontiguousarray(block, dtype=np.float32).reshape(c, rh, rw)
                ctypes.memmove(dst, block.ctypes.data, block.nbytes)
                return 0
            except BaseException as e:  # raised again below, after the runtime unwinds
                failure.append(e)
                return 1

        def on_write(_user, x, y, rw, rh, values):
            try:
                if output == "mask":
                    src = np.ctypeslib.as_array(ctypes.cast(values, ctypes.POINTER(ctypes.c_uint8)), (rh, rw))
                    out[y - wy:y - wy + rh, x - wx:x - wx + rw] = src
                else:
                    src = np.ctypeslib.as_array(ctypes.cast(values, ctypes.POINTER(ctypes.c_float)),
                                                (self.classes, rh, rw))
                    out[:, y - wy:y - wy + rh, x - wx:x - wx + rw] = src
                return 0
            except BaseException as e:
                failure.append(e)
                return 1

        a = self._stream_args(h, w, fmt, output, border, memory)
        a.read = _native.READ_FN(on_read)
        a.write = _native.WRITE_FN(on_write)
        status = _native.lib().unetgen_segment_window(self._handle(), ctypes.byref(a), wx, wy, ww, wh)
        if failure:
            raise failure[0]
        _check(status)
        return out


def load(library, weights):
    """Opens LIBRARY (a `unetgen build` output directory, or its NAME.so) and loads WEIGHTS (a
    safetensors path, or its bytes) into it: checked against the spec, BatchNorm folded, packed."""
    return Model(library, weights)
