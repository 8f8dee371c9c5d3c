#!/usr/bin/python3
"""Large images end to end: tiled runs, TIFF in and out, the mirror border, budgets and bad files.

Two channel-reduced specs (tests/runtime/specs): tiny_bilinear (same padding, bilinear,
zero-padded skips, 3 classes) and tiny_valid (valid convolutions, cropped skips). Each is built
once and given random weights with non-trivial BatchNorm statistics through unetgen.torch, whose
from_spec() module is the PyTorch reference here (the example specs' seed references are in
tests/parity). Checks:

- tiled == whole image (bit for bit) and both == PyTorch to 1e-4 x max(1, max|torch|), at a
  budget that forces at least 6 tiles; the pool allocator's measured peak stays within the plan;
- TIFF input (striped / tiled / planar, 8 / 16-bit, gray for RGB, deflate / LZW, BigTIFF)
  streamed tile by tile into a tiled BigTIFF mask equals the in-memory mask of the same pixels;
- --border mirror equals PyTorch on numpy's reflect-extended image, cropped, including images
  smaller than the extension;
- a budget below the least tile, a truncated TIFF and a corrupt TIFF are clear errors, and no
  output (nor .partial) file is left behind; so are a PNG header claiming 100000x100000 and a
  truncated PNG;
- PNG pixels as stored: 16-bit as v / 65535, gAMA ignored, alpha and palettes by rule.
"""
import argparse
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import time
import zlib

import numpy as np
import tifffile
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "python"))
from unetgen.spec import load as load_spec  # noqa: E402
from unetgen.torch import export, from_spec, randomize_  # noqa: E402

TOLERANCE = 1e-4
failures = []


def run(cmd, expect=0):
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    if p.returncode != expect:
        raise AssertionError("%s exited %d (expected %d):\n%s%s" % (" ".join(map(str, cmd)), p.returncode, expect,
                                                                    p.stdout, p.stderr))
    return p.stdout + p.stderr


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def close_to_torch(got, want, what):
    err = float(np.max(np.abs(got.astype(np.float64) - want)))
    bound = TOLERANCE * max(1.0, float(np.max(np.abs(want))))
    check(got.shape == want.shape and err <= bound, f"{what}: max|diff| {err:.3g} (bound {bound:.3g})")


def tiles_of(out):
    m = re.search(r"tiles: (\d+) x (\d+) of", out)
    return int(m.group(1)) * int(m.group(2)) if m else 1


def memory_of(out):
    """(measured pipeline peak, planned peak) in MiB from `unetgen run`'s memory line."""
    m = re.search(r"peaked at ([\d.]+) (MiB|GiB) \(planned ([\d.]+) (MiB|GiB)", out)
    if not m:
        return None
    scale = {"MiB": 1.0, "GiB": 1024.0}
    return float(m.group(1)) * scale[m.group(2)], float(m.group(3)) * scale[m.group(4)]


class Net:
    def __init__(self, args, name, seed):
        self.spec = os.path.join(HERE, "specs", name + ".unet")
        self.work = os.path.join(args.workdir, name)
        os.makedirs(self.work, exist_ok=True)
        self.lib = os.path.join(self.work, "lib")
        self.unetgen = args.unetgen
        run([args.unetgen, "build", self.spec, "-o", self.lib])
        torch.manual_seed(seed)
        ir = load_spec(self.spec, args.unetgen)
        self.module = from_spec(ir)
        randomize_(self.module, seed)
        self.module.eval()
        self.weights = os.path.join(self.work, "weights.safetensors")
        export(ir, self.module, self.weights)

    def path(self, name):
        return os.path.join(self.work, name)

    def segment(self, *extra, expect=0):
        return run([self.unetgen, "run", self.lib, "--weights", self.weights, *extra], expect=expect)

    def whole_image_bytes(self):
        """What one pass over an image of self.last_size takes, by `unetgen check`."""
        size = "x".join(map(str, self.last_size))
        report = json.loads(subprocess.run([self.unetgen, "check", self.spec, "--size", size, "--json"],
                                           capture_output=True, text=True, check=True).stdout)
        return int(report["tiling"]["whole_image_bytes"])

    def tiled(self, min_tiles, *extra):
        """Runs with the memory budget halved from the whole image's need (`unetgen check`) until
        the plan has at least min_tiles tiles; returns (output, budget)."""
        size = "x".join(map(str, self.last_size))
        budget = self.whole_image_bytes()
        for _ in range(16):
            budget //= 2
            out = self.segment(*extra, "--memory", str(budget))
            if tiles_of(out) >= min_tiles:
                return out, budget
        raise AssertionError(f"no budget gives {min_tiles} tiles for {size}")

    def torch(self, x):
        with torch.no_grad():
            return self.module(torch.from_numpy(x)).double().numpy()


