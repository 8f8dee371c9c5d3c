#!/usr/bin/env python3
"""`unetgen run` of a CUDA build where no CUDA driver can be found exits with an error, not abort().

Builds small.unet for host-cuda-cuda_capability_80, writes weights that fit its manifest (numpy
only) and an input, then runs it with UNETGEN_CUDA_DRIVER pointing at a missing library, so the
driver is missing on any machine. Expects exit status 1 and the runtime's NO_DEVICE message.
"""
import argparse
import json
import os
import struct
import subprocess
import sys

import numpy as np

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, array in tensors:
        data = np.ascontiguousarray(array, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--unetgen", required=True)
    ap.add_argument("--workdir", required=True)
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    lib = os.path.join(args.workdir, "lib")
    spec = os.path.join(ROOT, "examples", "specs", "small.unet")
    p = subprocess.run([args.unetgen, "build", spec, "-o", lib, "--target", "host-cuda-cuda_capability_80"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0:
        print(p.stdout)
        return 1
    with open(os.path.join(lib, "small.manifest.json")) as f:
        manifest = json.load(f)
    rng = np.random.default_rng(1)
    tensors = [(t["name"], (rng.random(t["shape"], dtype=np.float32) * 0.2 + 0.5)) for t in manifest["tensors"]]
    weights = os.path.join(args.workdir, "weights.safetensors")
    write_safetensors(weights, tensors)
    x = os.path.join(args.workdir, "in.npy")
    np.save(x, rng.random((1, 3, 32, 32), dtype=np.float32))
    env = dict(os.environ, UNETGEN_CUDA_DRIVER="/nonexistent/libcuda.so.1")
    r = subprocess.run([args.unetgen, "run", lib, "--weights", weights, "--input", x,
                        "--output", os.path.join(args.workdir, "out.npy")],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    print(f"exit status {r.returncode}; output:\n{r.stdout}")
    expected = ("cannot run small on CUDA: no CUDA driver found (/nonexistent/libcuda.so.1); "
                "build for a CPU target instead, e.g. unetgen build SPEC --target host")
    if r.returncode != 1:
        print(f"FAIL: expected exit status 1 (an error), got {r.returncode}")
        return 1
    if expected not in r.stdout:
        print(f"FAIL: the output lacks the NO_DEVICE message: {expected}")
        return 1
    print("ok: no driver is an error with the CPU fallback named, not an abort")
    return 0


if __name__ == "__main__":
    sys.exit(main())
