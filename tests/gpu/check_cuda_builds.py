#!/usr/bin/env python3
"""Every example spec builds for a CUDA target, and the GPU code made it into the library.

For each examples/specs/*.unet and tests/gpu/specs/*.unet (the ops beyond the seeds): `unetgen build
SPEC --target TARGET`, then checks that the static
library holds PTX for the target's compute capability and one CUDA kernel per conv layer of the
manifest's packing list (Halide names them _kernel_<layer>_s0_...), and that NAME.so exists.
No GPU is needed: Halide emits PTX at build time. Exit code 0 when every spec passes.
"""
import argparse
import concurrent.futures
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def check(unetgen, spec, out, target):
    name = os.path.splitext(os.path.basename(spec))[0]
    t0 = time.time()
    p = subprocess.run([unetgen, "build", spec, "-o", out, "--target", target],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    took = time.time() - t0
    if p.returncode != 0:
        return [f"unetgen build exited {p.returncode}:\n{p.stdout}"], took
    problems = []
    with open(os.path.join(out, name + ".a"), "rb") as f:
        lib = f.read()
    with open(os.path.join(out, name + ".manifest.json")) as f:
        manifest = json.load(f)
    m = re.search(r"cuda_capability_(\d+)", target)
    sm = (".target sm_" + m.group(1)) if m else ".target sm_"
    if sm.encode() not in lib:
        problems.append(f"{name}.a holds no PTX for '{sm}'")
    kernels = set(re.findall(rb"\.entry\s+_kernel_([A-Za-z0-9_]+?)_s0_", lib))
    for entry in manifest["packing"]:
        layer = entry["layer"].replace(".", "_").encode()
        if layer not in kernels:
            problems.append(f"{name}.a has no CUDA kernel for layer {entry['layer']}")
    if not os.path.isfile(os.path.join(out, name + ".so")):
        problems.append(f"{name}.so is missing")
    return problems, took


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--unetgen", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--target", default="host-cuda-cuda_capability_80")
    ap.add_argument("--jobs", type=int, default=2, help="builds run at once")
    args = ap.parse_args()
    # The example specs, and tests/gpu/specs for the ops beyond them.
    specs = [os.path.join(d, f) for d in (os.path.join(ROOT, "examples", "specs"), os.path.join(HERE, "specs"))
             for f in sorted(os.listdir(d)) if f.endswith(".unet")]
    # Two builds at a time: each `unetgen build` is mostly one thread (Halide's compile), and the
    # test suite runs serially on 2 cores.
    def one(path):
        name = os.path.basename(path)[:-5]
        return name, check(args.unetgen, path, os.path.join(args.workdir, name), args.target)

    failures = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for name, (problems, took) in pool.map(one, specs):
            print(f"{'ok  ' if not problems else 'FAIL'} {name} for {args.target} ({took:.1f} s)", flush=True)
            for p in problems:
                print("     " + p)
            failures += bool(problems)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