def smooth_image(h, w, channels, seed, bits=8):
    """Blobs and gradients (so masks have regions, not noise), as uint8 / uint16 HxWxC."""
    rng = np.random.RandomState(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.zeros((h, w, channels))
    for c in range(channels):
        for _ in range(6):
            cy, cx, r = rng.rand() * h, rng.rand() * w, 5 + rng.rand() * 25
            img[:, :, c] += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))
        img[:, :, c] += 0.3 * xx / w + rng.rand(h, w) * 0.2
    img /= img.max()
    top = (1 << bits) - 1
    return np.round(img * top).astype(np.uint8 if bits == 8 else np.uint16)


def normalised(img, mean, std, bits):
    """What the runtime feeds the network for these pixels (float32, the same operation order)."""
    x = img.astype(np.float32) / np.float32((1 << bits) - 1)
    chw = np.transpose(x, (2, 0, 1))
    out = np.empty(chw.shape, np.float32)
    for c in range(chw.shape[0]):
        out[c] = (chw[c] - np.float32(mean[c])) / np.float32(std[c])
    return out[None]


def test_tiled_equals_whole(net):
    x = (np.random.RandomState(3).rand(1, 3, 960, 1040).astype(np.float32) * 2 - 1)
    np.save(net.path("x.npy"), x)
    net.last_size = (3, 960, 1040)
    whole_out = net.segment("-i", net.path("x.npy"), "-o", net.path("whole.npy"), "--logits")
    check(tiles_of(whole_out) == 1, "the default budget runs 960x1040 in one pass")
    whole = np.load(net.path("whole.npy"))
    want = net.torch(x)
    close_to_torch(whole, want, "tiny_bilinear whole image vs PyTorch")
    for min_tiles in [6, 12]:
        out, budget = net.tiled(min_tiles, "-i", net.path("x.npy"), "-o", net.path("tiled.npy"), "--logits")
        tiles = tiles_of(out)
        tiled = np.load(net.path("tiled.npy"))
        check(np.array_equal(tiled, whole), f"{tiles} tiles ({budget} B budget) equal the whole-image run bit for bit")
        close_to_torch(tiled, want, f"{tiles} tiles vs PyTorch on the whole image")
        mem = memory_of(out)
        check(mem is not None and mem[0] <= mem[1], f"measured pipeline peak within the plan: {mem}")
    # Batches tile too (the same budget: half the tile area per image).
    xb = np.concatenate([x, -x])
    np.save(net.path("xb.npy"), xb)
    out = net.segment("-i", net.path("xb.npy"), "-o", net.path("tb.npy"), "--logits", "--memory", str(budget))
    close_to_torch(np.load(net.path("tb.npy")), net.torch(xb), f"a batch of 2 in {tiles_of(out)} tiles vs PyTorch")
    check(tiles_of(out) > 1, "a batch of 2 runs in tiles")


