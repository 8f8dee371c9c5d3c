"""test_param_counts.py — `unetgen check --json` against the PyTorch reference models.

check_spec(spec, make_model, sizes, rejected) runs `unetgen check SPEC --json --size CxHxW` for every
example spec at a few sizes and compares with the reference module of its seed:
  - `params` with sum(p.numel() for p in model.parameters());
  - `output_shape` with the shape the model's forward actually returns at that size;
  - `weights` (order, shapes, module kinds, tensor fields) with the order in which forward hooks
    see the model's Conv2d / ConvTranspose2d / BatchNorm2d modules run;
and, for sizes the network should not take, that unetgen exits 2 exactly where PyTorch raises.

Usage: test_param_counts.py --unetgen BIN --specs DIR --reference DIR   (exit 0 = all passed)
"""
import argparse
import json
import os
import subprocess
import sys

import torch
import torch.nn as nn

KINDS = {nn.Conv2d: "Conv2d", nn.ConvTranspose2d: "ConvTranspose2d", nn.BatchNorm2d: "BatchNorm2d",
         nn.InstanceNorm2d: "InstanceNorm2d", nn.GroupNorm: "GroupNorm", nn.PReLU: "PReLU"}


def run_check(unetgen, spec, c, h, w):
    proc = subprocess.run([unetgen, "check", spec, "--json", "--size", f"{c}x{h}x{w}"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    report = json.loads(proc.stdout) if proc.returncode == 0 else None
    return proc.returncode, report, proc.stderr


def reference_weights(model, c, h, w):
    """(module_kind, field, shape) of every tensor, modules in the order forward runs them."""
    order = []
    hooks = [m.register_forward_hook(lambda mod, inp, out: order.append(mod))
             for m in model.modules() if type(m) in KINDS]
    with torch.no_grad():
        out = model(torch.zeros(1, c, h, w))
    for hk in hooks:
        hk.remove()
    seen, tensors = set(), []
    for m in order:
        if id(m) in seen:
            continue
        seen.add(id(m))
        kind = KINDS[type(m)]
        if kind in ("InstanceNorm2d", "GroupNorm") and m.weight is None:
            continue  # a norm without affine has no tensors
        fields = ["weight", "bias", "running_mean", "running_var"] if kind == "BatchNorm2d" else \
            ["weight"] + (["bias"] if getattr(m, "bias", None) is not None else [])
        tensors += [(kind, f, list(getattr(m, f).shape)) for f in fields]
    return tensors, list(out.shape[1:])


def forward_raises(model, c, h, w):
    try:
        with torch.no_grad():
            model(torch.zeros(1, c, h, w))
        return False
    except (RuntimeError, ValueError):  # ValueError: a norm over a single pixel
        return True


def check_spec(args, failures, spec_name, make_model, in_channels, sizes, rejected=()):
    spec = os.path.join(args.specs, spec_name)
    model = make_model().eval()
    params = sum(p.numel() for p in model.parameters())

    def fail(msg):
        failures.append(f"{spec_name}: {msg}")

    for (h, w) in sizes:
        rc, report, err = run_check(args.unetgen, spec, in_channels, h, w)
        if rc != 0:
            fail(f"{h}x{w}: unetgen check exited {rc}: {err.strip()}")
            continue
        if report["params"] != params:
            fail(f"params {report['params']} != PyTorch {params}")
        ref_tensors, ref_shape = reference_weights(model, in_channels, h, w)
        if report["output_shape"] != ref_shape:
            fail(f"{h}x{w}: output_shape {report['output_shape']} != PyTorch {ref_shape}")
        if report["input_shape"] != [in_channels, h, w]:
            fail(f"{h}x{w}: input_shape {report['input_shape']}")
        ours = []
        for t in report["weights"]:
            if not t["name"].startswith(t["module"] + "."):
                fail(f"weight {t['name']} is not named after its module {t['module']}")
            ours.append((t["module_kind"], t["name"][len(t["module"]) + 1:], t["shape"]))
        if ours != ref_tensors:
            first = next((i for i, (a, b) in enumerate(zip(ours, ref_tensors)) if a != b),
                         min(len(ours), len(ref_tensors)))
            fail(f"weights differ from the reference's run order at #{first}: "
                 f"{ours[first:first + 1]} vs {ref_tensors[first:first + 1]} "
                 f"({len(ours)} vs {len(ref_tensors)} tensors)")
        # One module name per module: a module's tensors are contiguous and its name never returns.
        modules = [t["module"] for t in report["weights"]]
        runs = [m for i, m in enumerate(modules) if i == 0 or modules[i - 1] != m]
        if len(runs) != len(set(runs)):
            fail("a module's tensors are not contiguous in `weights`")

    for (h, w) in rejected:
        rc, _, err = run_check(args.unetgen, spec, in_channels, h, w)
        raises = forward_raises(model, in_channels, h, w)
        if raises and rc != 2:
            fail(f"{h}x{w}: PyTorch raises but unetgen check exited {rc}")
        if not raises and rc != 0:
            fail(f"{h}x{w}: PyTorch runs but unetgen check exited {rc}: {err.strip()}")
        if rc == 2 and "cannot" not in err:
            fail(f"{h}x{w}: rejection without a 'cannot ...' message: {err.strip()}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--unetgen", required=True)
    ap.add_argument("--specs", required=True)
    ap.add_argument("--reference", required=True)
    args = ap.parse_args()
    sys.path.insert(0, args.reference)
    import example_networks as m
    torch.set_num_threads(2)
    torch.manual_seed(0)

    failures = []
    # (spec, model, input channels, accepted sizes (H, W), sizes to compare acceptance on)
    check_spec(args, failures, "crop_sigmoid.unet", lambda: m.UNet000(), 3, [(64, 64), (67, 45)],
               [(7, 16), (8, 8), (15, 15)])
    check_spec(args, failures, "milesial_transposed.unet", lambda: m.UNet001(3, 1, bilinear=False), 3,
               [(32, 32), (37, 45)], [(15, 16), (16, 16), (17, 17)])
    check_spec(args, failures, "milesial_bilinear.unet", lambda: m.UNet001(3, 1, bilinear=True), 3,
               [(32, 32), (41, 35)], [(15, 15), (16, 17)])
    check_spec(args, failures, "plain.unet", lambda: m.UNet002(1, 2), 1, [(32, 32), (48, 16)],
               [(16, 16), (24, 24), (31, 32), (33, 33), (40, 32), (32, 17)])
    check_spec(args, failures, "small.unet", lambda: m.UNet003Small(), 3, [(16, 16), (24, 40)],
               [(8, 8), (12, 16), (15, 15), (20, 20), (30, 24), (17, 16), (7, 8)])
    check_spec(args, failures, "large.unet", lambda: m.UNet003Large(), 3, [(16, 16), (24, 32)],
               [(20, 16), (8, 8)])
    check_spec(args, failures, "ronneberger2015.unet", lambda: m.UNet004(1, 2), 1, [(572, 572), (189, 204)],
               [(140, 140), (187, 188), (188, 188)])
    check_spec(args, failures, "nnunet_plain.unet", lambda: m.NnUNetPlain(1, 3), 1, [(64, 64), (96, 160)],
               [(63, 64), (48, 48), (80, 72)])
    check_spec(args, failures, "attention_unet.unet", lambda: m.AttentionUNet(3, 1), 3, [(64, 64), (96, 160)],
               [(56, 64), (64, 40), (24, 24)])
    check_spec(args, failures, "monai_resunet.unet", lambda: m.MonaiResUNet(1, 2), 1, [(64, 64), (96, 160)],
               [(56, 64), (48, 40), (16, 16)])
    check_spec(args, failures, "monai_basic.unet", lambda: m.MonaiBasicUNet(1, 2), 1, [(64, 64), (100, 75), (17, 33)],
               [(15, 16), (16, 16), (31, 17)])

    # The two counts the brief states outright, in case the reference models ever drift.
    for spec, expected in [("milesial_transposed.unet", 31037633), ("small.unet", 63972)]:
        rc, report, err = run_check(args.unetgen, os.path.join(args.specs, spec), 3, 64, 64)
        if rc != 0 or report["params"] != expected:
            failures.append(f"{spec}: expected {expected} params, got {report and report['params']} ({err.strip()})")

    for f in failures:
        print("FAIL:", f)
    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
