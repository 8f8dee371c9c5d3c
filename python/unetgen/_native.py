"""ctypes declarations of the runtime's C API (runtime/unetgen.h) and where its library is.

Why ctypes and not pybind11: the C ABI is the runtime's stable surface already (applications in C
use it), so a binding needs no compiled code of its own. The package is then plain Python: it
installs with any Python 3 and numpy without a compiler, one libunetgen_runtime.so serves C, C++
and Python alike, and ctypes releases the GIL around every foreign call, so segment() runs while
other Python threads go on.

The library is looked up, first found wins:
  1. unetgen.set_runtime_library(path), before the first load();
  2. beside this package as installed: PREFIX/lib/python3/dist-packages/unetgen ->
     PREFIX/lib/libunetgen_runtime.so (cmake --install, the .deb, and a build tree's
     BUILD/lib/python3/dist-packages, which mirrors it);
  3. the system's library path (ctypes.util.find_library).
"""
import ctypes
import ctypes.util
import os
import threading

_lock = threading.Lock()
_lib = None
_explicit = None


class Status:
    OK = 0
    INVALID_ARGUMENT = 1
    IO = 2
    BAD_NETWORK = 3
    BAD_WEIGHTS_FILE = 4
    WEIGHTS_MISMATCH = 5
    BAD_SIZE = 6
    PIPELINE = 7
    OUT_OF_MEMORY = 8
    UNSUPPORTED = 9
    NO_DEVICE = 10
    MEMORY_BUDGET = 11
    CALLBACK = 12


INPUT_F32_NCHW, INPUT_U8_NHWC = 0, 1
OUTPUT_LOGITS, OUTPUT_PROBS, OUTPUT_MASK = 0, 1, 2
BORDER_NONE, BORDER_MIRROR, BORDER_SLIDING = 0, 1, 2

PROGRESS_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64)
READ_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                           ctypes.c_void_p)
WRITE_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                            ctypes.c_void_p)


class SegmentArgs(ctypes.Structure):
    _fields_ = [("input_format", ctypes.c_int), ("input", ctypes.c_void_p),
                ("n", ctypes.c_int), ("channels", ctypes.c_int), ("h", ctypes.c_int), ("w", ctypes.c_int),
                ("output_kind", ctypes.c_int), ("output", ctypes.c_void_p), ("output_capacity", ctypes.c_size_t),
                ("out_h", ctypes.c_int), ("out_w", ctypes.c_int),
                ("memory_budget", ctypes.c_size_t), ("border", ctypes.c_int),
                ("progress", PROGRESS_FN), ("progress_user", ctypes.c_void_p)]


class StreamArgs(ctypes.Structure):
    _fields_ = [("input_format", ctypes.c_int), ("channels", ctypes.c_int), ("h", ctypes.c_int), ("w", ctypes.c_int),
                ("read", READ_FN), ("read_user", ctypes.c_void_p),
                ("output_kind", ctypes.c_int), ("write", WRITE_FN), ("write_user", ctypes.c_void_p),
                ("memory_budget", ctypes.c_size_t), ("border", ctypes.c_int),
                ("progress", PROGRESS_FN), ("progress_user", ctypes.c_void_p),
                ("out_h", ctypes.c_int), ("out_w", ctypes.c_int)]


class TilePlan(ctypes.Structure):
    _fields_ = [("in_h", ctypes.c_int), ("in_w", ctypes.c_int), ("image_y", ctypes.c_int), ("image_x", ctypes.c_int),
                ("out_h", ctypes.c_int), ("out_w", ctypes.c_int), ("tile_h", ctypes.c_int), ("tile_w", ctypes.c_int),
                ("rows", ctypes.c_int), ("cols", ctypes.c_int), ("halo", ctypes.c_int),
                ("peak_bytes", ctypes.c_size_t), ("overlap", ctypes.c_double)]


_P = ctypes.c_void_p
_I = ctypes.c_int
_SIGNATURES = {
    "unetgen_status_string": (ctypes.c_char_p, [_I]),
    "unetgen_last_error": (ctypes.c_char_p, []),
    "unetgen_library_open": (_I, [ctypes.c_char_p, ctypes.POINTER(_P)]),
    "unetgen_library_network": (_P, [_P]),
    "unetgen_library_close": (None, [_P]),
    "unetgen_model_load": (_I, [_P, ctypes.c_char_p, ctypes.POINTER(_P)]),
    "unetgen_model_load_from_memory": (_I, [_P, _P, ctypes.c_size_t, ctypes.POINTER(_P)]),
    "unetgen_model_free": (None, [_P]),
    "unetgen_model_manifest": (ctypes.c_char_p, [_P]),
    "unetgen_output_size": (_I, [_P, _I, _I, ctypes.POINTER(_I), ctypes.POINTER(_I)]),
    "unetgen_nearest_sizes": (_I, [_P, _I, ctypes.POINTER(_I), _I]),
    "unetgen_set_num_threads": (_I, [_P, _I]),
    "unetgen_plan_segment": (_I, [_P, ctypes.POINTER(SegmentArgs), ctypes.POINTER(TilePlan)]),
    "unetgen_segment": (_I, [_P, ctypes.POINTER(SegmentArgs)]),
    "unetgen_plan_stream": (_I, [_P, ctypes.POINTER(StreamArgs), ctypes.POINTER(TilePlan)]),
    "unetgen_segment_window": (_I, [_P, ctypes.POINTER(StreamArgs), _I, _I, _I, _I]),
    "unetgen_window_input": (_I, [_P, ctypes.POINTER(StreamArgs), _I, _I, _I, _I, ctypes.POINTER(_I)]),
}


def set_runtime_library(path):
    """Use the runtime at PATH (libunetgen_runtime.so) instead of searching; before the first load()."""
    global _explicit
    with _lock:
        if _lib is not None and _explicit != path:
            raise RuntimeError("cannot switch the unetgen runtime to %s: %s is loaded already" % (path, _lib._name))
        _explicit = os.path.abspath(path) if os.path.sep in path else path


def _candidates():
    if _explicit:
        return [_explicit]
    here = os.path.dirname(os.path.abspath(__file__))  # not realpath: a build tree links the package in
    found = [os.path.normpath(os.path.join(here, "..", "..", "..", "libunetgen_runtime.so"))]
    system = ctypes.util.find_library("unetgen_runtime")
    if system:
        found.append(system)
    return found


def lib():
    """The runtime library, loaded once with every signature declared."""
    global _lib
    with _lock:
        if _lib is not None:
            return _lib
        tried = []
        for path in _candidates():
            if os.path.sep in path and not os.path.exists(path):
                tried.append(path + " (absent)")
                continue
            try:
                handle = ctypes.CDLL(path)
            except OSError as e:
                tried.append("%s (%s)" % (path, e))
                continue
            for name, (restype, argtypes) in _SIGNATURES.items():
                fn = getattr(handle, name)
                fn.restype, fn.argtypes = restype, argtypes
            _lib = handle
            return _lib
        raise OSError("cannot load the unetgen runtime (libunetgen_runtime.so): tried " + "; ".join(tried) +
                      ". Install the SDK (cmake --install BUILD --prefix P, or the .deb), or call "
                      "unetgen.set_runtime_library(path)")