def write_tiff_variants(net, img8, img16, gray8):
    """(name, path, pixels the runtime should see as float input, bits, flags) for each TIFF layout."""
    v = []
    p = net.path("strips_deflate.tif")
    tifffile.imwrite(p, img8, photometric="rgb", rowsperstrip=16, compression="zlib")
    v.append(("striped 8-bit RGB, deflate", p, img8, 8, []))
    p = net.path("tiled_lzw.tif")
    tmp = net.path("tiled_raw.tif")
    tifffile.imwrite(tmp, img8, photometric="rgb", tile=(64, 48))
    subprocess.run(["tiffcp", "-c", "lzw", tmp, p], check=True)
    v.append(("tiled 64x48 8-bit RGB, LZW", p, img8, 8, []))
    p = net.path("planar_big.tif")
    tifffile.imwrite(p, np.transpose(img8, (2, 0, 1)), photometric="rgb", planarconfig="separate", bigtiff=True,
                     tile=(32, 32))
    v.append(("planar tiled 8-bit RGB, BigTIFF", p, img8, 8, []))
    p = net.path("rgb16.tif")
    tifffile.imwrite(p, img16, photometric="rgb", rowsperstrip=7)
    v.append(("striped 16-bit RGB", p, img16, 16, []))
    p = net.path("gray.tif")
    tifffile.imwrite(p, gray8, photometric="minisblack", compression="zlib")
    v.append(("8-bit gray for an RGB network, --rgb", p, np.repeat(gray8[:, :, None], 3, axis=2), 8, ["--rgb"]))
    return v


def test_tiff(net, mean, std):
    h, w = 720, 804
    net.last_size = (3, h, w)
    img8 = smooth_image(h, w, 3, 5)
    img16 = smooth_image(h, w, 3, 6, bits=16)
    gray8 = smooth_image(h, w, 1, 7)[:, :, 0]
    for name, path, pixels, bits, flags in write_tiff_variants(net, img8, img16, gray8):
        ref = normalised(pixels, mean, std, bits)
        np.save(net.path("ref_in.npy"), ref)
        net.segment("-i", net.path("ref_in.npy"), "-o", net.path("ref_mask.npy"), "--mask")
        want = np.load(net.path("ref_mask.npy"))
        out_tif = net.path("mask.tif")
        out, _ = net.tiled(6, "-i", path, "-o", out_tif, *flags)
        tiles = tiles_of(out)
        got = tifffile.imread(out_tif)
        same = got.shape == want.shape[-2:] and float(np.mean(got == want.reshape(got.shape))) if got.shape == want.shape[-2:] else 0.0
        check(tiles >= 6 and same == 1.0, f"{name}: {tiles} tiles into a tiled BigTIFF, mask equal on {same:.4%} of pixels")
        with tifffile.TiffFile(out_tif) as t:
            page = t.pages[0]
            check(t.is_bigtiff and page.is_tiled and page.dtype == np.uint8, f"{name}: the mask is a tiled 8-bit BigTIFF")
        check("tile " in out and "MP/s" in out, f"{name}: progress lines in the log")
        check(not os.path.exists(out_tif + ".partial"), f"{name}: no .partial file left")
    # Gray for an RGB network is converted only when asked (issue 13: it was repeated silently).
    out = net.segment("-i", net.path("gray.tif"), "-o", net.path("never.tif"), expect=1)
    check("gray TIFF for a 3-channel (RGB) network; pass --rgb" in out, "a gray TIFF without --rgb is refused with the rule")
    # A TIFF mask from an in-memory .npy input, and a .npy result from a TIFF input.
    net.tiled(4, "-i", net.path("strips_deflate.tif"), "-o", net.path("from_tif.npy"), "--probs")
    np.save(net.path("ref_in.npy"), normalised(img8, mean, std, 8))
    net.segment("-i", net.path("ref_in.npy"), "-o", net.path("from_npy.npy"), "--probs")
    a, b = np.load(net.path("from_tif.npy")), np.load(net.path("from_npy.npy"))
    check(np.array_equal(a.reshape(b.shape), b), "TIFF in, probabilities out (.npy) equal the in-memory run")


