#!/usr/bin/python3
"""Exporter test: UNet003Small (seed 003) exported for examples/specs/small.unet.

The canonical list of small.unet is written out below by hand from docs/architecture.md, and the
mapping from the seed model's attribute names to it is written by hand too, so the test checks the
exporter's hook-based matching against an independent account of both sides. When `unetgen check
--json` works, its list must equal the hand-written one and the export is repeated through it.
The hand-written list must equal what `unetgen check --json` prints. Also: --state-dict round trip,
--random-weights gives non-trivial BN statistics, and mismatched models (UNet002 for small.unet; a
module too many) fail with messages naming both sides. tests/export covers the verification.
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
EXPORTER = os.path.join(REPO, "tools", "export_pytorch.py")
SPEC = os.path.join(REPO, "examples", "specs", "small.unet")
# The project's references of the example networks.
MODELS = os.path.join(REPO, "examples", "pytorch", "example_networks.py")

import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(MODELS))
import example_networks  # noqa: E402
sys.path.insert(0, os.path.join(REPO, "python"))
from unetgen.torch import randomize_, read_safetensors  # noqa: E402

# small.unet: conv units (conv+bias, BN) per level 4/8/32/64, transposed convs k3, decoder 32/8/16, 32 classes.
SMALL_UNITS = [("enc0", 3, 4), ("enc1", 4, 8), ("enc2", 8, 32), ("enc3", 32, 64)]
SMALL_DEC = [("up2", "dec2", 64, 32, 32), ("up1", "dec1", 32, 8, 8), ("up0", "dec0", 8, 4, 16)]


def small_weights():
    w = []

    def conv_unit(level, i, o):
        w.append({"name": level + ".conv0.weight", "shape": [o, i, 3, 3], "module": level + ".conv0", "module_kind": "Conv2d"})
        w.append({"name": level + ".conv0.bias", "shape": [o], "module": level + ".conv0", "module_kind": "Conv2d"})
        for t in ("weight", "bias", "running_mean", "running_var"):
            w.append({"name": "%s.bn0.%s" % (level, t), "shape": [o], "module": level + ".bn0", "module_kind": "BatchNorm2d"})

    for level, i, o in SMALL_UNITS:
        conv_unit(level, i, o)
    for up, dec, i, o, dec_out in SMALL_DEC:
        w.append({"name": up + ".weight", "shape": [i, o, 3, 3], "module": up, "module_kind": "ConvTranspose2d"})
        w.append({"name": up + ".bias", "shape": [o], "module": up, "module_kind": "ConvTranspose2d"})
        conv_unit(dec, 2 * o, dec_out)
    w.append({"name": "head.weight", "shape": [32, 16, 1, 1], "module": "head", "module_kind": "Conv2d"})
    w.append({"name": "head.bias", "shape": [32], "module": "head", "module_kind": "Conv2d"})
    return w


# seed attribute prefix -> canonical module (written from the seed's forward(), not from the exporter)
SEED_TO_CANONICAL = {
    "enc1.0": "enc0.conv0", "enc1.1": "enc0.bn0", "enc2.1": "enc1.conv0", "enc2.2": "enc1.bn0",
    "enc3.1": "enc2.conv0", "enc3.2": "enc2.bn0", "bneck.1": "enc3.conv0", "bneck.2": "enc3.bn0",
    "upconv3": "up2", "dec3.0": "dec2.conv0", "dec3.1": "dec2.bn0", "upconv2": "up1", "dec2.0": "dec1.conv0",
    "dec2.1": "dec1.bn0", "upconv1": "up0", "dec1.0": "dec0.conv0", "dec1.1": "dec0.bn0", "conv": "head",
}


def run_exporter(*args):
    proc = subprocess.run([sys.executable, EXPORTER, "--spec", SPEC, "--module", MODELS] + list(args),
                          capture_output=True, text=True)
    return proc.returncode, proc.stdout + proc.stderr


def expect(cond, what):
    if not cond:
        raise AssertionError(what)
    print("ok  ", what)


def check_export(path, model, order):
    tensors = read_safetensors(path)  # in file order
    names = list(tensors)
    expect(names == [w["name"] for w in small_weights()], "tensors come in canonical order: " + str(len(names)))
    sd = model.state_dict()
    for key, value in sd.items():
        prefix, attr = key.rsplit(".", 1)
        if attr == "num_batches_tracked":
            continue
        canon = SEED_TO_CANONICAL[prefix] + "." + attr
        if not torch.equal(tensors[canon], value):
            raise AssertionError("%s (model %s) differs" % (canon, key))
    expect(True, "every state_dict tensor landed under its canonical name, bit for bit (%s)" % order)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--unetgen", required=True)
    ap.add_argument("--workdir", default="export_test")
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    proc = subprocess.run([args.unetgen, "check", SPEC, "--json"], capture_output=True, text=True)
    expect(proc.returncode == 0, "unetgen check --json runs on small.unet")
    real = [{k: w[k] for k in ("name", "shape", "module", "module_kind")} for w in json.loads(proc.stdout)["weights"]]
    expect(real == small_weights(), "`unetgen check --json` lists the canonical weights of docs/architecture.md")

    # 1. random weights
    out = os.path.join(args.workdir, "small.safetensors")
    rc, log = run_exporter("--model", "UNet003Small(3, 32)", "--out", out, "--unetgen", args.unetgen,
                           "--random-weights", "5")
    expect(rc == 0, "export of UNet003Small succeeds: " + log.strip())
    model = example_networks.UNet003Small(3, 32)
    randomize_(model, 5)
    check_export(out, model, "randomized")
    tensors = read_safetensors(out)
    rv, rm, g = tensors["enc2.bn0.running_var"], tensors["enc2.bn0.running_mean"], tensors["enc2.bn0.weight"]
    expect(not torch.allclose(rv, torch.ones_like(rv)) and rv.min() > 0, "running_var is non-trivial and positive")
    expect(rm.abs().max() > 0.01 and not torch.allclose(g, torch.ones_like(g)), "running_mean and gamma are non-trivial")

    # 2. a checkpoint round trip
    ckpt = os.path.join(args.workdir, "small.pt")
    trained = example_networks.UNet003Small(3, 32)
    randomize_(trained, 9)
    torch.save({"state_dict": trained.state_dict()}, ckpt)
    out2 = os.path.join(args.workdir, "small_ckpt.safetensors")
    rc, log = run_exporter("--model", "UNet003Small(3, 32)", "--state-dict", ckpt, "--out", out2, "--unetgen", args.unetgen)
    expect(rc == 0, "export from a checkpoint succeeds")
    check_export(out2, trained, "from checkpoint")

    # 3. mismatches name both sides
    rc, log = run_exporter("--model", "UNet002(1, 2)", "--out", os.path.join(args.workdir, "bad.safetensors"),
                           "--unetgen", args.unetgen, "--random-weights", "1")
    expect(rc == 1 and "module #1 is Conv2d 'enc.0.0' with weight [64, 1, 3, 3], the spec expects enc0.conv0 [4, 3, 3, 3]"
           in log, "UNet002 for small.unet is refused naming both sides: " + log.strip().splitlines()[-1])
    rc, log = run_exporter("--model", "torch.nn.Sequential(UNet003Small(3, 32), torch.nn.Conv2d(32, 32, 1))",
                           "--out", os.path.join(args.workdir, "bad2.safetensors"), "--unetgen", args.unetgen,
                           "--random-weights", "1")
    expect(rc == 1 and "the model runs 19 Conv2d/ConvTranspose2d/BatchNorm2d modules, the spec expects 18; "
           "the first extra is module #19, Conv2d '1'" in log, "an extra module is reported: " + log.strip().splitlines()[-1])
    expect(not os.path.exists(os.path.join(args.workdir, "bad2.safetensors")), "a refused export writes no file")
    return 0


if __name__ == "__main__":
    sys.exit(main())
