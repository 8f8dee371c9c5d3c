"""unetgen.torch: the PyTorch side of unetgen (needs Debian's python3-torch; tools and tests only).

    from_spec(path)                  the nn.Module a .unet spec describes, canonical parameter names
    export(ir, model, out)           verified safetensors export of a module for a spec
    load_checkpoint(model, path)     weights as people save them (state dict, whole module, Lightning, DataParallel)
    trace(model, x)                  what a module computes, op by op
    spec_from_module(model)          the .unet spec a module computes, verified
    randomize_(model, seed)          random weights, BatchNorm statistics, norm parameters, PReLU slopes (tests)
"""
from .spec_module import SpecUNet, from_spec  # noqa: F401
from .exporter import ExportError, export, check_module, read_safetensors, write_safetensors  # noqa: F401
from .checkpoint import CheckpointError, load_into as load_checkpoint, randomize_  # noqa: F401
from .tracing import trace  # noqa: F401
from .verification import VerifyError, report_text, verify  # noqa: F401
from .spec_writer import SpecWriteError, spec_from_module  # noqa: F401,E402
