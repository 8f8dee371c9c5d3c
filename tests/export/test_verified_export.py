#!/usr/bin/python3
"""Verified export: every way a module can differ from its spec is refused, pointing at the difference.

Through tools/export_pytorch.py as a user runs it, on TinyUNet (variant_models.py: a U-Net in its own
style with switches for each difference) against the tiny spec it implements:
  - each mismatch (LeakyReLU, strided-conv downsampling, InstanceNorm / GroupNorm for norm = none,
    swapped skip order, nearest for bilinear, an extra residual add, a missing ReLU, a sigmoid inside,
    BN after the ReLU, a sigmoid output for activation = none) exits 1 with a message naming the first
    differing layer and what the module does there, and writes no file;
  - so does each module whose ELU / GELU, dilated convs (dilation 2), reflect / replicate padding or
    average pools differ from its spec (either way round), with the setting that would match (`block act
    = elu | gelu | relu`, `block dilation = 2 | 1`, `block padding_mode = reflect | replicate | zeros`,
    `down mode = avgpool | maxpool`); what the language lacks (ELU with alpha 0.5, GELU's tanh form,
    circular padding) is named as such; each exports, verified, against the spec with the setting;
  - so does each norm mismatch, naming the conv unit and the `block` setting that would match: affine
    or not, GroupNorm groups, eps, before or after the activation, InstanceNorm for batchnorm and back,
    GroupNorm for instance, no norm for instance; norms the language lacks (an InstanceNorm with running
    statistics, LocalResponseNorm) are named as such;
  - equivalent modules (dropout in eval, a final sigmoid for activation = sigmoid; InstanceNorm with and
    without affine parameters for norm = instance, GroupNorm for norm = group with its groups, a norm
    after the ReLU with another eps) export, and the file holds the module's tensors under canonical names;
  - nnU-Net's PlainConvUNet at reduced widths (../shared/reference/modern_models.py NnUNetPlain2d, where
    that folder is beside the checkout; skipped with a note otherwise) exports verified against its spec;
  - Oktay et al.'s Attention U-Net at reduced widths (examples/pytorch/modern_networks.py AttentionUNet,
    and ../shared's AttentionUNet2d where that folder is there) exports verified against the spec with
    `skip gate = attention`, the file holding its tensors; against the same spec without the gate it is
    refused at the first differing module (its gating conv) with `skip gate = attention` and the spec's
    `skip` line, and a module without gates is refused against the gated spec;
  - MONAI's UNet with residual units at reduced widths (MonaiResUNet, and ../shared's MonaiResUNet2d where
    that folder is there) exports verified against its spec (residual = monai, act = prelu, down levels
    = above_bottom, decoder order = merge_then_up, up norm = true, output head = none); against the spec
    with act = relu, without the residual units or without up norm it is refused naming the setting;
  - checkpoints as people save them: plain state dict, a whole module pickled from a script
    (__main__ classes), a Lightning-style dict with 'model.' prefixes, DataParallel 'module.'; and no
    --state-dict without --random-weights is refused.
Through the API: from_spec() has the canonical names in order, and a module trained from it exports
with no mapping, for batchnorm, instance (affine or not: a non-affine norm has a module but no tensors)
and group specs, and for a gated one (attention gates' convs, sums and products in IR order, BatchNorms
under att{l}.w.bn / att{l}.combine.bn / gating.bn), and for MONAI's UNet (shortcut convs, PReLUs, norms
after the transposed convs, no head); the bundled trained coins model, moved into
tools/train_demo.py's own CoinsUNet class, exports bit for bit to models/coins.safetensors.
"""
import argparse
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
EXPORTER = os.path.join(REPO, "tools", "export_pytorch.py")
VARIANTS = os.path.join(HERE, "variant_models.py")
MODERN = os.path.join(REPO, "examples", "pytorch", "modern_networks.py")  # AttentionUNet
sys.path[:0] = [os.path.join(REPO, "python"), HERE, os.path.join(REPO, "tools")]

import torch  # noqa: E402

import variant_models  # noqa: E402
from unetgen import spec as spec_mod  # noqa: E402
from unetgen.torch import check_module, from_spec, randomize_, read_safetensors  # noqa: E402

failures = []


