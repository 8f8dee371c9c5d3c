"""spec_from_module(): the .unet spec that describes a PyTorch module, verified, or why there is none.

    text, ir, report = spec_from_module(model, name="my_unet")

The module runs once (traced, unetgen.torch.tracing) on an input it accepts, odd-sized where it can so
that crops and pads show. From the trace: the first conv gives the input channels, kernel, padding
and bias, the conv units' their `block dilation` and `padding_mode` (a Conv2d's own F.pad before its
conv); the norms (BatchNorm, InstanceNorm, GroupNorm: unetgen.torch.verification.op_norm) the
`block norm`, affine, groups, order and eps; the activations `block act`; max- or average pools
(`down mode = maxpool | avgpool`; or stride-2 convs: `down mode = conv`) split the encoder into
levels and each upsampling op (transposed conv or interpolate) starts a decoder level, whose concat
gives the skip order and whose crop or pad the skip match; widths come from each block's convs, extra
full-resolution convs before the first level or after the last are `pre` / `post` units; the last
conv is the head and what follows it the output activation. Attention gates (a sigmoid'ed
one-channel conv, resized and multiplied with a skip: unetgen.torch.gates) give `skip gate =
attention`; their convs, and the conv unit making the coarsest gate's signal, are left out of the
levels. A module whose blocks are residual units (a conv path summed with its shortcut:
unetgen.torch.residual, MONAI's UNet) is read unit by unit instead (describe_residual): `block
residual = monai`, the units' strides (`down levels`), where the concat sits (`decoder order`),
the norm after the transposed convs (`up norm`), no conv after the last unit (`output head =
none`); PReLUs give `block act = prelu`. The spec is then checked the way every
export is (unetgen.torch.exporter.check_module), so a spec is only ever returned when the network it
describes computes what the module computes; otherwise the verifier's account of the first
difference is the error, after anything the language cannot express at all.
"""
import copy
import os
import re
import tempfile

import torch.nn as nn

from .. import spec as spec_mod
from . import gates as gt
from . import residual as rs
from . import tracing as tr
from . import verification as vf
from .checkpoint import randomize_
from .exporter import check_module

TRIAL_SIZES = [67, 75, 99, 64, 96, 128, 160, 188, 252, 256, 572]


class SpecWriteError(Exception):
    pass


def _identifier(name):
    name = re.sub(r"[^A-Za-z0-9_]", "_", name).strip("_").lower() or "net"
    return name if not name[0].isdigit() else "net_" + name


def _depends_on(t, value, target):
    """Whether VALUE is computed from op TARGET (walking producers, stopping at other weight ops)."""
    todo, seen = [value], set()
    while todo:
        v = todo.pop()
        op = v.producer
        if op is None or op.index in seen:
            continue
        if op is target:
            return True
        seen.add(op.index)
        if not op.mapped:
            todo.extend(op.inputs)
    return False


def _mid_rules(block, in_channels):
    """The middle-width rules ({'out', 'half_in'}) a block's [conv ops] fits; None for a one-conv block."""
    if len(block) < 2:
        return None
    out = block[-1].weight_module.out_channels
    mids = [c.weight_module.out_channels for c in block[:-1]]
    fits = set()
    if all(m == out for m in mids):
        fits.add("out")
    if mids[0] == in_channels // 2 and all(m == out for m in mids[1:]):
        fits.add("half_in")
    return fits


def _mid(blocks, ins, where):
    """The one rule all BLOCKS fit ('out' preferred, the default), or None for one-conv blocks."""
    fits = [f for f in (_mid_rules(b, i) for b, i in zip(blocks, ins)) if f is not None]
    if not fits:
        return None
    common = set.intersection(*fits)
    if not common:
        widths = [[c.weight_module.out_channels for c in b] for b in blocks]
        raise SpecWriteError("cannot describe the %s blocks' middle widths %s: the language has `mid = out` (every conv "
                             "the block's width) or `mid = half_in` (the first conv half its input), one for all "
                             "levels" % (where, widths))
    return "out" if "out" in common else "half_in"


def _one(values, what):
    values = sorted(set(values), key=str)
    if len(values) > 1:
        raise SpecWriteError("cannot describe the module in one spec: %s differ across the network (%s), and the "
                             "language has one setting for all" % (what, ", ".join(map(str, values))))
    return values[0] if values else None


