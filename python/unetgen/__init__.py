"""unetgen's Python side.

    unetgen.load(library, weights)   a built network with its weights: Model.segment(numpy array)
                                     over the C runtime (unetgen.runtime; needs numpy)
    unetgen.dask                     segment a dask array far larger than memory, on a cluster
                                     (needs python3-dask, and python3-distributed for clusters)
    unetgen.spec                     the compiler's view of a .unet spec (`unetgen check --json`)
    unetgen.torch                    PyTorch: the module a spec describes (from_spec), verified
                                     weight export, checkpoint loading (needs python3-torch)

    m = unetgen.load("generated/coins", "coins.safetensors")
    mask = m.segment(image)          # uint8 H x W [x C] -> uint8 class indices
"""
__all__ = ["load", "Model", "UnetgenError", "set_runtime_library", "spec"]


def __getattr__(name):
    # The runtime needs numpy; `import unetgen` for the spec tools alone does not.
    if name in ("load", "Model", "UnetgenError"):
        from . import runtime
        return getattr(runtime, name)
    if name == "set_runtime_library":
        from ._native import set_runtime_library
        return set_runtime_library
    raise AttributeError("module 'unetgen' has no attribute %r" % name)