def test_bad_input(net):
    # A budget below any tile: an error naming the least budget, before any work.
    out = net.segment("-i", net.path("x.npy"), "-o", net.path("never.npy"), "--memory", "1MB", expect=1)
    check("within a memory budget of" in out and "give it at least" in out, "a 1 MB budget names the least that works")
    check(not os.path.exists(net.path("never.npy")), "no output written for a refused budget")
    # A truncated tiled TIFF: the reader's error names the file; no mask (nor .partial) left.
    src = net.path("tiled_lzw.tif")
    cut = net.path("truncated.tif")
    with open(src, "rb") as f:
        data = f.read()
    with open(cut, "wb") as f:
        f.write(data[: len(data) * 2 // 3])
    mask = net.path("truncated_mask.tif")
    out = net.segment("-i", cut, "-o", mask, expect=1)
    check("cannot read " + cut in out, "a truncated TIFF is an error naming the file: " + out.strip().splitlines()[-1][:160])
    check(not os.path.exists(mask) and not os.path.exists(mask + ".partial"), "no mask file left after a truncated TIFF")
    # A TIFF whose directory is fine but one tile's compressed data is garbage: found mid-run,
    # after some mask tiles were written; the partial mask is removed.
    bad = net.path("corrupt.tif")
    shutil.copy(src, bad)
    with tifffile.TiffFile(bad) as t:
        page = t.pages[0]
        k = len(page.dataoffsets) - 2
        offset, count = page.dataoffsets[k], page.databytecounts[k]
    with open(bad, "r+b") as f:
        f.seek(offset)
        f.write(bytes([0xFF]) * count)
    net.last_size = (3, 720, 804)
    out = net.segment("-i", bad, "-o", mask, "--memory", str(net.whole_image_bytes() // 3), expect=1)
    check("cannot read " + bad in out and "truncated or corrupt" in out,
          "a corrupt tile is an error naming the file and the tile: " + out.strip().splitlines()[-1][:160])
    check(not os.path.exists(mask) and not os.path.exists(mask + ".partial"), "no mask file left after a corrupt tile")
    # Not a TIFF at all.
    junk = net.path("junk.tif")
    with open(junk, "wb") as f:
        f.write(b"this is not a tiff file" * 10)
    out = net.segment("-i", junk, "-o", mask, expect=1)
    check("cannot read " + junk in out, "a non-TIFF .tif is an error naming the file")


def png_bytes(w, h, rows):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xffffffff)
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    raw = b"".join(b"\x00" + bytes(row) for row in rows)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def png_file(path, img, colour, bits=8, gamma=None, palette=None):
    """A PNG of `img` (h x w x samples, uint8 / uint16) with colour type `colour`, optional gAMA and PLTE."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xffffffff)
    h, w = img.shape[:2]
    body = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bits, colour, 0, 0, 0))
    if gamma is not None:
        body += chunk(b"gAMA", struct.pack(">I", int(round(gamma * 100000))))
    if palette is not None:
        body += chunk(b"PLTE", bytes(np.asarray(palette, np.uint8).reshape(-1)))
    data = img.astype(">u2" if bits == 16 else np.uint8).reshape(h, -1)
    raw = b"".join(b"\x00" + data[y].tobytes() for y in range(h))
    body += chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(body)


def test_png_decoding(rgb_net, gray_net, mean, std):
    """PNG pixels reach the network as stored: 16-bit as v / 65535, gamma chunks ignored, alpha and
    palettes by the stated rule (issue 13: libpng's simplified API re-encoded them silently)."""
    # 16-bit gray on the 1-channel net: equal to the .npy of v / 65535 (mean 0, std 1).
    g16 = smooth_image(140, 131, 1, 21, bits=16)
    g16[0, 0, 0] = 37377
    png_file(gray_net.path("g16.png"), g16, 0, bits=16)
    np.save(gray_net.path("g16.npy"), normalised(g16, [0.0], [1.0], 16))
    gray_net.segment("-i", gray_net.path("g16.png"), "-o", gray_net.path("a.npy"), "--logits")
    gray_net.segment("-i", gray_net.path("g16.npy"), "-o", gray_net.path("b.npy"), "--logits")
    check(np.array_equal(np.load(gray_net.path("a.npy")), np.load(gray_net.path("b.npy"))),
          "a 16-bit gray PNG reaches the network as v / 65535")
    # 8-bit gray with gAMA 1.0: the same values as without, and a note saying so.
    g8 = smooth_image(140, 131, 1, 22)
    png_file(gray_net.path("plain.png"), g8, 0)
    png_file(gray_net.path("gamma.png"), g8, 0, gamma=1.0)
    gray_net.segment("-i", gray_net.path("plain.png"), "-o", gray_net.path("a.npy"), "--logits")
    out = gray_net.segment("-i", gray_net.path("gamma.png"), "-o", gray_net.path("b.npy"), "--logits")
    check(np.array_equal(np.load(gray_net.path("a.npy")), np.load(gray_net.path("b.npy"))) and "gAMA" in out,
          "a gAMA 1.0 chunk changes no value and is noted")
    # A gray palette on the 1-channel net: accepted, equal to the gray image.
    pal = np.stack([np.arange(256)] * 3, axis=1)
    png_file(gray_net.path("palette_gray.png"), g8, 3, palette=pal)
    gray_net.segment("-i", gray_net.path("palette_gray.png"), "-o", gray_net.path("b.npy"), "--logits")
    check(np.array_equal(np.load(gray_net.path("a.npy")), np.load(gray_net.path("b.npy"))),
          "a gray palette PNG is gray for a 1-channel network")
    # A colour palette on the 1-channel net: refused with the rule.
    pal_colour = pal.copy()
    pal_colour[:, 0] = 255 - pal_colour[:, 0]
    png_file(gray_net.path("palette_colour.png"), g8, 3, palette=pal_colour)
    out = gray_net.segment("-i", gray_net.path("palette_colour.png"), "-o", gray_net.path("b.npy"), expect=1)
    check("colour PNG for a 1-channel network" in out, "a colour palette PNG is refused for a 1-channel network")
    # RGBA on the RGB net: alpha dropped with a note, equal to the RGB image.
    rgb = smooth_image(120, 136, 3, 23)
    rgba = np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 77, np.uint8)], axis=2)
    png_file(rgb_net.path("rgb.png"), rgb, 2)
    png_file(rgb_net.path("rgba.png"), rgba, 6)
    rgb_net.segment("-i", rgb_net.path("rgb.png"), "-o", rgb_net.path("a.npy"), "--logits")
    out = rgb_net.segment("-i", rgb_net.path("rgba.png"), "-o", rgb_net.path("b.npy"), "--logits")
    check(np.array_equal(np.load(rgb_net.path("a.npy")), np.load(rgb_net.path("b.npy"))) and "alpha channel" in out,
          "an RGBA PNG's alpha is dropped with a note")
    # 16-bit RGB on the RGB net: equal to the .npy of (v / 65535 - mean) / std.
    rgb16 = smooth_image(120, 136, 3, 24, bits=16)
    png_file(rgb_net.path("rgb16.png"), rgb16, 2, bits=16)
    np.save(rgb_net.path("rgb16.npy"), normalised(rgb16, mean, std, 16))
    rgb_net.segment("-i", rgb_net.path("rgb16.png"), "-o", rgb_net.path("a.npy"), "--logits")
    rgb_net.segment("-i", rgb_net.path("rgb16.npy"), "-o", rgb_net.path("b.npy"), "--logits")
    check(np.array_equal(np.load(rgb_net.path("a.npy")), np.load(rgb_net.path("b.npy"))),
          "a 16-bit RGB PNG reaches the network as (v / 65535 - mean) / std")


def test_png_limits(net):
    # A tiny file whose header claims 100000 x 100000: refused at once, nothing allocated.
    huge = net.path("huge_header.png")
    with open(huge, "wb") as f:
        f.write(png_bytes(100000, 100000, [[0, 0, 0]]))
    t0 = time.time()
    out = net.segment("-i", huge, "-o", net.path("never.png"), expect=1)
    check("cannot read " + huge in out and "megapixels" in out and time.time() - t0 < 5,
          f"a PNG header claiming 100000x100000 is refused in {time.time() - t0:.1f} s: " + out.strip()[-120:])
    # A header within the pixel limit that its few bytes could never fill: refused before the
    # image buffer is allocated (deflate expands at most 1032:1).
    forged = net.path("forged_header.png")
    with open(forged, "wb") as f:
        f.write(png_bytes(16000, 16000, [[0, 0, 0]]))
    t0 = time.time()
    out = net.segment("-i", forged, "-o", net.path("never.png"), expect=1)
    check("cannot read " + forged in out and "truncated or forged" in out and time.time() - t0 < 5,
          f"a 16000x16000 header on a tiny file is refused in {time.time() - t0:.1f} s: " + out.strip()[-120:])
    # Truncated image data: named as such.
    good = png_bytes(64, 48, [[(x * 3 + y) % 256 for x in range(64 * 3)] for y in range(48)])
    cut = net.path("truncated.png")
    with open(cut, "wb") as f:
        f.write(good[: len(good) - 40])
    out = net.segment("-i", cut, "-o", net.path("never.png"), expect=1)
    check("cannot read " + cut in out and "truncated or corrupt" in out, "a truncated PNG names the file and the fault")
    check(not os.path.exists(net.path("never.png")), "no mask written for a bad PNG")


def luma_601(rgb):
    """BT.601 luma in 16.16 fixed point, as PIL's convert("L") (and unetgen run --gray) computes it."""
    r, g, b = (rgb[..., i].astype(np.uint64) for i in range(3))
    return ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16).astype(rgb.dtype)


