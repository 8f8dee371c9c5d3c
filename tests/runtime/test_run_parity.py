#!/usr/bin/python3
"""End to end: unetgen build small.unet -> export_pytorch.py (random weights, non-trivial BN) ->
unetgen run, compared with the seed-003 PyTorch model on the same input.

Covers what the Catch2 tests fake: the real generated library opened with dlopen, the real
manifest's packing, the .npy and .png paths (8-bit input normalised by the runtime) and masks.
Tolerance: float32 accumulation order differs from PyTorch's, so the logits may differ by a few
ulps of their magnitude; 2e-5 x the largest |logit| is far below any packing or folding error
(those move logits by O(1))."""
import argparse
import os
import struct
import subprocess
import sys
import zlib

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
REFERENCE_DIR = os.path.normpath(os.path.join(REPO, "..", "shared", "reference"))  # beside the checkout
sys.path.insert(0, REFERENCE_DIR)
sys.path.insert(0, os.path.join(REPO, "python"))
from unetgen.torch import randomize_  # noqa: E402
import seed_models  # noqa: E402


def sh(*cmd):
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    if proc.returncode != 0:
        raise AssertionError("%s failed (%d):\n%s%s" % (" ".join(map(str, cmd)), proc.returncode, proc.stdout, proc.stderr))
    return proc.stdout


def write_png_rgba(path, img):
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    h, w, _ = img.shape
    raw = b"".join(b"\x00" + img[y].tobytes() for y in range(h))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def close(name, got, ref):
    diff = float(np.abs(got - ref).max())
    bound = 2e-5 * max(1.0, float(np.abs(ref).max()))
    print("%-28s max |diff| %.3g (bound %.3g, max |ref| %.3g)" % (name, diff, bound, float(np.abs(ref).max())))
    if got.shape != ref.shape or not diff <= bound:
        raise AssertionError("%s: shapes %s / %s, max |diff| %g > %g" % (name, got.shape, ref.shape, diff, bound))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--unetgen", required=True)
    ap.add_argument("--workdir", required=True)
    args = ap.parse_args()
    wd = args.workdir
    os.makedirs(wd, exist_ok=True)
    spec = os.path.join(REPO, "examples", "specs", "small.unet")
    lib = os.path.join(wd, "small")
    sh(args.unetgen, "build", spec, "-o", lib)
    weights = os.path.join(wd, "small.safetensors")
    sh(sys.executable, os.path.join(REPO, "tools", "export_pytorch.py"), "--spec", spec, "--module",
       os.path.join(REFERENCE_DIR, "seed_models.py"), "--model", "UNet003Small(3, 32)", "--random-weights", "21",
       "--out", weights, "--unetgen", args.unetgen)
    model = seed_models.UNet003Small(3, 32)
    randomize_(model, 21)
    model.eval()

    # float input, batch of 2, non-square
    x = torch.randn(2, 3, 40, 72, generator=torch.Generator().manual_seed(1))
    np.save(os.path.join(wd, "x.npy"), x.numpy())
    with torch.no_grad():
        ref = model(x).numpy()
    sh(args.unetgen, "run", lib, "--weights", weights, "--input", os.path.join(wd, "x.npy"),
       "--output", os.path.join(wd, "logits.npy"), "--logits")
    close("npy logits", np.load(os.path.join(wd, "logits.npy")), ref)
    sh(args.unetgen, "run", lib, "--weights", weights, "--input", os.path.join(wd, "x.npy"),
       "--output", os.path.join(wd, "mask.npy"), "--mask")
    mask = np.load(os.path.join(wd, "mask.npy"))
    top2 = np.sort(ref, axis=1)[:, -2:]
    clear = (top2[:, 1] - top2[:, 0]) > 1e-3 * max(1.0, float(np.abs(ref).max()))  # no near-ties
    agree = (mask == ref.argmax(1))[clear].mean()
    print("%-28s %.4f of %d clear pixels agree" % ("npy mask", agree, int(clear.sum())))
    if agree != 1.0:
        raise AssertionError("mask disagrees with PyTorch's argmax")

    # 8-bit RGBA PNG: the runtime drops alpha and scales to [0, 1] (small.unet: mean 0, std 1)
    img = np.random.default_rng(2).integers(0, 256, (24, 40, 4), dtype=np.uint8)
    write_png_rgba(os.path.join(wd, "in.png"), img)
    xi = torch.from_numpy(img[:, :, :3].copy()).permute(2, 0, 1).float().div(255).unsqueeze(0)
    with torch.no_grad():
        ref_png = model(xi).numpy()
    sh(args.unetgen, "run", lib, "--weights", weights, "--input", os.path.join(wd, "in.png"),
       "--output", os.path.join(wd, "png_logits.npy"), "--logits")
    close("png (u8) logits", np.load(os.path.join(wd, "png_logits.npy")), ref_png)
    out = sh(args.unetgen, "run", lib, "--weights", weights, "--input", os.path.join(wd, "in.png"),
             "--output", os.path.join(wd, "mask.png"))
    assert "class mask" in out and os.path.getsize(os.path.join(wd, "mask.png")) > 0

    # a wrong size is refused with suggestions, through the real size program
    np.save(os.path.join(wd, "odd.npy"), np.zeros((1, 3, 30, 32), np.float32))
    proc = subprocess.run([args.unetgen, "run", lib, "--weights", weights, "--input", os.path.join(wd, "odd.npy"),
                           "--output", os.path.join(wd, "odd_out.npy")], capture_output=True, text=True)
    print("odd size:", proc.stderr.strip())
    if proc.returncode != 1 or "cannot segment a 30x32 input with small" not in proc.stderr or "nearest: 24, 32" not in proc.stderr:
        raise AssertionError("a 30x32 input was not refused as expected")

    bench = sh(args.unetgen, "bench", lib, "--size", "3x64x64", "--runs", "3", "--warmup", "1")
    if not any(line.startswith("median: ") and line.endswith(" ms") for line in bench.splitlines()):
        raise AssertionError("bench printed no 'median: <ms> ms' line:\n" + bench)
    print("bench ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
