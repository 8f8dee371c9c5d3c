"""unetgen's Python side.

    unetgen.spec      the compiler's view of a .unet spec (`unetgen check --json`): layers, weights, sizes
    unetgen.torch     PyTorch: the module a spec describes (from_spec), verified weight export,
                      checkpoint loading and a spec written from a module (needs python3-torch)

Nothing here is needed at run time: applications link the generated library and the C runtime.
"""
__all__ = ["spec"]