def test_channel_conversions(rgb_net, gray_net, mean, std):
    """Gray for an RGB network and colour for a gray one: refused with the rule, converted by
    --rgb (repetition) or --gray (BT.601 luma) and then equal to the converted .npy."""
    g8 = smooth_image(120, 136, 1, 31)
    png_file(rgb_net.path("gray.png"), g8, 0)
    out = rgb_net.segment("-i", rgb_net.path("gray.png"), "-o", rgb_net.path("a.npy"), "--logits", expect=1)
    check("gray PNG for a 3-channel (RGB) network; pass --rgb" in out, "a gray PNG on an RGB network needs --rgb")
    out = rgb_net.segment("-i", rgb_net.path("gray.png"), "-o", rgb_net.path("a.npy"), "--logits", "--rgb")
    np.save(rgb_net.path("gray3.npy"), normalised(np.repeat(g8, 3, axis=2), mean, std, 8))
    rgb_net.segment("-i", rgb_net.path("gray3.npy"), "-o", rgb_net.path("b.npy"), "--logits")
    check(np.array_equal(np.load(rgb_net.path("a.npy")), np.load(rgb_net.path("b.npy"))) and "--rgb" in out,
          "--rgb repeats a gray PNG into R, G and B, with a note")
    for bits in (8, 16):
        rgb = smooth_image(140, 131, 3, 32 + bits, bits=bits)
        png_file(gray_net.path("colour.png"), rgb, 2, bits=bits)
        out = gray_net.segment("-i", gray_net.path("colour.png"), "-o", gray_net.path("a.npy"), "--logits", expect=1)
        check("pass --gray" in out, f"a {bits}-bit colour PNG on a gray network needs --gray")
        out = gray_net.segment("-i", gray_net.path("colour.png"), "-o", gray_net.path("a.npy"), "--logits", "--gray")
        np.save(gray_net.path("luma.npy"), normalised(luma_601(rgb)[:, :, None], [0.0], [1.0], bits))
        gray_net.segment("-i", gray_net.path("luma.npy"), "-o", gray_net.path("b.npy"), "--logits")
        check(np.array_equal(np.load(gray_net.path("a.npy")), np.load(gray_net.path("b.npy"))) and "BT.601" in out,
              f"--gray converts a {bits}-bit colour PNG by BT.601 luma, with a note")
        tif = gray_net.path("colour.tif")
        tifffile.imwrite(tif, rgb, photometric="rgb", tile=(32, 32))
        gray_net.segment("-i", tif, "-o", gray_net.path("c.npy"), "--logits", "--gray")
        check(np.array_equal(np.load(gray_net.path("c.npy")), np.load(gray_net.path("b.npy"))),
              f"--gray converts a {bits}-bit colour TIFF the same way")
    out = gray_net.segment("-i", tif, "-o", gray_net.path("c.npy"), "--gray", "--rgb", expect=2)
    check("excludes" in out, "--gray and --rgb together are refused")


