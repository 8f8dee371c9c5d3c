#!/usr/bin/env python3
"""End-to-end parity of a generated library with the PyTorch reference model.

For one example spec: builds the spec with `unetgen build`, gives the reference model random weights with
non-trivial BatchNorm statistics and affine parameters, exports them with tools/export_pytorch.py, then for
each input size runs `unetgen run` on a random input and compares with PyTorch's output (after the spec's
output activation):

    max |ours - torch| <= 1e-4 * max(1, max |torch|)

Run with Debian's /usr/bin/python3 (PyTorch 1.13). Exit code 0 when every size passes.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
# The project's own references of the example networks (checked against the seed references by
# tests/reference when those are beside the checkout).
REFERENCE = os.path.join(ROOT, "examples", "pytorch", "example_networks.py")

TOLERANCE = 1e-4
# `--bf16` (the fast mode's GEMMs): bf16 operands round to 2^-9 relative, a few times per term;
# measured on milesial_transposed with random weights (16 layers in bf16): 3.7e-3 of max|torch|.
BF16_TOLERANCE = 1e-2


def load_reference():
    namespace = {"__file__": REFERENCE}
    with open(REFERENCE) as f:
        code = compile(f.read(), REFERENCE, "exec")
    exec(code, namespace)
    return namespace


REF = load_reference()
MODELS = REF["SPEC_MODELS"]  # spec name -> the reference's constructor expression
# Other widths, depths, classes and input channels of the example networks: spec name (its file is
# tests/parity/specs/NAME.unet) -> the reference's constructor expression.
VARIANTS = {
    "nnunet_narrow": "NnUNetPlain(2, 4, features=(8, 16, 24, 32), convs=3, dec_convs=1)",
    "monai_narrow": "MonaiBasicUNet(3, 5, features=(8, 16, 16, 24, 40, 12))",
    "attention_narrow": "AttentionUNet(1, 3, features=(8, 16, 24, 32))",
    "monai_res_narrow": "MonaiResUNet(3, 4, channels=(8, 16, 24), strides=(2, 2), num_res_units=3)",
}


def spec_path(name):
    if name in VARIANTS:
        return os.path.join(HERE, "specs", name + ".unet")
    return os.path.join(ROOT, "examples", "specs", name + ".unet")


def model_expr(name):
    return VARIANTS.get(name) or MODELS[name]


def randomise(model, seed):
    """Random conv weights (PyTorch's init, reseeded) and non-trivial BatchNorm statistics and affine."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
                fan = m.weight[0].numel()
                bound = (3.0 / fan) ** 0.5  # keeps activations O(1) through deep nets without BN
                m.weight.copy_((torch.rand(m.weight.shape, generator=g) * 2 - 1) * bound)
                if m.bias is not None:
                    m.bias.copy_((torch.rand(m.bias.shape, generator=g) * 2 - 1) * 0.2)
            elif isinstance(m, torch.nn.PReLU):  # distinct learnt slopes, so a slope read from the wrong unit shows
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) * 0.5 + 0.1)
            elif isinstance(m, (torch.nn.InstanceNorm2d, torch.nn.GroupNorm)) and m.weight is not None:
                n = m.weight.numel()
                m.weight.copy_(torch.rand(n, generator=g) + 0.5)
                m.bias.copy_((torch.rand(n, generator=g) * 2 - 1) * 0.5)
            elif isinstance(m, torch.nn.BatchNorm2d):
                n = m.num_features
                m.running_mean.copy_((torch.rand(n, generator=g) * 2 - 1) * 0.5)
                m.running_var.copy_(torch.rand(n, generator=g) * 1.5 + 0.5)
                m.weight.copy_(torch.rand(n, generator=g) + 0.5)
                m.bias.copy_((torch.rand(n, generator=g) * 2 - 1) * 0.5)
    model.eval()
    return model


def run(cmd, **kw):
    t0 = time.time()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    if p.returncode != 0:
        print("$ " + " ".join(cmd))
        print(p.stdout)
        raise SystemExit(f"FAILED (exit {p.returncode}): {cmd[0]} {cmd[1]}")
    return p.stdout, time.time() - t0


