#!/usr/bin/python3
"""spec_from_pytorch: specs written from modules are the networks the modules compute.

  - the example networks (examples/pytorch/example_networks.py SPEC_MODELS, the project's references)
    give specs whose layers (ops, widths, kernels, paddings, norms, skips, output shapes)
    and parameter counts equal those of examples/specs/, and which verify against the modules;
  - modules in other styles (tools/train_demo.py's CoinsUNet, tests/export/variant_models.py's
    functional TinyUNet and variants of it, InstanceNorm and GroupNorm ones with and without affine
    parameters, ELU and GELU ones, dilated (2), reflect- and replicate-padded and average-pooling ones
    among them: `block act = elu | gelu`, `dilation = 2`, `padding_mode`, `down mode = avgpool`) give the
    spec they implement, through the CLI;
  - nnU-Net's PlainConvUNet at reduced widths (../shared/reference/modern_models.py NnUNetPlain2d, where
    that folder is beside the checkout; skipped with a note otherwise) gives `down mode = conv`,
    `skip order = up_first` and an affine InstanceNorm with LeakyReLU(0.01): the network of the
    examples-style nnunet_tiny spec;
  - Oktay et al.'s Attention U-Net at reduced widths (examples/pytorch/modern_networks.py AttentionUNet, and
    ../shared's AttentionUNet2d where that folder is there) gives `skip gate = attention`, bilinear
    align_corners = false, BatchNorm: the network of the examples-style attention_tiny spec (gating conv,
    gates on levels 1 and 2, not 0);
  - MONAI's UNet with residual units at reduced widths (examples/pytorch/modern_networks.py MonaiResUNet, and
    ../shared's MonaiResUNet2d where that folder is there) gives `block residual = monai, act = prelu`,
    `down levels = above_bottom`, `decoder order = merge_then_up`, `up norm = true`, `output head = none`:
    the network of the examples-style monai_tiny spec (the seeds above include the full-size monai_resunet);
  - modules the language cannot express are refused naming the construct, and no file is written.
"""
import argparse
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
TOOL = os.path.join(REPO, "tools", "spec_from_pytorch.py")
VARIANTS = os.path.join(HERE, "variant_models.py")
MODERN = os.path.join(REPO, "examples", "pytorch", "modern_networks.py")  # AttentionUNet
REFERENCE = os.path.join(REPO, "examples", "pytorch", "example_networks.py")
sys.path[:0] = [os.path.join(REPO, "python"), HERE]

import torch  # noqa: E402

import variant_models  # noqa: E402
from unetgen import spec as spec_mod  # noqa: E402
from unetgen.torch import spec_from_module  # noqa: E402

failures = []