def test_mirror(net):
    for h, w in [(61, 47), (20, 33), (140, 131)]:
        x = np.random.RandomState(h).rand(1, 1, h, w).astype(np.float32) * 2 - 1
        np.save(net.path("m.npy"), x)
        out = net.segment("-i", net.path("m.npy"), "-o", net.path("m_out.npy"), "--border", "mirror", "--logits")
        m = re.search(r"extended to (\d+)x(\d+) \(image at (\d+), (\d+)\)", out)
        check(m is not None, f"mirror {h}x{w}: the extension is reported")
        if not m:
            continue
        eh, ew, oy, ox = map(int, m.groups())
        padded = np.pad(x, ((0, 0), (0, 0), (oy, eh - h - oy), (ox, ew - w - ox)), mode="reflect")
        want = net.torch(padded)[:, :, :h, :w]
        close_to_torch(np.load(net.path("m_out.npy")), want, f"mirror {h}x{w} (extended to {eh}x{ew}) vs PyTorch")
    # Mirror and tiles together.
    x = np.random.RandomState(9).rand(1, 1, 150, 170).astype(np.float32) * 2 - 1
    np.save(net.path("m.npy"), x)
    net.last_size = (1, 150, 170)
    out, _ = net.tiled(4, "-i", net.path("m.npy"), "-o", net.path("m_out.npy"), "--border", "mirror", "--logits")
    m = re.search(r"extended to (\d+)x(\d+) \(image at (\d+), (\d+)\)", out)
    eh, ew, oy, ox = map(int, m.groups())
    padded = np.pad(x, ((0, 0), (0, 0), (oy, eh - 150 - oy), (ox, ew - 170 - ox)), mode="reflect")
    close_to_torch(np.load(net.path("m_out.npy")), net.torch(padded)[:, :, :150, :170],
                   f"mirror 150x170 in {tiles_of(out)} tiles vs PyTorch")
    # Without mirror a size the network cannot take is refused with the rule.
    np.save(net.path("m.npy"), np.zeros((1, 1, 41, 41), np.float32))
    out = net.segment("-i", net.path("m.npy"), "-o", net.path("m_out.npy"), expect=1)
    check("nearest" in out, "without --border mirror an odd size is refused, naming the nearest sizes")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--unetgen", required=True)
    ap.add_argument("--workdir", required=True)
    args = ap.parse_args()
    shutil.rmtree(args.workdir, ignore_errors=True)
    os.makedirs(args.workdir)
    torch.set_num_threads(2)
    bil = Net(args, "tiny_bilinear", 11)
    test_tiled_equals_whole(bil)
    test_tiff(bil, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    test_bad_input(bil)
    test_png_limits(bil)
    valid = Net(args, "tiny_valid", 12)
    test_mirror(valid)
    test_png_decoding(bil, valid, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    test_channel_conversions(bil, valid, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print("all large-image checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