def parse_size(text, channels):
    parts = [int(v) for v in text.split("x")]
    if len(parts) == 1:
        parts = parts * 2
    return (1, channels, parts[0], parts[1]) if len(parts) == 2 else tuple(parts)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--unetgen", required=True, help="path of the unetgen executable")
    ap.add_argument("--spec", required=True, choices=sorted(MODELS) + sorted(VARIANTS),
                    help="example spec name, or a variant's (tests/parity/specs)")
    ap.add_argument("--sizes", required=True, help="comma-separated sizes: S, HxW or NxCxHxW")
    ap.add_argument("--target", default="host", help="Halide target for unetgen build")
    ap.add_argument("--bf16", action="store_true",
                    help="build with --precision bf16 and judge by the fast mode's bound, BF16_TOLERANCE x max(1, max|torch|) "
                         "(bf16 keeps 8 significant bits: 2^-9 relative per operand)")
    ap.add_argument("--build-flag", action="append", default=[],
                    help="an extra `unetgen build` argument (repeatable), e.g. --build-flag=--winograd-weights-at-load")
    ap.add_argument("--workdir", default=None, help="keep build and files here (default: a temp dir)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tiled", default="", help="sizes also run in at least --min-tiles tiles under a small "
                    "memory budget, against the whole-image PyTorch output")
    ap.add_argument("--min-tiles", type=int, default=6)
    ap.add_argument("--sliding", default="", help="image sizes run with --border sliding (the spec's `input patch`), "
                    "against nnU-Net's sliding-window inference written here on the PyTorch model")
    ap.add_argument("--whole-only", default="", help="sizes at which a network with instance / group norms must "
                    "refuse a budget too small for the whole image, and --border mirror, saying why")
    ap.add_argument("--mirror", default="", help="image sizes run with --border mirror, against PyTorch on the "
                    "reflect-extended image, cropped")
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    torch.set_num_threads(2)
    spec = spec_path(args.spec)
    work = args.workdir or tempfile.mkdtemp(prefix=f"parity_{args.spec}_")
    os.makedirs(work, exist_ok=True)
    libdir = os.path.join(work, "lib")

    global TOLERANCE
    if args.bf16:
        args.build_flag += ["--precision", "bf16"]
        TOLERANCE = BF16_TOLERANCE
    _, t_build = run([args.unetgen, "build", spec, "-o", libdir, "--target", args.target] + args.build_flag)
    print(f"built {args.spec} for {args.target} in {t_build:.1f} s")

    model = randomise(eval(model_expr(args.spec), REF), args.seed)
    ckpt = os.path.join(work, "random.pt")
    torch.save(model.state_dict(), ckpt)
    weights = os.path.join(work, "weights.safetensors")
    run([sys.executable, os.path.join(ROOT, "tools", "export_pytorch.py"), "--spec", spec,
         "--module", REFERENCE, "--model", model_expr(args.spec), "--state-dict", ckpt, "--out", weights,
         "--unetgen", args.unetgen])

    failures = 0
    for size in (args.tiled.split(",") if args.tiled else []):
        failures += check_tiled(args, libdir, weights, work, model, size)
    for size in (args.sliding.split(",") if args.sliding else []):
        failures += check_sliding(args, libdir, weights, work, model, size)
    for size in (args.whole_only.split(",") if args.whole_only else []):
        failures += check_whole_only(args, libdir, weights, work, model, size)
    for size in (args.mirror.split(",") if args.mirror else []):
        failures += check_mirror(args, libdir, weights, work, model, size)
    for size in args.sizes.split(","):
        shape, want, xin, xout = random_case(work, model, size, "")
        _, t_run = run([args.unetgen, "run", libdir, "--weights", weights, "--input", xin, "--output", xout])
        failures += compare(f"{args.spec} input {list(shape)} -> {list(want.shape)}, run {t_run:.2f} s",
                            np.load(xout), want)
    return 1 if failures else 0


def compare(label, got, want):
    if got.shape != want.shape:
        print(f"FAIL {label}: shape {got.shape}, PyTorch {want.shape}")
        return 1
    err = float(np.max(np.abs(got.astype(np.float64) - want)))
    bound = TOLERANCE * max(1.0, float(np.max(np.abs(want))))
    ok = err <= bound and np.all(np.isfinite(got))
    print(f"{'ok  ' if ok else 'FAIL'} {label}: max|diff| {err:.3g} (bound {bound:.3g}), max|torch| {np.max(np.abs(want)):.3g}")
    return 0 if ok else 1


