#!/usr/bin/env python3
"""large_image_bench.py — tiled segmentation of large images: time per megapixel and peak memory.

1. Tiling cost: milesial_bilinear (full width, random weights) on a 3x1024x1024 image in one
   pass and on 3x2048x2048 under a 2 GB budget (tiled), `unetgen bench` (median of --runs after
   one warm-up call); prints the time per megapixel of each and their ratio.
2. A 3x16384x16384 image: models/coins.png (a real photograph, 384x303) mirror-tiled to that size
   (reproducible: no randomness), three channels (gray repeated, shifted per channel so they
   differ), written as a tiled BigTIFF (256x256, deflate) tile by tile. `unetgen run` streams it
   through milesial_bilinear under a 2 GB budget into a tiled BigTIFF mask, under /usr/bin/time
   for the peak RSS. Skipped with --skip-huge.

Writes bench/large_results.json and bench/large_results.md (run_bench.py appends it to
RESULTS.md), and replaces RESULTS.md's large-image section. Records the
CPU model. Run with Debian's /usr/bin/python3 (PyTorch, tifffile).

usage: /usr/bin/python3 bench/large_image_bench.py --unetgen build/cli/unetgen [--runs 3] [--skip-huge]
"""
import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
import zlib
import struct

import numpy as np
import tifffile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
REFERENCE = os.path.join(ROOT, "examples", "pytorch", "example_networks.py")  # the project's references
OUT = os.path.join(HERE, "out", "large")


