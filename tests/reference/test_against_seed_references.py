#!/usr/bin/python3
"""The project's PyTorch references (examples/pytorch/example_networks.py) against the seed
reference models (../shared/reference/seed_models.py), where that folder is beside the checkout.

For each of the six classes (seven specs): the same state_dict names and shapes, and, with the
same random weights and non-trivial BatchNorm statistics loaded into both, the same outputs at two
sizes (bit for bit expected; bound 1e-6 x max(1, max|out|)). Likewise examples/pytorch/modern_networks.py
against ../shared/reference/modern_models.py (nnU-Net, MONAI BasicUNet, Attention U-Net) at default and
other widths, when that file is there. Exit 77 (CTest: skipped) when the seed references are absent:
the repository's own tests then rest on example_networks.py alone.

usage: test_against_seed_references.py [--seed-references DIR]
"""
import argparse
import importlib.util
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "examples", "pytorch"))
import example_networks as ours  # noqa: E402

CASES = [  # (constructor expression, input channels, sizes)
    ("UNet000(3)", 3, [(64, 64), (48, 80)]),
    ("UNet001(3, 1, bilinear=False)", 3, [(64, 64), (61, 77)]),
    ("UNet001(3, 1, bilinear=True)", 3, [(48, 48), (57, 70)]),
    ("UNet002(1, 2)", 1, [(64, 64), (48, 80)]),
    ("UNet003Small(3, 32)", 3, [(64, 64), (40, 56)]),
    ("UNet003Large(3, 256)", 3, [(32, 32), (48, 40)]),
    ("UNet004(1, 2)", 1, [(188, 188), (188, 204)]),
]
# examples/pytorch/modern_networks.py against ../shared/reference/modern_models.py: (ours, theirs, ...)
MODERN_CASES = [
    ("NnUNetPlain(1, 3)", "NnUNetPlain2d(1, 3)", 1, [(64, 64), (96, 160)]),
    ("NnUNetPlain(2, 4, features=(8, 16, 24, 32), convs=3, dec_convs=1)",
     "NnUNetPlain2d(2, 4, features=(8, 16, 24, 32), n_conv_per_stage=3, n_conv_per_stage_decoder=1)", 2, [(48, 80)]),
    ("MonaiBasicUNet(1, 2)", "MonaiBasicUNet2d(1, 2)", 1, [(64, 64), (100, 75), (17, 33)]),
    ("MonaiBasicUNet(3, 5, features=(8, 16, 16, 24, 40, 12))", "MonaiBasicUNet2d(3, 5, features=(8, 16, 16, 24, 40, 12))",
     3, [(51, 77)]),
    ("AttentionUNet(3, 1)", "AttentionUNet2d(3, 1)", 3, [(64, 64), (96, 160)]),
    ("AttentionUNet(1, 3, features=(8, 16, 24, 32))", "AttentionUNet2d(1, 3, features=(8, 16, 24, 32))", 1,
     [(48, 80), (24, 40)]),
    ("MonaiResUNet(1, 2)", "MonaiResUNet2d(1, 2)", 1, [(64, 64), (96, 160)]),
    ("MonaiResUNet(3, 4, channels=(8, 16, 24), strides=(2, 2), num_res_units=3)",
     "MonaiResUNet2d(3, 4, channels=(8, 16, 24), strides=(2, 2), num_res_units=3)", 3, [(32, 48)]),
]


def randomise(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=g) * 1.5 + 0.5)
            elif name.endswith("num_batches_tracked"):
                continue
            elif name.endswith("running_mean"):
                t.copy_(torch.randn(t.shape, generator=g) * 0.2)
            else:
                fan = t[0].numel() if t.dim() > 1 else 1
                t.copy_((torch.rand(t.shape, generator=g) * 2 - 1) * (3.0 / fan) ** 0.5)
    return model.eval()


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seed-references", default=os.path.join(REPO, "..", "shared", "reference"))
    args = ap.parse_args()
    path = os.path.join(args.seed_references, "seed_models.py")
    if not os.path.exists(path):
        print("skip: no seed references at %s" % path)
        return 77
    spec = importlib.util.spec_from_file_location("seed_models", path)
    seeds = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(seeds)
    torch.set_num_threads(2)
    modern = None
    modern_path = os.path.join(args.seed_references, "modern_models.py")
    if os.path.exists(modern_path):
        spec = importlib.util.spec_from_file_location("modern_models", modern_path)
        modern = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(modern)
    else:
        print("note: no modern references at %s; checking the seeds only" % modern_path)
    pairs = [(expr, vars(ours), expr, vars(seeds), channels, sizes) for expr, channels, sizes in CASES]
    if modern is not None:
        pairs += [(mine, vars(ours), theirs, vars(modern), channels, sizes) for mine, theirs, channels, sizes in MODERN_CASES]
    failed = 0
    for k, (expr, ours_ns, theirs_expr, theirs_ns, channels, sizes) in enumerate(pairs):
        mine = randomise(eval(expr, ours_ns), 100 + k)
        theirs = eval(theirs_expr, theirs_ns).eval()
        a, b = mine.state_dict(), theirs.state_dict()
        same_names = list(a) == list(b) and all(a[n].shape == b[n].shape for n in a)
        if not same_names:
            print("FAIL %s: state_dict differs: ours %d tensors, seeds' %d; first difference %s" %
                  (expr, len(a), len(b), next((x for x in zip(a, b) if x[0] != x[1]), None)))
            failed += 1
            continue
        theirs.load_state_dict(a, strict=True)
        for h, w in sizes:
            x = torch.randn(1, channels, h, w, generator=torch.Generator().manual_seed(h * 1000 + w))
            with torch.no_grad():
                y1, y2 = mine(x), theirs(x)
            err = float((y1 - y2).abs().max()) if y1.shape == y2.shape else float("inf")
            bound = 1e-6 * max(1.0, float(y2.abs().max()))
            ok = err <= bound
            failed += not ok
            print("%s %-32s %dx%d -> %s: max|diff| %.3g (bound %.3g)" % ("ok  " if ok else "FAIL", expr, h, w,
                                                                       tuple(y2.shape), err, bound))
    if failed:
        print("%d check(s) failed" % failed)
        return 1
    print("the project's references equal the seed references")
    return 0


if __name__ == "__main__":
    sys.exit(main())