def random_case(work, model, size, prefix):
    """A random input of SIZE saved for `unetgen run`, PyTorch's output on it, and the file names."""
    shape = parse_size(size, model_in_channels(model))
    x = torch.rand(shape, dtype=torch.float32) * 2 - 1
    with torch.no_grad():
        want = model(x).numpy()
    xin = os.path.join(work, f"{prefix}in_{size}.npy")
    xout = os.path.join(work, f"{prefix}out_{size}.npy")
    np.save(xin, x.numpy())
    return shape, want, xin, xout


def check_tiled(args, libdir, weights, work, model, size):
    """Shrinks the memory budget from the whole image's need by a quarter at a time until
    `unetgen run --plan-only` plans at least --min-tiles tiles, then runs that plan and compares
    it with PyTorch on the whole image."""
    shape, want, xin, xout = random_case(work, model, size, "tiled_")
    spec = spec_path(args.spec)
    report = json.loads(run([args.unetgen, "check", spec, "--size", "x".join(map(str, shape[1:])), "--json"])[0])
    budget = int(report["tiling"]["whole_image_bytes"])
    cmd = [args.unetgen, "run", libdir, "--weights", weights, "--input", xin, "--output", xout]
    for _ in range(12):
        budget = budget * 3 // 4
        p = subprocess.run(cmd + ["--memory", str(budget), "--plan-only"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        if p.returncode != 0:
            print(p.stdout)
            print(f"FAIL {args.spec} tiled {size}: no budget gives {args.min_tiles} tiles")
            return 1
        m = re.search(r"plan: (\d+) x (\d+) tiles", p.stdout)
        tiles = int(m.group(1)) * int(m.group(2)) if m else 1
        if tiles >= args.min_tiles:
            out, t_run = run(cmd + ["--memory", str(budget)])
            print(next((l for l in out.splitlines() if l.startswith("tiles:")), ""))
            return compare(f"{args.spec} input {list(shape)} in {tiles} tiles ({budget} B budget, {t_run:.1f} s)",
                           np.load(xout), want)
    print(f"FAIL {args.spec} tiled {size}: still fewer than {args.min_tiles} tiles")
    return 1


def sliding_steps(image, patch, step):
    """nnU-Net's compute_steps_for_sliding_window for one axis."""
    count = int(np.ceil((image - patch) / (patch * step))) + 1
    actual = (image - patch) / (count - 1) if count > 1 else 99999999999
    return [int(np.round(actual * i)) for i in range(count)]


def sliding_gaussian(h, w):
    """nnU-Net's compute_gaussian(sigma_scale=1/8): scipy's gaussian_filter of a centred delta, scaled to a
    maximum of 1, zeros raised to the smallest nonzero value (written out: scipy is not a dependency)."""
    def axis(n):
        sigma = n / 8.0
        radius = int(4.0 * sigma + 0.5)
        d = np.arange(n) - n // 2
        return np.where(np.abs(d) <= radius, np.exp(-d.astype(np.float64) ** 2 / (2 * sigma * sigma)), 0.0)
    g = np.outer(axis(h), axis(w))
    g[g == 0] = g[g > 0].min()
    return g


def sliding_reference(model, x, patch, step):
    """nnU-Net's sliding-window inference (no mirroring): pad to the patch (centred, zeros), Gaussian-weighted
    average of the patches' logits, cropped back."""
    n, c, h, w = x.shape
    ph, pw = patch
    H, W = max(h, ph), max(w, pw)
    py, px = (H - h) // 2, (W - w) // 2
    padded = np.zeros((n, c, H, W), np.float32)
    padded[:, :, py:py + h, px:px + w] = x
    g = sliding_gaussian(ph, pw)
    acc, weight = None, np.zeros((H, W))
    for y0 in sliding_steps(H, ph, step):
        for x0 in sliding_steps(W, pw, step):
            with torch.no_grad():
                out = model(torch.from_numpy(padded[:, :, y0:y0 + ph, x0:x0 + pw])).numpy().astype(np.float64)
            if acc is None:
                acc = np.zeros((n, out.shape[1], H, W))
            acc[:, :, y0:y0 + ph, x0:x0 + pw] += out * g
            weight[y0:y0 + ph, x0:x0 + pw] += g
    return (acc / weight)[:, :, py:py + h, px:px + w]


def check_sliding(args, libdir, weights, work, model, size):
    """--border sliding against the reference above, logits."""
    shape = parse_size(size, model_in_channels(model))
    x = np.random.RandomState(11).rand(*shape).astype(np.float32) * 2 - 1
    report = json.loads(run([args.unetgen, "check", spec_path(args.spec), "--json"])[0])
    patch, step = report.get("patch"), report.get("patch_step", 0.5)
    if not patch:
        print(f"FAIL {args.spec} sliding {size}: the spec has no `input patch`")
        return 1
    xin, xout = os.path.join(work, f"sliding_in_{size}.npy"), os.path.join(work, f"sliding_out_{size}.npy")
    np.save(xin, x)
    out, t_run = run([args.unetgen, "run", libdir, "--weights", weights, "--input", xin, "--output", xout,
                      "--border", "sliding", "--logits"])
    print(next((l for l in out.splitlines() if l.startswith("sliding window:")), ""))
    want = sliding_reference(model, x, patch, step)
    return compare(f"{args.spec} sliding window {list(shape)}, patch {patch}, step {step} ({t_run:.1f} s)",
                   np.load(xout), want)


def check_whole_only(args, libdir, weights, work, model, size):
    """Per-image statistics make tiles inexact: a budget below the whole image's need and a mirrored
    border are refused with the reason and the memory needed, never run approximately."""
    shape, _, xin, xout = random_case(work, model, size, "whole_")
    report = json.loads(run([args.unetgen, "check", spec_path(args.spec), "--size", "x".join(map(str, shape[1:])),
                             "--json"])[0])
    budget = int(report["tiling"]["whole_image_bytes"]) // 4
    failures = 0
    for extra, what in (([ "--memory", str(budget)], "a quarter of the whole image's memory"),
                        (["--border", "mirror"], "border = mirror")):
        p = subprocess.run([args.unetgen, "run", libdir, "--weights", weights, "--input", xin, "--output", xout] + extra,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        ok = p.returncode != 0 and "own statistics" in p.stdout
        print(f"{'ok  ' if ok else 'FAIL'} {args.spec} {size} with {what}: "
              + (p.stdout.strip().splitlines() or ["(no output)"])[-1])
        failures += not ok
    return failures


def check_mirror(args, libdir, weights, work, model, size):
    """--border mirror against PyTorch on the image extended with numpy's reflect padding (the
    placement `unetgen run` reports), its output cropped to the image."""
    shape = parse_size(size, model_in_channels(model))
    x = np.random.RandomState(7).rand(*shape).astype(np.float32) * 2 - 1
    xin = os.path.join(work, f"mirror_in_{size}.npy")
    xout = os.path.join(work, f"mirror_out_{size}.npy")
    np.save(xin, x)
    out, _ = run([args.unetgen, "run", libdir, "--weights", weights, "--input", xin, "--output", xout,
                  "--border", "mirror"])
    m = re.search(r"extended to (\d+)x(\d+) \(image at (\d+), (\d+)\)", out)
    if not m:
        print(out)
        print(f"FAIL {args.spec} mirror {size}: unetgen run did not report the extension")
        return 1
    eh, ew, oy, ox = map(int, m.groups())
    h, w = shape[2], shape[3]
    padded = np.pad(x, ((0, 0), (0, 0), (oy, eh - h - oy), (ox, ew - w - ox)), mode="reflect")
    with torch.no_grad():
        full = model(torch.from_numpy(padded)).numpy()
    want = full[:, :, :h, :w]
    return compare(f"{args.spec} mirror {list(shape)} (extended to {eh}x{ew})", np.load(xout), want)


def model_in_channels(model):
    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d):
            return m.in_channels
    raise SystemExit("reference model has no Conv2d")


if __name__ == "__main__":
    sys.exit(main())