def _norm_settings(t, norms):
    """The `block` keys of the conv units' norm ops NORMS: [("norm", ...), ("affine", ...), ...]."""
    if not norms:
        return [("norm", "none")]
    # groups are read per op; an InstanceNorm's (its width) are not a setting, so they are left out
    found = [vf.op_norm(op) for op in norms]
    norm = _one([f["norm"] for f in found], "norms")
    out = [("norm", norm)]
    if norm in ("instance", "group"):
        # written even at PyTorch's default (false for InstanceNorm2d, true for GroupNorm), which a reader
        # of the spec would otherwise have to know
        if norm == "group":
            out.append(("groups", _one([f["groups"] for f in found], "GroupNorm groups")))
        out.append(("affine", str(_one([f["affine"] for f in found], "norms' affine parameters")).lower()))
    orders = ["conv_relu_norm" if _after_act(t, n) else "conv_norm_relu" for n in norms]
    out.append(("order", _one(orders, "norm positions (before / after the ReLU)")))
    eps = _one([f["eps"] for f in found], "norm eps")
    if eps != 1e-5:
        out.append(("eps", repr(float(eps))))
    return out


def _after_act(t, norm):
    """Whether norm op NORM follows its unit's activation: a ReLU / LeakyReLU on the way from the weighted op
    before it, or that op itself a PReLU (which, mapped, ends the way back)."""
    if any(op.kind in tr.ACT_OPS for op in tr.slice_back(t, norm.inputs[0])):
        return True
    source = tr.source_of(t, norm.inputs[0])
    return source is not None and source.kind == "prelu"


def _act_settings(t):
    """The `block` keys of the conv units' activation: ReLU (the default, no keys), LeakyReLU with one slope
    for all, PReLU, ELU or GELU (unsupported() has refused those of other alphas and approximations)."""
    acts = [op for op in t.ops if op.kind in vf.UNIT_ACTS]
    kind = _one([op.kind for op in acts], "activations (ReLU, LeakyReLU, PReLU, ELU and GELU)")
    if kind == "leaky_relu":
        return [("act", "leaky_relu"),
                ("slope", repr(float(_one([op.attrs.get("negative_slope", 0.01) for op in acts], "LeakyReLU slopes"))))]
    return [("act", kind)] if kind in ("prelu", "elu", "gelu") else []


