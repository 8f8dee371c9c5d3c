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
REFERENCE_DIR = os.path.join(REPO, "examples", "pytorch")  # the project's references
sys.path.insert(0, REFERENCE_DIR)
sys.path.insert(0, os.path.join(REPO, "python"))
from unetgen.torch import randomize_  # noqa: E402
import example_networks  # noqa: E402


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


def read_png(path):
    """(8-bit pixels H x W, colour type, palette as [(r, g, b)]) of a non-interlaced 8-bit PNG."""
    with open(path, "rb") as f:
        data = f.read()
    pos, idat, palette = 8, b"", []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            w, h, depth, colour = struct.unpack(">IIBB", body[:10])
        elif kind == b"PLTE":
            palette = [tuple(body[i:i + 3]) for i in range(0, len(body), 3)]
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert depth == 8 and colour in (0, 3), (depth, colour)
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(h, w + 1)
    out = np.zeros((h, w), np.int32)
    for y in range(h):
        f, line = raw[y, 0], raw[y, 1:].astype(np.int32)
        up = out[y - 1] if y else np.zeros(w, np.int32)
        for x in range(w):
            a = out[y, x - 1] if x else 0
            b, c = up[x], (up[x - 1] if x else 0)
            p = a + b - c
            pred = {0: 0, 1: a, 2: b, 3: (a + b) // 2,
                    4: a if abs(p - a) <= abs(p - b) and abs(p - a) <= abs(p - c) else (b if abs(p - b) <= abs(p - c) else c)}[f]
            out[y, x] = (line[x] + pred) & 255
    return out.astype(np.uint8), colour, palette


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
       os.path.join(REFERENCE_DIR, "example_networks.py"), "--model", "UNet003Small(3, 32)", "--random-weights", "21",
       "--out", weights, "--unetgen", args.unetgen)
    model = example_networks.UNet003Small(3, 32)
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
    # The mask PNG: 32 classes as indexed colour (palette index = class, the documented colours,
    # the legend printed), or with --png-mask index as gray class values; both equal the .npy mask.
    sh(args.unetgen, "run", lib, "--weights", weights, "--input", os.path.join(wd, "in.png"),
       "--output", os.path.join(wd, "png_mask.npy"), "--mask")
    want = np.load(os.path.join(wd, "png_mask.npy")).reshape(24, 40)
    pixels, colour_type, palette = read_png(os.path.join(wd, "mask.png"))
    colours = [(0, 0, 0)] + [(((c * 2654435761) & 0xFFFFFFFF) >> 8 | 0x200000) for c in range(1, 32)]
    colours = [colours[0]] + [((v >> 16) & 255, (v >> 8) & 255, v & 255) for v in colours[1:]]
    if colour_type != 3 or not np.array_equal(pixels, want) or palette[:32] != colours:
        raise AssertionError("the mask picture is not an indexed PNG of the classes with the documented palette")
    if "palette index = class; legend: class 0 #000000, class 1 #%02x%02x%02x" % colours[1] not in out:
        raise AssertionError("unetgen run printed no legend: " + out)
    out = sh(args.unetgen, "run", lib, "--weights", weights, "--input", os.path.join(wd, "in.png"),
             "--output", os.path.join(wd, "mask_index.png"), "--png-mask", "index")
    pixels, colour_type, _ = read_png(os.path.join(wd, "mask_index.png"))
    if colour_type != 0 or not np.array_equal(pixels, want) or "value = class index" not in out:
        raise AssertionError("--png-mask index did not write the class indices as gray")
    print("%-28s indexed picture and --png-mask index equal the .npy mask" % "mask PNGs")

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