def sh(cmd):
    p = subprocess.run([str(c) for c in cmd], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0:
        sys.stderr.write(f"$ {' '.join(map(str, cmd))}\n{p.stdout}\n")
        raise SystemExit("large_image_bench: command failed")
    return p.stdout


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def read_png_gray(path):
    """The 8-bit grayscale PNG (no PIL in Debian's python3 here): IDAT inflated, filters undone."""
    data = open(path, "rb").read()
    pos, idat, w, h = 8, b"", 0, 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, colour = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and colour == 0, "coins.png is 8-bit gray"
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    img = np.zeros((h, w), np.uint8)
    prev = np.zeros(w, np.int32)
    for y in range(h):
        f = raw[y * (w + 1)]
        line = np.frombuffer(raw, np.uint8, w, y * (w + 1) + 1).astype(np.int32)
        out = np.zeros(w, np.int32)
        for x in range(w):
            a = out[x - 1] if x else 0
            b = prev[x]
            c = prev[x - 1] if x else 0
            if f == 0:
                p = 0
            elif f == 1:
                p = a
            elif f == 2:
                p = b
            elif f == 3:
                p = (a + b) // 2
            else:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                p = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            out[x] = (line[x] + p) & 255
        img[y] = out
        prev = out
    return img


def huge_tiles(base, size, tile):
    """256x256 RGB tiles of `base` mirror-tiled to size x size (row-major), channel c shifted by 37c px."""
    bh, bw = base.shape
    period_y, period_x = 2 * bh, 2 * bw
    ext = np.concatenate([base, base[::-1]], axis=0)
    ext = np.concatenate([ext, ext[:, ::-1]], axis=1)  # one mirror period in each axis
    for ty in range(0, size, tile):
        rows = (np.arange(ty, ty + tile)) % period_y
        for tx in range(0, size, tile):
            t = np.empty((tile, tile, 3), np.uint8)
            for c in range(3):
                cols = (np.arange(tx, tx + tile) + 37 * c) % period_x
                t[:, :, c] = ext[np.ix_(rows, cols)]
            yield t


def write_huge_tiff(path, size):
    base = read_png_gray(os.path.join(ROOT, "models", "coins.png"))
    tifffile.imwrite(path, huge_tiles(base, size, 256), shape=(size, size, 3), dtype=np.uint8, photometric="rgb",
                     tile=(256, 256), compression="zlib", bigtiff=True)


def segment_ms(out):
    m = re.search(r"in ([\d.]+) ms", out)
    return float(m.group(1)) if m else None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--unetgen", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--size", type=int, default=16384, help="side of the huge image")
    ap.add_argument("--skip-huge", action="store_true")
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    spec = os.path.join(ROOT, "examples", "specs", "milesial_bilinear.unet")
    lib = os.path.join(OUT, "milesial_bilinear")
    weights = os.path.join(OUT, "milesial_bilinear.safetensors")
    if not os.path.exists(os.path.join(lib, "build.json")):
        sh([args.unetgen, "build", spec, "-o", lib])
    if not os.path.exists(weights):
        sh([sys.executable, os.path.join(ROOT, "tools", "export_pytorch.py"), "--spec", spec, "--module", REFERENCE,
            "--model", "UNet001(3, 1, bilinear=True)", "--random-weights", "1", "--out", weights,
            "--unetgen", args.unetgen])
    results = {"cpu": cpu_model(), "threads": args.threads, "date": time.strftime("%Y-%m-%d")}
    print(f"CPU: {results['cpu']}, {args.threads} threads")

    rows = []
    for side, budget in [(1024, None), (2048, "2GB")]:
        # `unetgen bench`: one process, one warm-up call, the median of --runs (steady state, as
        # every figure in RESULTS.md).
        cmd = [args.unetgen, "bench", lib, "-w", weights, "-s", f"3x{side}x{side}", "--threads", args.threads,
               "--runs", args.runs, "--warmup", 1, "--json"]
        if budget:
            cmd += ["--memory", budget]
        j = json.loads(sh(cmd))
        ms, mp = j["median_ms"], side * side / 1e6
        plan = "one pass" if j["tiles"] == [1, 1] else (f"{j['tiles'][0]} x {j['tiles'][1]} tiles of "
                                                        f"{j['tile'][0]}x{j['tile'][1]}, {100 * j['overlap']:.0f}% "
                                                        "of the work recomputed")
        row = {"side": side, "budget": budget or "default (2 GiB)", "ms": ms, "ms_per_mp": ms / mp,
               "peak_rss_mb": j["peak_rss_mib"], "plan": plan, "times_ms": j["times_ms"]}
        rows.append(row)
        print(f"3x{side}x{side}: {ms:.0f} ms, {ms / mp:.0f} ms/MP, peak RSS {j['peak_rss_mib']:.0f} MiB, {plan}")
    ratio = rows[1]["ms_per_mp"] / rows[0]["ms_per_mp"]
    print(f"time per MP, 2048^2 tiled / 1024^2 whole: {ratio:.2f}")
    results["tiling"] = rows
    results["tiling_ratio"] = ratio

    if not args.skip_huge:
        big = os.path.join(OUT, f"coins_{args.size}.tif")
        if not os.path.exists(big):
            t0 = time.time()
            write_huge_tiff(big, args.size)
            print(f"wrote {big} ({os.path.getsize(big) / 1e6:.0f} MB) in {time.time() - t0:.0f} s")
        mask = os.path.join(OUT, f"mask_{args.size}.tif")
        t0 = time.time()
        out = sh(["/usr/bin/time", "-f", "RSS %M KB", args.unetgen, "run", lib, "-w", weights, "-i", big, "-o", mask,
                  "--memory", "2GB", "--threads", args.threads])
        wall = time.time() - t0
        rss = int(re.search(r"RSS (\d+) KB", out).group(1)) / 1024
        plan = next((line for line in out.splitlines() if line.startswith("tiles:")), "")
        mem = next((line for line in out.splitlines() if line.startswith("memory:")), "")
        with tifffile.TiffFile(mask) as t:
            shape, tiled, bigtiff = t.pages[0].shape, t.pages[0].is_tiled, t.is_bigtiff
        print(f"3x{args.size}x{args.size} BigTIFF: {wall:.0f} s wall, peak RSS {rss:.0f} MB, {plan}; {mem}; "
              f"mask {shape} tiled={tiled} bigtiff={bigtiff}")
        results["huge"] = {"side": args.size, "wall_s": wall, "peak_rss_mb": rss, "plan": plan, "memory": mem,
                           "mp_per_s": args.size * args.size / 1e6 / wall}
    with open(os.path.join(HERE, "large_results.json"), "w") as f:
        json.dump(results, f, indent=2)
    write_markdown(results)
    return 0