def _conv_settings(t, convs):
    """The `block` keys padding, dilation and padding_mode of conv units CONVS (conv2d ops; the first gives the
    kernel and the padding; dilation and padding_mode are written where not the defaults, 1 and zeros)."""
    k = convs[0].weight_module.weight.shape[-1]
    dilation = _one([op.attrs.get("dilation") for op in convs], "conv dilations")
    pad = tr.conv_padding(t, convs[0])[0]
    mode = _one([tr.conv_padding(t, op)[1] for op in convs], "conv padding modes")
    same = dilation * (k // 2) if isinstance(dilation, int) else None
    out = [("padding", "same" if pad == same else "valid" if pad == 0 else pad)]
    if dilation != 1:
        out.append(("dilation", dilation))
    if mode != "zeros":
        out.append(("padding_mode", mode))
    return out


def _skip_match(t, skip, up):
    """`skip match` of a concat of values SKIP and UP (the upsampled side): crop, replicate, pad, or None (exact)."""
    skip_ops, up_ops = tr.slice_back(t, skip), tr.slice_back(t, up)
    if any(op.kind == "slice" for op in skip_ops):
        return "crop"
    if any(op.kind == "pad" and op.attrs.get("mode") == "replicate" for op in up_ops):
        return "replicate"
    if any(op.kind == "pad" for op in up_ops):
        return "pad"
    return None


def describe(t, in_channels):
    """The spec settings ({section: [(key, value text)]}) read off trace T."""
    convs = [op for op in t.mapped if op.kind == "conv2d"]
    # every norm op, mapped (BatchNorm, affine InstanceNorm / GroupNorm) or not (those without weights)
    norms = [op for op in t.ops if op.kind in tr.NORM_OPS]
    if len(convs) < 3:
        raise SpecWriteError("cannot describe the module as a U-Net: it runs %d convs" % len(convs))
    head = convs[-1]
    hw = head.weight_module.weight.shape
    if hw[-1] != 1 or head.weight_module.bias is None:
        raise SpecWriteError("cannot describe the module's last conv %s as the head: the language's head is a 1x1 conv "
                             "with bias" % head.where())
    # attention gates' convs (and their gating unit) and resizes are no part of the levels
    gates = gt.find_gates(t)
    own = gt.gate_convs(gates)
    resizes = {g.resize.index for g in gates}
    body = [op for op in convs[:-1] if op.index not in own]
    ups = [op for op in t.ops if op.kind == "interpolate" and op.index not in resizes or
           (op.kind == "conv_transpose2d" and op in t.mapped)]
    pools = [op for op in t.ops if op.kind in vf.POOLS]
    first_up = ups[0].index if ups else -1
    # Stride-2 convs before the first upsampling downsample instead of pools: `down mode = conv`.
    strided = [op for op in body if op.attrs.get("stride") == 2 and op.index < first_up]
    if (not pools and not strided) or not ups:
        raise SpecWriteError("cannot describe the module as a U-Net: it runs %d max-pools, %d stride-2 convs and %d "
                             "upsamplings" % (len(pools), len(strided), len(ups)))
    if pools and strided:
        raise SpecWriteError("cannot describe the module's downsampling: it pools %s and strides convs %s; the "
                             "language does one or the other (`down mode = maxpool | avgpool | conv`)"
                             % (pools[0].where(), strided[0].where()))
    # encoder levels: split by pools (or before each stride-2 conv); the bottleneck runs until the
    # first upsampling op
    levels, current = [], []
    events = sorted(pools + body + ups, key=lambda op: op.index)
    for op in events:
        if op.index > first_up:
            break
        if op.kind in vf.POOLS:
            levels.append(current)
            current = []
        elif op.kind == "conv2d":
            if op in strided:
                levels.append(current)
                current = []
            current.append(op)
    levels.append(current)
    # decoder levels: each upsampling op starts one
    dec, current = [], None
    for op in events:
        if op.index < first_up:
            continue
        if op in ups:
            current = {"up": op, "convs": []}
            dec.append(current)
        elif op.kind == "conv2d":
            current["convs"].append(op)
    depth = len(levels)
    if len(dec) != depth - 1:
        raise SpecWriteError("cannot describe the module as a U-Net: %d encoder levels but %d upsamplings"
                             % (depth, len(dec)))
    out_ch = lambda op: op.weight_module.out_channels  # noqa: E731
    enc_convs = len(levels[1])
    if any(len(l) != enc_convs for l in levels[1:]):
        raise SpecWriteError("cannot describe the encoder: its levels run %s convs; the language has one count"
                             % [len(l) for l in levels])
    pre = levels[0][:len(levels[0]) - enc_convs]
    enc_blocks = [levels[0][len(pre):]] + levels[1:]
    dec_convs = len(dec[0]["convs"])
    if any(len(d["convs"]) != dec_convs for d in dec[:-1]) or len(dec[-1]["convs"]) < dec_convs:
        raise SpecWriteError("cannot describe the decoder: its levels run %s convs; the language has one count"
                             % [len(d["convs"]) for d in dec])
    post = dec[-1]["convs"][dec_convs:]
    dec_blocks = [d["convs"][:dec_convs] for d in dec]

    first = convs[0].weight_module
    k = first.weight.shape[-1]
    s = {"network": [], "input": [("channels", in_channels)]}
    s["encoder"] = [("channels", "[%s]" % ", ".join(str(out_ch(b[-1])) for b in enc_blocks))]
    enc_in = [out_ch(pre[-1]) if pre else in_channels] + [out_ch(b[-1]) for b in enc_blocks[:-1]]
    mid_enc = _mid(enc_blocks, enc_in, "encoder")
    units = [c for b in enc_blocks + dec_blocks for c in b] + pre + post
    padding = _conv_settings(t, [convs[0]] + [c for c in units if c is not convs[0]])
    block = [("convs", enc_convs), ("kernel", k), padding[0], ("bias", str(first.bias is not None).lower())]
    block += _norm_settings(t, norms)
    # The conv units' activation: ReLU, LeakyReLU with one slope for all, PReLU, ELU or GELU (`block act`).
    block += _act_settings(t)
    block += padding[1:]
    s["block"] = block
    if mid_enc and mid_enc != "out":
        s["encoder"].append(("mid", mid_enc))
    # decoder: channels, convs, mid
    s["decoder"] = [("channels", "[%s]" % ", ".join(str(out_ch(b[-1])) for b in dec_blocks))]
    if dec_convs != enc_convs:
        s["decoder"].append(("convs", dec_convs))
    mid_dec = _mid(dec_blocks, [b[0].weight_module.in_channels for b in dec_blocks], "decoder")
    if mid_dec and mid_dec != "out":
        s["decoder"].append(("mid", mid_dec))
    s["down"] = [("mode", "conv" if strided else
                  _one([vf.POOLS[op.kind][1] for op in pools], "pools (max and average)"))]
    # upsampling
    kinds = _one([d["up"].kind for d in dec], "upsampling ops")
    if kinds == "interpolate":
        mode = _one([d["up"].attrs.get("mode") for d in dec], "upsampling modes")
        s["up"] = [("mode", mode)]
        if mode == "bilinear":
            s["up"].append(("align_corners", str(_one([d["up"].attrs.get("align_corners") for d in dec],
                                                      "align_corners settings")).lower()))
    else:
        uk = _one([d["up"].weight_module.weight.shape[-1] for d in dec], "transposed conv kernels")
        s["up"] = [("mode", "transposed"), ("kernel", uk)]
        rules = []
        for d, skip_level in zip(dec, reversed(enc_blocks[:-1])):
            m = d["up"].weight_module
            skip_ch = out_ch(skip_level[-1])
            rules.append("skip" if m.out_channels == skip_ch else "half" if m.out_channels == m.in_channels // 2
                         else "same" if m.out_channels == m.in_channels else "?")
        if len(set(rules)) == 1 and rules[0] != "?":
            if rules[0] != "skip":
                s["up"].append(("channels", rules[0]))
        else:  # no one rule (MONAI BasicUNet halves all but the top): each upsampler's width, deepest first
            s["up"].append(("channels", "[%s]" % ", ".join(str(d["up"].weight_module.out_channels) for d in dec)))
        if _one([d["up"].weight_module.bias is not None for d in dec], "transposed conv biases") is False:
            s["up"].append(("bias", "false"))
    # skips: the concat each decoder level's first conv reads
    orders, matches = [], []
    for d in dec:
        cat = next((op for op in tr.slice_back(t, d["convs"][0].inputs[0]) if op.kind == "cat"), None)
        if cat is None or len(cat.inputs) != 2:
            raise SpecWriteError("cannot find the skip concatenation before %s" % d["convs"][0].where())
        up_side = [_depends_on(t, v, d["up"]) for v in cat.inputs]
        if up_side.count(True) != 1:
            raise SpecWriteError("cannot tell the skip from the upsampled tensor in the concat of %s" % cat.where())
        up_i = up_side.index(True)
        orders.append("up_first" if up_i == 0 else "skip_first")
        match = _skip_match(t, cat.inputs[1 - up_i], cat.inputs[up_i])
        if match:
            matches.append(match)
    s["skip"] = [("order", _one(orders, "skip orders")), ("match", _one(matches, "skip matches") or "exact")]
    if gates:
        s["skip"].append(("gate", "attention"))
    if pre:
        s["pre"] = [("channels", "[%s]" % ", ".join(str(out_ch(c)) for c in pre))]
    if post:
        s["post"] = [("channels", "[%s]" % ", ".join(str(out_ch(c)) for c in post))]
    tail = [op.kind for op in tr.slice_back(t, t.output)] if t.output is not None else []
    activation = "sigmoid" if "sigmoid" in tail else "softmax" if "softmax" in tail else "none"
    s["output"] = [("classes", hw[0]), ("activation", activation)]
    return s


def _value_of(v):
    """V through eval-mode identities (dropout, contiguous, ...)."""
    while v is not None and v.producer is not None and tr.is_identity(v.producer) and v.producer.inputs:
        v = v.producer.inputs[0]
    return v


def describe_residual(t, in_channels, units):
    """The spec settings of trace T whose blocks are residual units UNITS (unetgen.torch.residual.find_units):
    MONAI's UNet and U-Nets like it (`block residual = monai`). One unit per level: the encoder's (the
    last the bottleneck) before the first transposed conv, one decoder level's after each; the units'
    convs and strides give the widths, `block convs` and `down levels`; what each transposed conv reads
    (a concat: `decoder order = merge_then_up`) and what follows it (a norm: `up norm = true`); no conv
    after the last unit is `output head = none`."""
    ups = [op for op in t.mapped if op.kind == "conv_transpose2d"]
    if not ups or any(op.kind == "interpolate" for op in t.ops):
        raise SpecWriteError("cannot describe the module's residual U-Net: it upsamples with %s; the language's "
                             "residual blocks come with transposed convs (`up mode = transposed`)"
                             % ("interpolate" if ups else "no transposed conv"))
    first_up = ups[0].index
    enc = [u for u in units if u.add.index < first_up]
    dec = [u for u in units if u.add.index > first_up]
    depth = len(enc)
    if depth < 2 or len(dec) != depth - 1 or len(ups) != depth - 1:
        raise SpecWriteError("cannot describe the module as a residual U-Net: %d residual units before its first "
                             "transposed conv, %d after it, %d transposed convs; the language has one unit per "
                             "encoder level and one upsampling and unit per decoder level"
                             % (depth, len(dec), len(ups)))
    in_units = {c.index for u in units for c in u.convs + ([u.shortcut] if u.shortcut else [])}
    rest = [op for op in t.mapped if op.kind == "conv2d" and op.index not in in_units]
    out = _value_of(t.output)
    head = rest[-1] if rest and out is not None and tr.source_of(t, out) is rest[-1] else None
    if [op for op in rest if op is not head]:
        raise SpecWriteError("cannot describe %s in the module's residual U-Net: it is no residual unit's conv nor "
                             "the head, and the language's residual networks have no other convs"
                             % [op for op in rest if op is not head][0].where())
    # without a head the output is the last unit's sum (an output activation after it aside)
    if head is None and dec[-1].add.index not in {op.index for op in tr.slice_back(t, t.output)}:
        raise SpecWriteError("cannot describe the module's output: it is neither its last residual unit's sum "
                             "(`output head = none`) nor a conv after it")
    out_ch = lambda op: op.weight_module.out_channels  # noqa: E731
    convs = lambda us, where: _one([len(u.convs) for u in us], "the %s blocks' conv counts" % where)  # noqa: E731
    first = enc[0].convs[0]
    k = first.weight_module.weight.shape[-1]
    s = {"network": [], "input": [("channels", in_channels)]}
    s["encoder"] = [("channels", "[%s]" % ", ".join(str(out_ch(u.convs[-1])) for u in enc))]
    enc_in = [in_channels] + [out_ch(u.convs[-1]) for u in enc[:-1]]
    mid_enc = _mid([u.convs for u in enc], enc_in, "encoder")
    if mid_enc and mid_enc != "out":
        s["encoder"].append(("mid", mid_enc))
    enc_convs, dec_convs = convs(enc, "encoder"), convs(dec, "decoder")
    s["decoder"] = [("channels", "[%s]" % ", ".join(str(out_ch(u.convs[-1])) for u in dec))]
    if dec_convs != enc_convs:
        s["decoder"].append(("convs", dec_convs))
    mid_dec = _mid([u.convs for u in dec], [u.convs[0].weight_module.in_channels for u in dec], "decoder")
    if mid_dec and mid_dec != "out":
        s["decoder"].append(("mid", mid_dec))
    # each transposed conv reads a concat (MONAI's merge_then_up) or a concat reads it (up_then_merge)
    cats = [_value_of(up.inputs[0]).producer for up in ups]
    merge_first = _one([c is not None and c.kind == "cat" for c in cats], "the decoder levels' orders (concat "
                       "before or after upsampling)")
    if merge_first:
        s["decoder"].append(("order", "merge_then_up"))
    padding = _conv_settings(t, [c for u in units for c in u.convs])
    block = [("convs", enc_convs), ("kernel", k), padding[0],
             ("bias", str(first.weight_module.bias is not None).lower())]
    block += _norm_settings(t, [op for op in t.ops if op.kind in tr.NORM_OPS])
    block += _act_settings(t) + padding[1:]
    block.append(("residual", "monai"))
    s["block"] = block
    # downsampling: max-pools, or the first conv of each level striding, below the top or above the bottom
    strides = [u.convs[0].attrs.get("stride") for u in enc]
    pools = [op for op in t.ops if op.kind in vf.POOLS]
    if pools:
        s["down"] = [("mode", _one([vf.POOLS[op.kind][1] for op in pools], "pools (max and average)"))]
    elif strides == [2] * (depth - 1) + [1]:
        s["down"] = [("mode", "conv"), ("levels", "above_bottom")]
    elif strides == [1] + [2] * (depth - 1):
        s["down"] = [("mode", "conv")]
    else:
        raise SpecWriteError("cannot describe the module's downsampling: its levels' first convs have strides %s; the "
                             "language strides every level below the top or every level above the bottom by 2"
                             % strides)
    s["up"] = [("mode", "transposed"), ("kernel", _one([up.weight_module.weight.shape[-1] for up in ups],
                                                      "transposed conv kernels")),
               ("channels", "[%s]" % ", ".join(str(out_ch(up)) for up in ups))]
    if _one([up.weight_module.bias is not None for up in ups], "transposed conv biases") is False:
        s["up"].append(("bias", "false"))
    normed = [any(op.kind in tr.NORM_OPS and op.inputs and _value_of(op.inputs[0]) is up.output for op in t.ops)
              for up in ups]
    if _one(normed, "norms after the transposed convs (some have one, some not)"):
        s["up"].append(("norm", "true"))
    # skips: level l's concat takes its skip and the level below (the bottleneck, or the decoder level below)
    orders, matches = [], []
    for i, up in enumerate(ups):
        below = (enc[-1] if i == 0 else dec[i - 1]).output
        cat = cats[i] if merge_first else next(
            (op for op in tr.slice_back(t, dec[i].convs[0].inputs[0]) if op.kind == "cat"), None)
        if cat is None or len(cat.inputs) != 2:
            raise SpecWriteError("cannot find the skip concatenation of decoder level %d (%s)" % (i, up.where()))
        below_side = [_value_of(v) is _value_of(below if merge_first else up.output) or
                      (not merge_first and _depends_on(t, v, up)) for v in cat.inputs]
        if below_side.count(True) != 1:
            raise SpecWriteError("cannot tell the skip from the level below in the concat of %s" % cat.where())
        b = below_side.index(True)
        orders.append("up_first" if b == 0 else "skip_first")
        match = _skip_match(t, cat.inputs[1 - b], cat.inputs[b])
        if match:
            matches.append(match)
    s["skip"] = [("order", _one(orders, "skip orders")), ("match", _one(matches, "skip matches") or "exact")]
    tail = [op.kind for op in tr.slice_back(t, t.output)] if t.output is not None else []
    activation = "sigmoid" if "sigmoid" in tail else "softmax" if "softmax" in tail else "none"
    s["output"] = [("classes", out_ch(head) if head else out_ch(dec[-1].convs[-1]))]
    if head is None:
        s["output"].append(("head", "none"))
    s["output"].append(("activation", activation))
    return s


ORDER = ["network", "input", "output", "pre", "encoder", "decoder", "post", "block", "down", "up", "skip"]


def render(settings, name, comment):
    lines = ["# " + c for c in comment.splitlines()] if comment else []
    settings = dict(settings, network=[("name", name)])
    for section in ORDER:
        if section in settings:
            lines.append("%-7s %s" % (section, ", ".join("%s = %s" % kv for kv in settings[section])))
            if section == "output" and ("activation", "none") in settings[section]:
                lines[-1] += "   # the module returns logits: sigmoid / softmax here if they are applied after it"
    return "\n".join(lines) + "\n"


def spec_from_module(model, name=None, unetgen=None, comment="", out=None):
    """(spec text, SpecIR, verification report) for MODEL; SpecWriteError when no spec describes it.

    OUT, if given, receives the spec only once it has verified."""
    # Verified on a copy with random weights, BatchNorm statistics and norm affine parameters: with
    # fresh ones a norm is nearly the identity (BN) or its own affine-free form (InstanceNorm, GroupNorm),
    # and its position (before or after the ReLU) or its parameters would not show.
    model = copy.deepcopy(model).eval()
    randomize_(model, 1)
    first = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    if first is None:
        raise SpecWriteError("cannot describe the module: it has no Conv2d")
    try:
        t = tr.trace_first_that_runs(model, [(first.in_channels, s, s) for s in TRIAL_SIZES])
    except ValueError as e:
        raise SpecWriteError("cannot run the module to read its structure; %s" % e)
    problems = vf.unsupported(t, None)
    if problems:
        raise SpecWriteError("cannot describe the module in the spec language, which cannot express:\n  - "
                             + "\n  - ".join(problems))
    name = _identifier(name or type(model).__name__)
    units = rs.find_units(t)
    text = render(describe_residual(t, first.in_channels, units) if units else describe(t, first.in_channels),
                  name, comment)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, name + ".unet")
        with open(path, "w") as f:
            f.write(text)
        try:
            ir = spec_mod.load(path, unetgen)
        except spec_mod.SpecError as e:
            raise SpecWriteError("cannot describe the module: the spec read off it is refused:\n%s\n%s" % (text, e))
        try:
            _, report = check_module(ir, model)
        except Exception as e:
            raise SpecWriteError("cannot describe the module: the spec read off it does not compute what it does:\n"
                                 "%s%s" % (text, e))
    if out:
        with open(out, "w") as f:
            f.write(text)
        ir.path = out
    return text, ir, report
