#!/usr/bin/env python3
"""PyTorch parity of CUDA builds (tests/parity/parity.py with --target host-cuda), where a GPU is.

Without a CUDA driver or device it prints why and exits 77, which CTest reports as skipped
(SKIP_RETURN_CODE): CI has no GPU, so there GPU parity is unmeasured, not passed.
"""
import argparse
import ctypes
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PARITY = os.path.join(HERE, "..", "parity", "parity.py")
SKIP = 77
# Spec, sizes: transposed k3 convs and 32 classes; bilinear upsampling with padded skips; the
# paper's valid convs and cropped skips at its 572x572 tile.
CASES = [("small", "64,40x56"), ("milesial_bilinear", "48,57x70"), ("ronneberger2015", "572")]


def cuda_device_problem():
    """Empty when a CUDA device can be used, else why not."""
    try:
        cuda = ctypes.CDLL("libcuda.so.1")
    except OSError as e:
        return f"no CUDA driver (libcuda.so.1): {e}"
    if cuda.cuInit(0) != 0:
        return "cuInit failed"
    count = ctypes.c_int(0)
    if cuda.cuDeviceGetCount(ctypes.byref(count)) != 0 or count.value < 1:
        return "the CUDA driver reports no device"
    return ""


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--unetgen", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--target", default="host-cuda")
    args = ap.parse_args()
    problem = cuda_device_problem()
    if problem:
        print(f"SKIP: GPU parity needs a CUDA device: {problem}")
        return SKIP
    failures = 0
    for spec, sizes in CASES:
        r = subprocess.run([sys.executable, PARITY, "--unetgen", args.unetgen, "--spec", spec, "--sizes", sizes,
                            "--target", args.target, "--workdir", os.path.join(args.workdir, spec)])
        failures += r.returncode != 0
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