BEFORE = '''Before windowed pipelines (issue 9, measured by hand on this machine kind; the same spec and
weights kind): 3x1024x1024 ran in 11.7 s at 1.7 GB peak RSS (one core busy elsewhere),
3x2032x2032 in 24 s at 6.1 GB, 3x2048x2048 failed after 19-42 s ("Total allocation for buffer
dec0_conv0_in is 2153779200, which exceeds the maximum size of 2147483647"), and 3x4096x4096
failed at once (with `host-large_buffers` it passed 12 GB RSS and was stopped).'''


def write_markdown(r):
    """bench/large_results.md (run_bench.py appends it to RESULTS.md), and RESULTS.md's own copy now."""
    lines = ["## Large images (bench/large_image_bench.py)", "",
             f"Produced by `bench/large_image_bench.py` on {r['date']}: milesial_bilinear at full width "
             f"(17.3 M parameters, random weights), fp32, {r['threads']} threads, CPU: {r['cpu']}.", "",
             "| input | memory budget | plan | median | per megapixel | peak RSS |", "|---|---|---|---|---|---|"]
    for row in r["tiling"]:
        lines.append(f"| 3x{row['side']}x{row['side']} (.npy, `unetgen bench`) | {row['budget']} | {row['plan']} | "
                     f"{row['ms'] / 1e3:.2f} s | {row['ms_per_mp'] / 1e3:.2f} s | {row['peak_rss_mb']:.0f} MiB |")
    if "huge" in r:
        h = r["huge"]
        lines.append(f"| 3x{h['side']}x{h['side']} tiled BigTIFF in and out (`unetgen run`) | 2 GB | "
                     f"{h['plan'].replace('tiles: ', '')} | {h['wall_s'] / 60:.1f} min wall | "
                     f"{1 / h['mp_per_s']:.2f} s | {h['peak_rss_mb']:.0f} MB |")
    lines += ["", f"Time per megapixel, 2048x2048 tiled at 2 GB over 1024x1024 in one pass: "
              f"**{r['tiling_ratio']:.2f}x**. What the overlap costs: the tiles recompute their halo at every "
              f"seam (the plan's share of recomputed work is in the table; the halo is the receptive field's "
              f"reach plus the schedule's rounding at each level), and each tile repeats the per-call Winograd "
              f"weight transforms; the rest of the difference is the larger image's cache and page behaviour.", ""]
    if "huge" in r:
        lines += [f"The {r['huge']['side']}x{r['huge']['side']} image is models/coins.png mirror-tiled "
                  "(reproducible, `write_huge_tiff`), 3 channels; the run streams it from a tiled BigTIFF "
                  "(256x256, deflate) and writes the mask as a tiled BigTIFF. " + r["huge"]["memory"].replace(
                      "memory: ", "Measured: "), ""]
    lines += [BEFORE, ""]
    text = "\n".join(lines)
    with open(os.path.join(HERE, "large_results.md"), "w") as f:
        f.write(text)
    results_md = os.path.join(HERE, "RESULTS.md")
    if os.path.exists(results_md):
        old = open(results_md).read()
        cut = old.find("## Large images (bench/large_image_bench.py)")
        old = old if cut < 0 else old[:cut].rstrip() + "\n"
        with open(results_md, "w") as f:
            f.write(old + "\n" + text)


if __name__ == "__main__":
    sys.exit(main())