def expect(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def layers(ir, ignore=()):
    """The IR layers without what only says where the text stood (and the keys in IGNORE)."""
    return [{k: v for k, v in l.items() if k != "line" and k not in ignore} for l in ir.layers]


def test_seeds(unetgen):
    # run as the module it is: it finds its sibling files (modern_networks.py) through __file__
    namespace = {"__file__": REFERENCE, "__name__": "example_networks"}
    with open(REFERENCE) as f:
        exec(compile(f.read(), REFERENCE, "exec"), namespace)
    for name, expr in namespace["SPEC_MODELS"].items():
        t0 = time.time()
        model = eval(expr, namespace)
        text, ir, report = spec_from_module(model, name=name, unetgen=unetgen)
        want = spec_mod.load(os.path.join(REPO, "examples", "specs", name + ".unet"), unetgen)
        same = layers(ir) == layers(want)
        expect(same and ir.data["params"] == want.data["params"] and ir.data["output_shape"] == want.data["output_shape"],
               "%s from %s: the layers of examples/specs/%s.unet, %d params, verified on %s (%.1f s)%s"
               % (name, expr, name, ir.data["params"], [s for s, _, _, _ in report], time.time() - t0,
                  "" if same else ":\n" + text))


def cli(work, unetgen, expr, module=VARIANTS, out="gen.unet"):
    path = os.path.join(work, out)
    if os.path.exists(path):
        os.remove(path)
    p = subprocess.run([sys.executable, TOOL, "--module", module, "--model", expr, "-o", path, "--unetgen", unetgen],
                       capture_output=True, text=True)
    return p.returncode, (p.stdout + p.stderr).strip(), path


def test_styles(work, unetgen):
    rc, log, path = cli(work, unetgen, "CoinsUNet()", module=os.path.join(REPO, "tools", "train_demo.py"), out="coins.unet")
    ok = rc == 0 and layers(spec_mod.load(path, unetgen), ignore=("activation",)) == \
        layers(spec_mod.load(os.path.join(REPO, "models", "coins.unet"), unetgen), ignore=("activation",))
    expect(ok, "CoinsUNet (tools/train_demo.py) gives models/coins.unet's network (it returns logits): " + log)
    for switches, settings in [({}, {}), ({"up": "nearest"}, {"up": "nearest"}), ({"skip": "up_first"}, {"skip": "up_first"}),
                               ({"norm": "none"}, {"norm": "none"}), ({"order": "relu_norm"}, {"order": "conv_relu_norm"}),
                               ({"out_act": "sigmoid"}, {"activation": "sigmoid"}),
                               ({"act": "leaky"}, {"act": "leaky_relu"}), ({"down": "strided"}, {"down": "conv"}),
                               ({"norm": "instance"}, {"norm": "instance", "affine": True}),
                               ({"norm": "instance", "affine": False}, {"norm": "instance"}),
                               ({"norm": "group"}, {"norm": "group", "groups": 2}),
                               ({"norm": "group", "affine": False, "groups": 1}, {"norm": "group", "groups": 1,
                                                                                  "affine": False}),
                               ({"norm": "instance", "order": "relu_norm", "eps": 1e-3},
                                {"norm": "instance", "affine": True, "order": "conv_relu_norm", "eps": 1e-3}),
                               ({"act": "elu"}, {"act": "elu"}), ({"act": "gelu"}, {"act": "gelu"}),
                               ({"dilation": 2}, {"dilation": 2}),
                               ({"pad_mode": "reflect"}, {"padding_mode": "reflect"}),
                               ({"pad_mode": "replicate"}, {"padding_mode": "replicate"}),
                               ({"down": "avg"}, {"down": "avgpool"}),
                               ({"act": "gelu", "dilation": 2, "pad_mode": "reflect", "down": "avg"},
                                {"act": "gelu", "dilation": 2, "padding_mode": "reflect", "down": "avgpool"})]:
        expr = "TinyUNet(%s)" % ", ".join("%s=%r" % kv for kv in switches.items())
        want_path = os.path.join(work, "want.unet")
        with open(want_path, "w") as f:
            f.write(variant_models.tiny_spec(**settings))
        rc, log, path = cli(work, unetgen, expr)
        ok = rc == 0 and layers(spec_mod.load(path, unetgen)) == layers(spec_mod.load(want_path, unetgen))
        expect(ok, "%s gives the spec it implements (%s): %s" % (expr, settings or "the tiny spec", log))
    for switches, fragment in [({"residual": True}, "an add of two tensors"),
                               ({"norm": "instance_running"}, "an InstanceNorm with running statistics"),
                               ({"norm": "lrn"}, "a normalisation other than BatchNorm, InstanceNorm and GroupNorm"),
                               ({"act": "elu_half"}, "an ELU with alpha 0.5"),
                               ({"act": "gelu_tanh"}, "GELU's 'tanh' approximation"),
                               ({"pad_mode": "circular"}, "a conv with padding_mode 'circular'")]:
        expr = "TinyUNet(%s)" % ", ".join("%s=%r" % kv for kv in switches.items())
        rc, log, path = cli(work, unetgen, expr)
        expect(rc == 1 and fragment in log and "cannot write a spec" in log and not os.path.exists(path),
               "%s is refused naming %r, no file: %s" % (expr, fragment, log.splitlines()[-1] if log else ""))


def test_nnunet(work, unetgen, references):
    module = variant_models.modern_models(references)
    if module is None:
        return
    rc, log, path = cli(work, unetgen, variant_models.NNUNET_TINY_MODEL, module=module, out="nnunet_tiny.unet")
    text = open(path).read() if rc == 0 else ""
    want_path = os.path.join(work, "nnunet_want.unet")
    with open(want_path, "w") as f:
        f.write(variant_models.NNUNET_TINY_SPEC)
    same = rc == 0 and layers(spec_mod.load(path, unetgen)) == layers(spec_mod.load(want_path, unetgen))
    settings = ["down    mode = conv", "skip    order = up_first", "norm = instance", "affine = true",
                "act = leaky_relu", "slope = 0.01"]
    missing = [s for s in settings if s not in text]
    expect(same and not missing, "%s gives nnunet_tiny's network (%s): %s%s" % (
        variant_models.NNUNET_TINY_MODEL, ", ".join(settings), log, "" if not missing else
        ": missing %s in\n%s" % (missing, text)))


def test_attention(work, unetgen, references):
    want_path = os.path.join(work, "attention_want.unet")
    with open(want_path, "w") as f:
        f.write(variant_models.ATTENTION_TINY_SPEC)
    want = layers(spec_mod.load(want_path, unetgen))
    expr = variant_models.ATTENTION_TINY_MODEL
    modules = [(MODERN, expr)]
    shared = os.path.join(references, "modern_models.py")
    if os.path.exists(shared):
        modules.append((shared, expr.replace("AttentionUNet(", "AttentionUNet2d(")))
    else:
        print("skip: no %s: AttentionUNet2d is left out" % shared)
    for module, model in modules:
        rc, log, path = cli(work, unetgen, model, module=module, out="attention_tiny.unet")
        text = open(path).read() if rc == 0 else ""
        settings = ["skip    order = skip_first, match = exact, gate = attention", "norm = batchnorm",
                    "up      mode = bilinear, align_corners = false", "encoder channels = [8, 16, 24, 32]"]
        missing = [s for s in settings if s not in text]
        got = layers(spec_mod.load(path, unetgen)) if rc == 0 else None
        expect(got == want and not missing, "%s (%s) gives attention_tiny's network (%s): %s%s" % (
            model, os.path.basename(module), ", ".join(settings), log, "" if not missing else
            ": missing %s in\n%s" % (missing, text)))


def test_monai_resunet(work, unetgen, references):
    """MONAI's UNet with residual units at reduced widths (MonaiResUNet, and ../shared's MonaiResUNet2d where that
    folder is there) gives monai_tiny's network, with the settings that make it MONAI's."""
    want_path = os.path.join(work, "monai_want.unet")
    with open(want_path, "w") as f:
        f.write(variant_models.MONAI_TINY_SPEC)
    want = layers(spec_mod.load(want_path, unetgen))
    expr = variant_models.MONAI_TINY_MODEL
    modules = [(MODERN, expr)]
    shared = os.path.join(references, "modern_models.py")
    if os.path.exists(shared):
        modules.append((shared, expr.replace("MonaiResUNet(", "MonaiResUNet2d(")))
    else:
        print("skip: no %s: MonaiResUNet2d is left out" % shared)
    settings = ["residual = monai", "act = prelu", "norm = instance, affine = false", "levels = above_bottom",
                "order = merge_then_up", "channels = [8, 3], norm = true", "head = none",
                "skip    order = skip_first, match = exact"]
    for module, model in modules:
        rc, log, path = cli(work, unetgen, model, module=module, out="monai_tiny.unet")
        text = open(path).read() if rc == 0 else ""
        missing = [s for s in settings if s not in text]
        got = layers(spec_mod.load(path, unetgen)) if rc == 0 else None
        expect(got == want and not missing, "%s (%s) gives monai_tiny's network (%s): %s%s" % (
            model, os.path.basename(module), ", ".join(settings), log, "" if not missing else
            ": missing %s in\n%s" % (missing, text)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--unetgen", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--references", default=os.path.join(REPO, "..", "shared", "reference"),
                    help="the folder of modern_models.py (the nnU-Net and AttentionUNet2d checks are skipped "
                    "without it)")
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    torch.set_num_threads(2)
    test_styles(args.workdir, args.unetgen)
    test_nnunet(args.workdir, args.unetgen, args.references)
    test_attention(args.workdir, args.unetgen, args.references)
    test_monai_resunet(args.workdir, args.unetgen, args.references)
    test_seeds(args.unetgen)
    print("%d failed" % len(failures) if failures else "all passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