def expect(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def exporter(*args):
    p = subprocess.run([sys.executable, EXPORTER] + list(args), capture_output=True, text=True)
    return p.returncode, (p.stdout + p.stderr).strip()


# (switches of TinyUNet, settings of the spec, fragments the refusal must contain)
REFUSED = [
    ({"act": "leaky"}, {}, ["enc0.conv1", "leaky_relu(negative_slope=0.01)", "LeakyReLU 'stem.0.act'",
                            "set `block act = leaky_relu, slope = 0.01`"]),
    ({}, {"act": "leaky_relu"}, ["enc0.conv1", "set `block act = relu`"]),
    ({"down": "strided"}, {}, ["enc1.conv0", "stride=2", "the spec runs max_pool2d", "set `down mode = conv`",
                               "`down    mode = maxpool`"]),
    ({}, {"down": "conv"}, ["enc1.conv0", "`down    mode = conv`"]),
    ({"norm": "instance"}, {"norm": "none"}, ["conv unit enc0.conv0", "InstanceNorm2d 'stem.0.norm'",
                                              "instance_norm(affine=True", "where the spec has `norm = none`",
                                              "set `block norm = instance, affine = true`"]),
    ({"norm": "group"}, {"norm": "none"}, ["conv unit enc0.conv0", "GroupNorm 'stem.0.norm'", "group_norm",
                                           "set `block norm = group, groups = 2, affine = true`"]),
    ({"norm": "instance", "affine": False}, {"norm": "none"}, ["conv unit enc0.conv0", "instance_norm(affine=False",
                                                               "set `block norm = instance, affine = false`"]),
    # the norm differs from the spec's in one setting: the conv unit, the spec's norm module, the setting
    ({"norm": "instance"}, {"norm": "instance", "affine": False},
     ["conv unit enc0.conv0", "the spec's norm module enc0.norm0", "`norm = instance, affine = false, eps = 1e-05",
      "set `block norm = instance, affine = true`"]),
    ({"norm": "instance", "affine": False}, {"norm": "instance", "affine": True},
     ["conv unit enc0.conv0", "enc0.norm0", "instance_norm(affine=False",
      "set `block norm = instance, affine = false`"]),
    ({"norm": "group"}, {"norm": "group", "groups": 1},
     ["conv unit enc0.conv0", "enc0.norm0", "num_groups=2", "`norm = group, groups = 1, affine = true",
      "set `block groups = 2`"]),
    ({"norm": "instance", "eps": 1e-3}, {"norm": "instance", "affine": True},
     ["conv unit enc0.conv0", "instance_norm(affine=True, eps=0.001)", "set `block eps = 0.001`"]),
    ({"norm": "instance", "affine": False, "order": "relu_norm"}, {"norm": "instance"},
     ["conv unit enc0.conv0", "after the activation", "set `block order = conv_relu_norm`"]),
    ({"norm": "instance"}, {}, ["conv unit enc0.conv0", "the spec's norm module enc0.bn0", "`norm = batchnorm",
                                "set `block norm = instance, affine = true`"]),
    ({}, {"norm": "instance", "affine": True}, ["conv unit enc0.conv0", "BatchNorm2d 'stem.0.norm'",
                                                "set `block norm = batchnorm`"]),
    ({"norm": "group"}, {"norm": "instance", "affine": True}, ["conv unit enc0.conv0",
                                                               "set `block norm = group, groups = 2, affine = true`"]),
    ({"norm": "none"}, {"norm": "instance"}, ["conv unit enc0.conv0", "the module runs no norm after the conv",
                                              "set `block norm = none`"]),
    ({"norm": "instance_running"}, {"norm": "instance", "affine": True},
     ["InstanceNorm2d 'stem.0.norm'", "an InstanceNorm with running statistics (track_running_stats=True"]),
    ({"norm": "lrn"}, {"norm": "none"}, ["LocalResponseNorm 'stem.0.norm'", "local_response_norm",
                                         "a normalisation other than BatchNorm, InstanceNorm and GroupNorm"]),
    ({"skip": "up_first"}, {}, ["dec1.conv0", "cat(dim=1)[enc2.conv1, enc1.conv1]", "cat(dim=1)[enc1.conv1, enc2.conv1]",
                                "swap `skip order`", "`skip    order = skip_first, match = pad`"]),
    ({"up": "nearest"}, {}, ["dec1.conv0", "interpolate(mode=nearest, scale=2)", "set `up mode = nearest`",
                             "`up      mode = bilinear, align_corners = true`"]),
    ({"residual": True}, {}, ["dec1.conv0", "an add of two tensors", "the module runs add"]),
    ({"drop_relu": True}, {}, ["enc1.conv0", "the spec runs relu (layer enc0.conv1), which the module does not"]),
    ({"inner_sigmoid": True}, {}, ["dec1.conv0", "the module runs sigmoid", "an activation other than ReLU"]),
    # the settings of `block act = elu | gelu`, `dilation`, `padding_mode` and `down mode = avgpool`, either way
    ({"act": "elu"}, {}, ["enc0.conv1", "elu(alpha=1.0)", "ELU 'stem.0.act'", "set `block act = elu`"]),
    ({"act": "gelu"}, {"act": "elu"}, ["enc0.conv1", "gelu(approximate=none)", "where the spec runs elu(alpha=1.0)",
                                       "set `block act = gelu`"]),
    ({}, {"act": "gelu"}, ["enc0.conv1", "the module runs ReLU where the spec has GELU: set `block act = relu`"]),
    ({"act": "elu_half"}, {"act": "elu"}, ["ELU 'stem.0.act'", "an ELU with alpha 0.5 (the language's `block act = "
                                                               "elu` has alpha 1)"]),
    ({"act": "gelu_tanh"}, {"act": "gelu"}, ["GELU 'stem.0.act'", "GELU's 'tanh' approximation"]),
    ({"dilation": 2}, {}, ["enc0.conv0", "dilation 2 where the spec has 1", "set `block dilation = 2`"]),
    ({}, {"dilation": 2}, ["enc0.conv0", "dilation 1 where the spec has 2", "set `block dilation = 1`"]),
    ({"pad_mode": "reflect"}, {}, ["enc0.conv0", "pad(mode=reflect", "Conv2d 'stem.0.conv'",
                                   "set `block padding_mode = reflect`"]),
    ({"pad_mode": "replicate"}, {"padding_mode": "reflect"}, ["enc0.conv0", "pad(mode=replicate",
                                                              "where the spec runs pad(mode=reflect",
                                                              "set `block padding_mode = replicate`"]),
    ({}, {"padding_mode": "replicate"}, ["enc0.conv0", "the spec runs pad(mode=replicate",
                                         "set `block padding_mode = zeros`"]),
    ({"pad_mode": "circular"}, {}, ["Conv2d 'stem.0.conv'", "a conv with padding_mode 'circular'"]),
    ({"down": "avg"}, {}, ["enc1.conv0", "the module runs avg_pool2d", "set `down mode = avgpool`",
                           "`down    mode = maxpool`"]),
    ({}, {"down": "avgpool"}, ["enc1.conv0", "where the spec runs avg_pool2d", "set `down mode = maxpool`"]),
    ({"down": "avg"}, {"down": "conv"}, ["enc1.conv0", "set `down mode = avgpool`"]),
    ({"order": "relu_norm"}, {}, ["enc0.bn0", "set `block order = conv_relu_norm`"]),
    ({"out_act": "sigmoid"}, {}, ["output differs", "after the head the module runs sigmoid",
                                  "the spec's output activation is none"]),
]
ACCEPTED = [({}, {}, "logits"), ({"dropout": True}, {}, "logits"), ({"out_act": "sigmoid"}, {"activation": "sigmoid"},
                                                                     "probabilities"),
            ({"act": "leaky"}, {"act": "leaky_relu"}, "logits"), ({"down": "strided"}, {"down": "conv"}, "logits"),
            ({"act": "elu"}, {"act": "elu"}, "logits"), ({"act": "gelu"}, {"act": "gelu"}, "logits"),
            ({"dilation": 2}, {"dilation": 2}, "logits"),
            ({"pad_mode": "reflect"}, {"padding_mode": "reflect"}, "logits"),
            ({"pad_mode": "replicate"}, {"padding_mode": "replicate"}, "logits"),
            ({"down": "avg"}, {"down": "avgpool"}, "logits"),
            # the norms: affine InstanceNorm, one without (the spec's default), GroupNorm with and without
            # affine parameters (its default: with), and one after the ReLU with its own eps
            ({"norm": "instance"}, {"norm": "instance", "affine": True}, "logits"),
            ({"norm": "instance", "affine": False}, {"norm": "instance"}, "logits"),
            ({"norm": "group"}, {"norm": "group", "groups": 2}, "logits"),
            ({"norm": "group", "affine": False}, {"norm": "group", "groups": 2, "affine": False}, "logits"),
            ({"norm": "instance", "order": "relu_norm", "eps": 1e-3},
             {"norm": "instance", "affine": True, "order": "conv_relu_norm", "eps": 1e-3}, "logits")]


def spec_file(work, settings):
    name = "tiny_" + "_".join("%s-%s" % kv for kv in sorted(settings.items())) + ".unet"
    path = os.path.join(work, name)
    with open(path, "w") as f:
        f.write(variant_models.tiny_spec(**settings))
    return path


def model_expr(switches):
    return "TinyUNet(%s)" % ", ".join("%s=%r" % kv for kv in sorted(switches.items()))


def test_cli(work, unetgen):
    for switches, settings, fragments in REFUSED:
        out = os.path.join(work, "refused.safetensors")
        rc, log = exporter("--spec", spec_file(work, settings), "--module", VARIANTS, "--model", model_expr(switches),
                           "--random-weights", "3", "--out", out, "--unetgen", unetgen)
        missing = [f for f in fragments if f not in log]
        expect(rc == 1 and not missing and not os.path.exists(out),
               "%s is refused%s, no file written%s" % (model_expr(switches), " for %s" % settings if settings else "",
                                                       "" if not missing else ": missing %s in:\n%s" % (missing, log)))
    for switches, settings, kind in ACCEPTED:
        out = os.path.join(work, "accepted.safetensors")
        rc, log = exporter("--spec", spec_file(work, settings), "--module", VARIANTS, "--model", model_expr(switches),
                           "--random-weights", "3", "--out", out, "--unetgen", unetgen)
        expect(rc == 0 and "verified" in log and "it returns " + kind in log and os.path.exists(out),
               "%s exports and verifies (%s): %s" % (model_expr(switches), kind, log.splitlines()[0] if log else ""))
        if rc == 0:
            model = variant_models.TinyUNet(**switches)
            randomize_(model, 3)
            got = read_safetensors(out)
            ours = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
            expect(len(got) == len(ours) and sorted(float(v.sum()) for v in got.values()) ==
                   sorted(float(v.sum()) for v in ours.values()), "the file holds the module's %d tensors" % len(ours))
        if os.path.exists(out):
            os.remove(out)


def test_checkpoints(work, unetgen):
    spec = spec_file(work, {})
    trained = variant_models.TinyUNet()
    randomize_(trained, 11)
    sd = trained.state_dict()
    forms = {
        "plain.pt": (sd, "a plain state dict"),
        "lightning.ckpt": ({"epoch": 7, "global_step": 70, "state_dict": {"model." + k: v for k, v in sd.items()},
                            "optimizer_states": [{}]}, "a dict with the state dict under 'state_dict', keys prefixed 'model.'"),
        "dataparallel.pt": ({"module." + k: v for k, v in sd.items()}, "a plain state dict, keys prefixed 'module.'"),
        "training.pt": ({"model_state_dict": sd, "epoch": 3}, "a dict with the state dict under 'model_state_dict'"),
    }
    want = read_safetensors_of(work, unetgen, spec, trained)
    for name, (obj, said) in forms.items():
        path = os.path.join(work, name)
        torch.save(obj, path)
        out = os.path.join(work, name + ".safetensors")
        rc, log = exporter("--spec", spec, "--module", VARIANTS, "--model", "TinyUNet()", "--state-dict", path,
                           "--out", out, "--unetgen", unetgen)
        same = rc == 0 and all(torch.equal(a, want[k]) for k, a in read_safetensors(out).items())
        expect(same and said in log, "checkpoint %s loads (%s) and exports the trained weights%s"
               % (name, said, "" if same and said in log else ":\n" + log))
    # A whole module pickled by a script: its classes are __main__.TinyUNet there.
    whole = os.path.join(work, "whole.pt")
    code = ("import torch; exec(open(%r).read()); m = TinyUNet(); m.load_state_dict(torch.load(%r)); "
            "assert type(m).__module__ == '__main__'; torch.save(m, %r)"
            % (VARIANTS, os.path.join(work, "plain.pt"), whole))
    subprocess.run([sys.executable, "-c", code], check=True)
    out = os.path.join(work, "whole.safetensors")
    rc, log = exporter("--spec", spec, "--module", VARIANTS, "--state-dict", whole, "--out", out, "--unetgen", unetgen)
    same = rc == 0 and all(torch.equal(a, want[k]) for k, a in read_safetensors(out).items())
    expect(same and "a whole pickled TinyUNet module" in log, "a whole module pickled from a script exports" +
           ("" if same else ":\n" + log))
    rc, log = exporter("--spec", spec, "--module", VARIANTS, "--model", "TinyUNet()", "--out", out + "2",
                       "--unetgen", unetgen)
    expect(rc == 1 and "cannot export without weights: pass --state-dict" in log and not os.path.exists(out + "2"),
           "no --state-dict and no --random-weights is refused: " + log)
    rc, log = exporter("--spec", spec, "--module", VARIANTS, "--model", "TinyUNet(norm='none')", "--state-dict",
                       os.path.join(work, "plain.pt"), "--out", out + "2", "--unetgen", unetgen)
    expect(rc == 1 and "cannot load checkpoint" in log, "a checkpoint of another model is refused: " + log[-200:])


def read_safetensors_of(work, unetgen, spec, model):
    """Canonical tensors of MODEL, through the API (the reference the CLI exports are compared with)."""
    tensors, _ = check_module(spec_mod.load(spec, unetgen), model)
    return {k: v.detach().clone() for k, v in tensors}


def test_from_spec(work, unetgen):
    spec = spec_file(work, {})
    ir = spec_mod.load(spec, unetgen)
    net = from_spec(ir)
    names = [k for k in net.state_dict() if not k.endswith("num_batches_tracked")]
    expect(names == [w["name"] for w in ir.weights], "from_spec's state dict has the canonical names, in order")
    expect(sum(p.numel() for p in net.parameters()) == ir.data["params"], "from_spec has the spec's parameter count")
    # train a little, then export the spec-built module itself: no mapping needed, and it verifies
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    g = torch.Generator().manual_seed(0)
    net.train()
    for _ in range(3):
        x = torch.randn(2, 3, 16, 16, generator=g)
        loss = net(x).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    tensors, report = check_module(ir, net)
    expect([n for n, _ in tensors] == names and report[0][1] == 0.0,
           "a trained from_spec module exports and verifies (max |diff| %g)" % report[0][1])


# (spec settings, the norm module from_spec builds, whether it has affine parameters, its groups or None)
NORM_SPECS = [({"norm": "instance", "affine": True}, torch.nn.InstanceNorm2d, True, None),
              ({"norm": "instance"}, torch.nn.InstanceNorm2d, False, None),
              ({"norm": "group", "groups": 2}, torch.nn.GroupNorm, True, 2),
              ({"norm": "group", "groups": 1, "affine": False, "eps": 1e-3}, torch.nn.GroupNorm, False, 1)]


def test_from_spec_norms(work, unetgen):
    """from_spec() of instance and group specs: the norm module under each layer's bn_module ("enc0.norm0"),
    of the spec's kind, affine-ness, groups and eps; the state dict is the IR's weights in order (a
    non-affine norm adds none); trained a little in train mode (where InstanceNorm and GroupNorm still
    use the sample's statistics), the module exports and verifies with no mapping."""
    for settings, cls, affine, groups in NORM_SPECS:
        ir = spec_mod.load(spec_file(work, settings), unetgen)
        net = from_spec(ir)
        convs = [l for l in ir.layers if l["op"] == "conv"]
        eps = settings.get("eps", 1e-5)
        mods = [net.get_submodule(l["bn_module"]) for l in convs]
        expect(all(l["bn_module"] == l["conv_module"].replace(".conv", ".norm") for l in convs) and
               all(type(m) is cls and m.affine == affine and abs(m.eps - eps) < 1e-12 and
                   getattr(m, "num_groups", groups) == groups and not getattr(m, "track_running_stats", False)
                   for m in mods),
               "from_spec(%s) puts a %s(affine=%s) under each enc0.norm0-style name" % (settings, cls.__name__, affine))
        expect(all(l["norm_affine"] == affine and l["norm_groups"] == (groups or l["out_channels"]) for l in convs),
               "check --json of %s: norm_affine %s, norm_groups %s on every conv layer"
               % (settings, affine, groups or "= out_channels"))
        names = list(net.state_dict())
        kinds = {w["module_kind"] for w in ir.weights if ".norm" in w["module"]}
        expect(names == [w["name"] for w in ir.weights] and
               (kinds == {cls.__name__} and "enc0.norm0.weight" in names and "enc0.norm0.bias" in names if affine
                else not kinds and not any(".norm" in n for n in names)) and
               sum(p.numel() for p in net.parameters()) == ir.data["params"],
               "from_spec(%s)'s state dict is the IR's weights in order (%d tensors, %s)"
               % (settings, len(names), "weight and bias per norm" if affine else "none for the norms"))
        opt = torch.optim.SGD(net.parameters(), lr=0.01)
        g = torch.Generator().manual_seed(1)
        net.train()
        for _ in range(2):
            loss = net(torch.randn(2, 3, 16, 16, generator=g)).square().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        tensors, report = check_module(ir, net)
        expect([n for n, _ in tensors] == names and report[0][1] == 0.0,
               "a trained from_spec(%s) module exports and verifies (max |diff| %g)" % (settings, report[0][1]))


def test_nnunet(work, unetgen, references):
    """NnUNetPlain2d at reduced widths exports, verified, against the examples-style nnunet_tiny spec, and
    the file holds its tensors; against the spec with `affine = false` it is refused with the setting."""
    module = variant_models.modern_models(references)
    if module is None:
        return
    spec = os.path.join(work, "nnunet_tiny.unet")
    with open(spec, "w") as f:
        f.write(variant_models.NNUNET_TINY_SPEC)
    out = os.path.join(work, "nnunet_tiny.safetensors")
    rc, log = exporter("--spec", spec, "--module", module, "--model", variant_models.NNUNET_TINY_MODEL,
                       "--random-weights", "4", "--out", out, "--unetgen", unetgen)
    expect(rc == 0 and "verified" in log and os.path.exists(out),
           "%s exports and verifies against nnunet_tiny.unet: %s" % (variant_models.NNUNET_TINY_MODEL,
                                                                     log.splitlines()[0] if log else ""))
    if rc == 0:
        import importlib.util
        loader = importlib.util.spec_from_file_location("modern_models", module)
        mm = importlib.util.module_from_spec(loader)
        loader.loader.exec_module(mm)
        model = eval(variant_models.NNUNET_TINY_MODEL, vars(mm))
        randomize_(model, 4)
        got, ours = read_safetensors(out), model.state_dict()
        expect(len(got) == len(ours) and sorted(float(v.sum()) for v in got.values()) ==
               sorted(float(v.sum()) for v in ours.values()),
               "the file holds the nnU-Net module's %d tensors" % len(ours))
    bad = os.path.join(work, "nnunet_tiny_noaffine.unet")
    with open(bad, "w") as f:
        f.write(variant_models.NNUNET_TINY_SPEC.replace("affine = true", "affine = false"))
    rc, log = exporter("--spec", bad, "--module", module, "--model", variant_models.NNUNET_TINY_MODEL,
                       "--random-weights", "4", "--out", out + "2", "--unetgen", unetgen)
    expect(rc == 1 and "conv unit enc0.conv0" in log and "set `block norm = instance, affine = true`" in log and
           not os.path.exists(out + "2"), "against `affine = false` it is refused naming the setting: " + log[-300:])


def _sums(state_dict):
    return sorted(float(v.sum()) for k, v in state_dict.items() if not k.endswith("num_batches_tracked"))


def test_attention(work, unetgen, references):
    """AttentionUNet at reduced widths against attention_tiny (gate = attention) and the same spec without the
    gate; the module-without-gates case and from_spec of the gated spec through the API."""
    spec = os.path.join(work, "attention_tiny.unet")
    with open(spec, "w") as f:
        f.write(variant_models.ATTENTION_TINY_SPEC)
    expr = variant_models.ATTENTION_TINY_MODEL
    modules = [(MODERN, expr)]
    shared = os.path.join(references, "modern_models.py")
    if os.path.exists(shared):
        modules.append((shared, expr.replace("AttentionUNet(", "AttentionUNet2d(")))
    else:
        print("skip: no %s: AttentionUNet2d is left out" % shared)
    out = os.path.join(work, "attention_tiny.safetensors")
    for module, model in modules:
        rc, log = exporter("--spec", spec, "--module", module, "--model", model, "--random-weights", "4",
                           "--out", out, "--unetgen", unetgen)
        expect(rc == 0 and "verified" in log and os.path.exists(out),
               "%s (%s) exports and verifies against attention_tiny.unet: %s"
               % (model, os.path.basename(module), log.splitlines()[0] if log else ""))
        if rc == 0:
            import importlib.util
            loader = importlib.util.spec_from_file_location("attention_module", module)
            mm = importlib.util.module_from_spec(loader)
            loader.loader.exec_module(mm)
            m = eval(model, vars(mm))
            randomize_(m, 4)
            got = read_safetensors(out)
            ir = spec_mod.load(spec, unetgen)
            expect(list(got) == [w["name"] for w in ir.weights] and _sums(got) == _sums(m.state_dict()),
                   "the file holds the module's %d tensors under the canonical names (gating.conv, att2.theta, ...)"
                   % len(got))
            os.remove(out)
    plain = os.path.join(work, "attention_tiny_nogate.unet")
    with open(plain, "w") as f:
        f.write(variant_models.ATTENTION_TINY_SPEC.replace(", gate = attention", ""))
    rc, log = exporter("--spec", plain, "--module", MODERN, "--model", expr,
                       "--random-weights", "4", "--out", out, "--unetgen", unetgen)
    fragments = ["module #17 is Conv2d 'gating.0'", "the spec expects dec2.conv0", "gates 2 skip(s) with attention",
                 "set `skip gate = attention`",
                 "attention_tiny_nogate.unet:8: `skip    order = skip_first, match = exact`"]
    missing = [f for f in fragments if f not in log]
    expect(rc == 1 and not missing and not os.path.exists(out),
           "%s against the spec without the gate is refused at its gating conv with the hint, no file%s"
           % (expr, "" if not missing else ": missing %s in:\n%s" % (missing, log)))
    # the other way round: a U-Net without gates (the ungated spec's own network) against the gated spec
    ungated = from_spec(spec_mod.load(plain, unetgen))
    randomize_(ungated, 4)
    try:
        check_module(spec_mod.load(spec, unetgen), ungated)
        said = "accepted"
    except Exception as e:
        said = str(e)
    expect("the spec expects gating.conv" in said and "`skip gate = none` if it has no gates" in said,
           "a module without gates is refused against the gated spec: " + said.splitlines()[-1])
    # from_spec of the gated spec: canonical names in order, the gate's modules, trained a little, exports
    ir = spec_mod.load(spec, unetgen)
    net = from_spec(ir)
    names = [k for k in net.state_dict() if not k.endswith("num_batches_tracked")]
    kinds = {n: type(net.get_submodule(n)).__name__
             for n in ("gating.bn", "att1.w.bn", "att2.combine.bn", "att2.theta")}
    expect(names == [w["name"] for w in ir.weights] and sum(p.numel() for p in net.parameters()) == ir.data["params"]
           and net.get_submodule("att2.theta").bias is None and kinds["att2.theta"] == "Conv2d" and
           {kinds[k] for k in ("gating.bn", "att1.w.bn", "att2.combine.bn")} == {"BatchNorm2d"},
           "from_spec(attention_tiny)'s state dict is the IR's weights in order (%d tensors, theta without bias)"
           % len(names))
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    g = torch.Generator().manual_seed(2)
    net.train()
    for _ in range(2):
        loss = net(torch.randn(2, 1, 32, 48, generator=g)).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    tensors, report = check_module(ir, net)
    expect([n for n, _ in tensors] == names and report[0][1] == 0.0,
           "a trained from_spec(attention_tiny) module exports and verifies (max |diff| %g)" % report[0][1])


def _load_module(path, name):
    import importlib.util
    loader = importlib.util.spec_from_file_location(name, path)
    mm = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(mm)
    return mm


def test_monai_resunet(work, unetgen, references):
    """MONAI's UNet with residual units at reduced widths (MonaiResUNet, and ../shared's MonaiResUNet2d where
    that folder is there) exports verified against monai_tiny (residual = monai, act = prelu, down levels =
    above_bottom, decoder order = merge_then_up, up norm = true, output head = none), the file holding its
    tensors under the canonical names; against the spec with `act = relu`, without `residual = monai` or
    without `up norm` it is refused naming the setting, with no file, and so are a module without residual
    units and one running the shortcut after the unit's convs (MONAI runs it first); from_spec of monai_tiny and of
    examples/specs/monai_resunet.unet has the IR's weights (PReLUs under enc0.act0 and up1.act, the
    shortcut convs under enc0.res, in MONAI's order), trained a little it exports and verifies, and
    probabilities() applies the output activation to the last layer; randomize_ gives PReLUs slopes in
    [0.1, 0.6], not the fresh 0.25."""
    spec = os.path.join(work, "monai_tiny.unet")
    with open(spec, "w") as f:
        f.write(variant_models.MONAI_TINY_SPEC)
    ir = spec_mod.load(spec, unetgen)
    expr = variant_models.MONAI_TINY_MODEL
    modules = [(MODERN, expr)]
    shared = os.path.join(references, "modern_models.py")
    if os.path.exists(shared):
        modules.append((shared, expr.replace("MonaiResUNet(", "MonaiResUNet2d(")))
    else:
        print("skip: no %s: MonaiResUNet2d is left out" % shared)
    out = os.path.join(work, "monai_tiny.safetensors")
    for module, model in modules:
        rc, log = exporter("--spec", spec, "--module", module, "--model", model, "--random-weights", "4",
                           "--out", out, "--unetgen", unetgen)
        expect(rc == 0 and "verified" in log and os.path.exists(out),
               "%s (%s) exports and verifies against monai_tiny.unet: %s"
               % (model, os.path.basename(module), log.splitlines()[0] if log else ""))
        if rc == 0:
            m = eval(model, vars(_load_module(module, "monai_module")))
            randomize_(m, 4)
            got = read_safetensors(out)
            expect(list(got) == [w["name"] for w in ir.weights] and _sums(got) == _sums(m.state_dict()),
                   "the file holds the module's %d tensors under the canonical names (enc0.res, enc0.act0, up1.act, "
                   "...)" % len(got))
            os.remove(out)
    # refusals: each spec differs from the module in one setting
    for change, fragments in [(("act = prelu", "act = relu"), ["PReLU 'down.0.conv.2'", "the spec's in relu",
                                                               "set `block act = prelu`"]),
                              ((", residual = monai", ""), ["ResidualUnit 'down.0'", "a residual unit's sum",
                                                            "set `block residual = monai`"]),
                              ((", norm = true", ""), ["PReLU 'up.1.2'", "set `up norm = true`",
                                                       "`up      mode = transposed, kernel = 3, channels = [8, 3]`"])]:
        bad = os.path.join(work, "monai_tiny_bad.unet")
        with open(bad, "w") as f:
            f.write(variant_models.MONAI_TINY_SPEC.replace(*change))
        rc, log = exporter("--spec", bad, "--module", MODERN, "--model", expr, "--random-weights", "4",
                           "--out", out, "--unetgen", unetgen)
        missing = [f for f in fragments if f not in log]
        expect(rc == 1 and not missing and not os.path.exists(out),
               "%s against the spec with %r for %r is refused with the hint, no file%s"
               % (expr, change[1], change[0], "" if not missing else ": missing %s in:\n%s" % (missing, log)))
    # a U-Net without residual units against the residual spec
    plain = from_spec(spec_mod.load(_write(work, "monai_tiny_plain.unet",
                                           variant_models.MONAI_TINY_SPEC.replace(", residual = monai", "")), unetgen))
    randomize_(plain, 4)
    try:
        check_module(ir, plain)
        said = "accepted"
    except Exception as e:
        said = str(e)
    expect("the spec's blocks are residual units" in said and "`block residual = none` if it has none" in said,
           "a module without residual units is refused against the residual spec: " + said.splitlines()[-1])
    # MONAI's order: the shortcut runs first (it fixes the weights' order); a module running it last is told so
    late = _load_module(MODERN, "monai_late")   # a copy of its own, so the patch stays here
    late.ResidualUnit.forward = lambda self, x: self.conv(x) + self.residual(x)
    m = eval(expr, vars(late))
    randomize_(m, 4)
    try:
        check_module(ir, m)
        said = "accepted"
    except Exception as e:
        said = str(e)
    expect("runs the shortcut conv of ResidualUnit 'down.0' (Conv2d 'down.0.residual') after the unit's convs" in said
           and "compute the shortcut first in forward()" in said,
           "a module running the shortcut after the unit's convs is refused saying so: " + said.splitlines()[-1][:200])
    # from_spec: canonical names, shapes and order; PReLUs; trained a little, it exports and verifies
    m = eval(expr, vars(_load_module(MODERN, "monai_module")))
    randomize_(m, 5)
    slopes = [float(p.weight) for p in m.modules() if isinstance(p, torch.nn.PReLU)]
    expect(all(0.1 <= v <= 0.6 for v in slopes) and len(set(slopes)) == len(slopes),
           "randomize_ gives the %d PReLUs distinct slopes in [0.1, 0.6]" % len(slopes))
    for path in (spec, os.path.join(REPO, "examples", "specs", "monai_resunet.unet")):
        fir = spec_mod.load(path, unetgen)
        net = from_spec(fir)
        sd = net.state_dict()
        expect([(k, list(v.shape)) for k, v in sd.items()] == [(w["name"], w["shape"]) for w in fir.weights] and
               sum(p.numel() for p in net.parameters()) == fir.data["params"] and
               type(net.get_submodule("enc0.act0")) is torch.nn.PReLU and
               type(net.get_submodule("up1.act")) is torch.nn.PReLU and
               type(net.get_submodule("up1.norm")) is torch.nn.InstanceNorm2d and
               "head" not in dict(net.named_modules()),
               "from_spec(%s)'s state dict is the IR's weights in order (%d tensors: shortcut convs first, PReLUs "
               "after the norms, no head)" % (os.path.basename(path), len(sd)))
    net = from_spec(ir)
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    g = torch.Generator().manual_seed(3)
    net.train()
    for _ in range(2):
        loss = net(torch.randn(2, 1, 16, 16, generator=g)).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    tensors, report = check_module(ir, net)
    expect([n for n, _ in tensors] == [w["name"] for w in ir.weights] and report[0][1] == 0.0,
           "a trained from_spec(monai_tiny) module exports and verifies (max |diff| %g)" % report[0][1])
    soft = from_spec(spec_mod.load(_write(work, "monai_tiny_softmax.unet", variant_models.MONAI_TINY_SPEC.replace(
        "head = none", "head = none, activation = softmax")), unetgen)).eval()
    x = torch.randn(1, 1, 16, 16, generator=g)
    with torch.no_grad():
        same = torch.allclose(soft.probabilities(x), torch.softmax(soft(x), 1))
    expect(same and tuple(soft(x).shape) == (1, 3, 16, 16),
           "with head = none, probabilities() is the softmax of the last layer's output (3 classes)")


def _write(work, name, text):
    path = os.path.join(work, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def test_trained_coins(work, unetgen):
    import train_demo
    ir = spec_mod.load(os.path.join(REPO, "models", "coins.unet"), unetgen)
    trained = read_safetensors(os.path.join(REPO, "models", "coins.safetensors"))
    spec_net = from_spec(ir)
    spec_net.load_state_dict({**spec_net.state_dict(), **trained})
    check_module(ir, spec_net)
    coins = train_demo.CoinsUNet()
    tensors, _ = check_module(ir, coins)       # maps CoinsUNet's own tensors to canonical names
    with torch.no_grad():
        for name, t in tensors:
            t.copy_(trained[name])
    ckpt = os.path.join(work, "coins.pt")
    torch.save({"state_dict": coins.state_dict(), "epoch": 1}, ckpt)
    out = os.path.join(work, "coins.safetensors")
    rc, log = exporter("--spec", os.path.join(REPO, "models", "coins.unet"), "--module",
                       os.path.join(REPO, "tools", "train_demo.py"), "--model", "CoinsUNet()", "--state-dict", ckpt,
                       "--out", out, "--unetgen", unetgen)
    same = rc == 0 and all(torch.equal(v, trained[k]) for k, v in read_safetensors(out).items())
    expect(same and "verified" in log, "the trained coins model exports from CoinsUNet, verified, bit for bit" +
           ("" if same else ":\n" + log))


def test_variant_parity(work, unetgen):
    """Hand-written TinyUNet variants the language now expresses, exported verified, built and run by
    unetgen, equal the module to 1e-4 x max(1, max|torch|) at two sizes each, and in tiles (a memory
    budget forcing several, at 256x320) equal the whole-image run bit for bit: LeakyReLU(0.01) units
    (`block act = leaky_relu`, sizes 40x48 and 37x45), stride-2 first convs (`down mode = conv`,
    sizes 40x48 and 36x44: with zero-padded skips the strided levels need even sizes), ELU and GELU
    (`block act = elu | gelu`), dilation 2 (`block dilation = 2`), reflect and replicate padding
    (`block padding_mode`; tiles must mirror / replicate at the image's edges only) and average pools
    (`down mode = avgpool`), at 40x48 and 37x45. GroupNorm (groups 2) and InstanceNorm without affine
    parameters equal the module likewise; they normalise with each image's statistics, so instead of
    tiles the half budget is refused, saying the network runs on the whole image in one piece."""
    import json
    import numpy as np
    odd = [(40, 48), (37, 45)]
    cases = [("leaky", {"act": "leaky"}, {"act": "leaky_relu"}, odd),
             ("strided", {"down": "strided"}, {"down": "conv"}, [(40, 48), (36, 44)]),
             ("elu", {"act": "elu"}, {"act": "elu"}, odd), ("gelu", {"act": "gelu"}, {"act": "gelu"}, odd),
             ("dilated", {"dilation": 2}, {"dilation": 2}, odd),
             ("reflect", {"pad_mode": "reflect"}, {"padding_mode": "reflect"}, odd),
             ("replicate", {"pad_mode": "replicate"}, {"padding_mode": "replicate"}, odd),
             ("avgpool", {"down": "avg"}, {"down": "avgpool"}, odd),
             ("group", {"norm": "group"}, {"norm": "group", "groups": 2}, odd),
             ("instance", {"norm": "instance", "affine": False}, {"norm": "instance"}, odd)]
    for name, switches, settings, sizes in cases:
        spec = spec_file(work, settings)
        weights = os.path.join(work, name + ".safetensors")
        expr = model_expr(switches)
        rc, log = exporter("--spec", spec, "--module", VARIANTS, "--model", expr, "--random-weights", "5",
                           "--out", weights, "--unetgen", unetgen)
        expect(rc == 0, "%s exports against %s" % (expr, settings))
        lib = os.path.join(work, name + "_lib")
        p = subprocess.run([unetgen, "build", spec, "-o", lib], capture_output=True, text=True)
        expect(p.returncode == 0, "the %s spec builds" % name)
        model = variant_models.TinyUNet(**switches)
        randomize_(model, 5)
        model.eval()
        for h, w in sizes:
            x = torch.randn(1, 3, h, w, generator=torch.Generator().manual_seed(h * w)).numpy()
            np.save(os.path.join(work, "in.npy"), x)
            out = os.path.join(work, "out.npy")
            p = subprocess.run([unetgen, "run", lib, "-w", weights, "-i", os.path.join(work, "in.npy"), "-o", out,
                                "--logits"], capture_output=True, text=True)
            with torch.no_grad():
                want = model(torch.from_numpy(x)).double().numpy()
            got = np.load(out) if p.returncode == 0 else np.zeros(0)
            err = float(np.abs(got - want).max()) if got.shape == want.shape else float("inf")
            bound = 1e-4 * max(1.0, float(np.abs(want).max()))
            expect(err <= bound, "%s %dx%d: unetgen vs the module max|diff| %.3g (bound %.3g)" % (expr, h, w, err, bound))
        # Tiles: a budget half the whole image's need gives several, with the same values.
        h, w = 256, 320
        x = torch.randn(1, 3, h, w, generator=torch.Generator().manual_seed(7)).numpy()
        np.save(os.path.join(work, "big.npy"), x)
        report = json.loads(subprocess.run([unetgen, "check", spec, "--size", "3x%dx%d" % (h, w), "--json"],
                                           capture_output=True, text=True, check=True).stdout)
        budget = str(int(report["tiling"]["whole_image_bytes"]) // 2)
        if report["tiling"].get("whole_image_only"):
            # instance / group norm: tiles would not be exact, so a budget below the whole image's is refused
            p = subprocess.run([unetgen, "run", lib, "-w", weights, "-i", os.path.join(work, "big.npy"), "-o",
                                os.path.join(work, "big_out.npy"), "--logits", "--memory", budget],
                               capture_output=True, text=True)
            said = (p.stdout + p.stderr).strip()
            expect(p.returncode != 0 and "runs on the whole image in one piece" in said,
                   "%s %dx%d with half the whole image's memory (%s bytes) is refused: it runs on whole images "
                   "only: %s" % (expr, h, w, budget, said[-200:]))
            continue
        runs = []
        for extra in ([], ["--memory", budget]):
            out = os.path.join(work, "big_out%d.npy" % len(runs))
            p = subprocess.run([unetgen, "run", lib, "-w", weights, "-i", os.path.join(work, "big.npy"), "-o", out,
                                "--logits"] + extra, capture_output=True, text=True)
            runs.append((np.load(out) if p.returncode == 0 else None, p.stdout + p.stderr))
        tiled = "tiles:" in runs[1][1]
        same = runs[0][0] is not None and runs[1][0] is not None and np.array_equal(runs[0][0], runs[1][0])
        expect(tiled and same, "%s %dx%d in tiles (budget %s bytes) equals the whole image bit for bit%s"
               % (expr, h, w, budget, "" if tiled else ": " + runs[1][1].strip()[-200:]))


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
    test_cli(args.workdir, args.unetgen)
    test_checkpoints(args.workdir, args.unetgen)
    test_from_spec(args.workdir, args.unetgen)
    test_from_spec_norms(args.workdir, args.unetgen)
    test_nnunet(args.workdir, args.unetgen, args.references)
    test_attention(args.workdir, args.unetgen, args.references)
    test_monai_resunet(args.workdir, args.unetgen, args.references)
    test_trained_coins(args.workdir, args.unetgen)
    test_variant_parity(args.workdir, args.unetgen)
    print("%d failed" % len(failures) if failures else "all passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
