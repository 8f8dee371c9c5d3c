"""What the Python package's tests share: the check log, and a channel-reduced spec of
tests/runtime/specs built by unetgen with random weights (non-trivial BatchNorm statistics) from
its PyTorch module (unetgen.torch.from_spec), the reference the tests compare against."""
import os
import subprocess

import torch

from unetgen.spec import load as load_spec
from unetgen.torch import export, from_spec, randomize_

SPECS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "runtime", "specs")
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def finish(what):
    """The exit code: 1 (and the count) when a check failed, else 0 with "all WHAT checks passed"."""
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print(f"all {what} checks passed")
    return 0


def build_random(unetgen_exe, workdir, name, seed):
    """(library dir, weights path, eval-mode module) of spec NAME built into WORKDIR/NAME."""
    spec = os.path.join(SPECS, name + ".unet")
    lib = os.path.join(workdir, name)
    subprocess.run([unetgen_exe, "build", spec, "-o", lib], check=True, capture_output=True)
    ir = load_spec(spec, unetgen_exe)
    torch.manual_seed(seed)
    module = from_spec(ir)
    randomize_(module, seed)
    module.eval()
    weights = os.path.join(workdir, name + ".safetensors")
    export(ir, module, weights)
    return lib, weights, module
