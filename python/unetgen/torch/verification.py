"""verify(): does a PyTorch module compute what its spec says? Layer by layer, on random inputs.

    report = verify(user_model, spec_model, ir, canonical_of)   # VerifyError if not

The spec-built module (from_spec) gets the user's weights under their canonical names; both run on
the same random inputs at two sizes the spec takes, in eval mode and float64 (float32 if the user's
module cannot run in float64), and both are traced (unetgen.torch.tracing). The weight-carrying ops
are compared in execution order, input then output, so the first difference is found where it
arises: a differing input means the ops *between* two weight layers differ (an activation, a pool,
an upsampling mode, the skip order, an extra add), a differing output with an equal input means
the layer itself does (stride, dilation, groups, padding, eps). The error names that layer, the
module there, and what it runs that the spec does not, with the spec line to change where the
language can say it.

unsupported() lists, from the trace alone, what the language cannot express at all (other
normalisations and activations, strided / grouped convs, dilations beyond 8, circular padding,
pools other than 2x2 stride 2, arithmetic between tensors), so those are named whatever the numbers
say; what it can (ELU, GELU, dilated convs, replicate / reflect padding, average pools) is left to the
comparison, whose hint names the `block act`, `dilation`, `padding_mode` or `down mode` to set.
Attention gates' arithmetic (a sum, a sigmoid, a product: unetgen.torch.gates) is the language's (`skip gate = attention`): it is
left to the comparison, and gate_difference() names a gate one side has and the other lacks. So are
MONAI's residual units' sums (`block residual = monai`: unetgen.torch.residual) with a residual spec;
against a spec without them such a sum is refused with that setting as the hint, and
residual_difference() names units the spec has and the module lacks. PReLUs (`block act = prelu`)
carry a learnt slope and are compared as weight-carrying ops; act_difference() names PReLUs one
side has and the other not (after the conv units, or after the transposed convs: `up norm`).

norm_difference() compares each conv unit's norm (BatchNorm, InstanceNorm, GroupNorm or none; with
or without affine parameters, its groups, eps, before or after the activation) with the spec's
before any weight is mapped: an affine norm adds a weight module and a non-affine one none, so a
norm of another kind would otherwise surface as a shifted mapping or as a difference a layer later.
"""
import copy
import difflib

import torch

from . import gates as gt
from . import residual as rs
from . import tracing as tr

# max |user - spec| allowed, relative to max(1, max |spec|): rounding only (same ops, same weights).
TOLERANCE = {torch.float64: 1e-9, torch.float32: 2e-5}

ACTIVATIONS = {"leaky_relu", "elu", "gelu", "prelu", "silu", "hardtanh", "tanh", "sigmoid", "softmax", "log_softmax",
               "selu", "celu", "mish", "hardswish", "hardsigmoid", "softplus", "relu6"}
# Normalisations the language has no `block norm` for (tracing.NORM_OPS are those it has).
NORMS = {"layer_norm", "local_response_norm"}
# `block norm` values by the op a module runs, and the module kind the spec's weights name for each.
NORM_OF_OP = {"batch_norm": "batchnorm", "instance_norm": "instance", "group_norm": "group"}
NORM_MODULE = {"batchnorm": "BatchNorm2d", "instance": "InstanceNorm2d", "group": "GroupNorm"}
NORM_CHOICES = "`block norm = none | batchnorm | instance | group`"
# Ops a conv unit's norm may be reached through from its conv: the activation, eval-mode identities,
# another norm. Anything else (a pool, a concat, an add) ends the unit.
_UNIT_OPS = {"prelu"} | tr.ACT_OPS | tr.NORM_OPS | NORMS
# The conv units' activations (`block act = relu | leaky_relu | prelu | elu | gelu`).
UNIT_ACTS = ("relu", "leaky_relu", "prelu", "elu", "gelu")
ACT_NAMES = {"relu": "ReLU", "leaky_relu": "LeakyReLU", "prelu": "PReLU", "elu": "ELU", "gelu": "GELU"}
# The pools of `down mode = maxpool | avgpool`, by op kind: (what the spec does, the setting).
POOLS = {"max_pool2d": ("max-pools", "maxpool"), "avg_pool2d": ("average-pools", "avgpool")}
ARITHMETIC = {"add", "sub", "mul", "div", "rsub"}
SHAPE_OPS = {"view", "reshape", "flatten", "squeeze", "unsqueeze", "permute", "transpose"}


class VerifyError(Exception):
    pass


def _max_diff(a, b):
    if a is None or b is None or tuple(a.shape) != tuple(b.shape):
        return float("inf")
    return float((a.double() - b.double()).abs().max()) if a.numel() else 0.0


def _bound(dtype, ref):
    return TOLERANCE[dtype] * max(1.0, float(ref.abs().max()) if ref is not None and ref.numel() else 1.0)


class Naming:
    """Canonical names for both traces: module -> canonical module -> IR layer."""

    def __init__(self, ir, canonical_of):
        self.ir = ir
        self.canonical_of = canonical_of            # user module qualified name -> canonical module name
        self.layer_of = {w["module"]: w["layer"] for w in ir.weights}

    def layer(self, op, user):
        if op is None:
            return "input"
        name = op.weight_module_name
        return self.layer_of.get(self.canonical_of.get(name, name) if user else name, name)


def _signatures(t, ops, naming, user):
    out = []
    for op in ops:
        s = op.signature()
        if op.kind == "cat":
            s += "[" + ", ".join(naming.layer(tr.source_of(t, v), user) for v in op.inputs) + "]"
        out.append(s)
    return out


def _hint(ir, u, s, after_op=None, moved=False):
    """A sentence on what to change, for module op U (or None) where the spec runs S (or None).

    MOVED: a norm with the same signature runs on the other side too, only elsewhere in the slice
    (its position, `block order`, is what differs)."""
    kind_u, kind_s = (u.kind if u else None), (s.kind if s else None)
    if kind_s == "interpolate" and s.layer in gt.gate_resizes(ir):
        return ("the spec's attention gate resizes its map bilinearly to the skip's size with align_corners = false, "
                "as Oktay et al.'s code does (%s)" % ir.where("skip"))
    if kind_u == "interpolate" and kind_s in ("interpolate", None):
        ac = ", align_corners = %s" % str(u.attrs.get("align_corners")).lower() if "align_corners" in u.attrs else ""
        if u.attrs.get("scale") == 2 and u.attrs.get("mode") in ("bilinear", "nearest"):
            return "set `up mode = %s%s` (%s)" % (u.attrs["mode"], ac, ir.where("up"))
        return "the language upsamples by 2 with `up mode = transposed | bilinear | nearest` (%s)" % ir.where("up")
    if kind_u == "cat" and kind_s == "cat":
        return "if only the order differs, swap `skip order` (%s)" % ir.where("skip")
    if kind_u == "slice" and kind_s in ("pad", None):
        return "the module crops the skip: `skip match = crop` (%s)" % ir.where("skip")
    if kind_u == "pad" and u.module_type in ("Conv2d", "ConvTranspose2d"):
        if u.attrs.get("mode") in ("replicate", "reflect"):
            return "set `block padding_mode = %s` (%s)" % (u.attrs["mode"], ir.where("block"))
        return "%s pads with mode '%s' (padding_mode); the language's convs pad with zeros, replicate or reflect " \
               "(`block padding_mode`)" % (u.where(), u.attrs.get("mode"))
    if kind_s == "pad" and s.module_type == "Conv2d" and kind_u is None:
        return "the module's convs pad with zeros: set `block padding_mode = zeros` (%s)" % ir.where("block")
    if kind_u == "pad" and kind_s in ("slice", None):
        if u.attrs.get("mode") == "constant" and not u.attrs.get("value"):
            return "the module zero-pads the upsampled tensor: `skip match = pad` (%s)" % ir.where("skip")
        if u.attrs.get("mode") == "replicate":
            return "the module replicates the upsampled tensor's edge: `skip match = replicate` (%s)" % ir.where("skip")
        return "the language pads skips with zeros, or replicates their edge (%s)" % ir.where("skip")
    if kind_u in NORMS:
        return "the language's norms are %s (%s)" % (NORM_CHOICES, ir.where("block"))
    if kind_u in tr.NORM_OPS and moved:
        return "the module runs %s elsewhere in the unit: see `block order` (%s)" % (u.signature(), ir.where("block"))
    if kind_u in tr.NORM_OPS:
        return "set `block %s` (%s)" % (norm_setting(op_norm(u)), ir.where("block"))
    if kind_s in tr.NORM_OPS and kind_u is None:
        if moved:
            return "the module runs it elsewhere in the unit: see `block order` (%s)" % ir.where("block")
        return "the module has no norm here: set `block norm = none` (%s)" % ir.where("block")
    if kind_u in tr.ACT_OPS and kind_s in tr.ACT_OPS:
        return _act_hint(ir, u, s)
    if kind_u in ACTIVATIONS or kind_u == "relu" and kind_s in ACTIVATIONS:
        return ("the language applies ReLU, LeakyReLU, PReLU, ELU or GELU (`block act`) after every conv unit and "
                "nothing else inside the network but an attention gate's sigmoid (%s)" % ir.where("block"))
    if kind_u == "relu" and kind_s is None:
        if after_op is not None and after_op.kind in tr.NORM_OPS or moved:
            return "if the norm follows the ReLU, set `block order = conv_relu_norm` (%s)" % ir.where("block")
        return "an extra ReLU, which the spec does not have here"
    if kind_s == "relu" and kind_u is None:
        if after_op is not None and after_op.kind in tr.NORM_OPS or moved:
            return "if the norm comes before the ReLU, set `block order = conv_norm_relu` (%s)" % ir.where("block")
        return "the spec puts a ReLU after every conv unit (%s)" % ir.where("block")
    if kind_s in POOLS and kind_u is None:
        return ("the spec %s 2x2 between levels (%s); the module does not (if its levels' first convs have "
                "stride 2, set `down mode = conv`)" % (POOLS[kind_s][0], ir.where("down")))
    if kind_u in POOLS:
        a = u.attrs
        if (a.get("kernel"), a.get("stride"), a.get("padding"), a.get("ceil_mode")) != (2, 2, 0, False) \
                or a.get("dilation", 1) != 1 or "divisor_override" in a:
            return "the language downsamples with 2x2 stride-2 max or average pools (`down mode = maxpool | " \
                   "avgpool`) or stride-2 convs (`conv`) (%s)" % ir.where("down")
        return "the module %s 2x2 between levels%s: set `down mode = %s` (%s)" % (
            POOLS[kind_u][0], " where the spec " + POOLS[kind_s][0] if kind_s in POOLS else "", POOLS[kind_u][1],
            ir.where("down"))
    if kind_u == "add" and rs.spec_has_residual(ir):
        return "the spec's residual units (`block residual = monai`) sum a block's convs and its shortcut only " \
               "(%s)" % ir.where("block")
    if kind_u in ARITHMETIC:
        return "an extra %s, which the language cannot express (a residual connection, a scale, an in-network " \
               "normalisation?)" % kind_u
    return ""


def _act_hint(ir, u, s):
    """The `block act` to set where module op U and the spec's S are different conv-unit activations."""
    ku, ks = u.kind, s.kind
    if ku == "elu" and float(u.attrs.get("alpha", 1.0)) != 1.0:
        return "the language's ELU (`block act = elu`) has alpha 1, the module's %g" % u.attrs["alpha"]
    if ku == "gelu" and u.attrs.get("approximate", "none") != "none":
        return "the language's GELU (`block act = gelu`) is the exact erf form (approximate='none'), the module's " \
               "approximate='%s'" % u.attrs["approximate"]
    if ku == "relu":
        return "the module runs ReLU where the spec has %s: set `block act = relu` (%s)" % (ACT_NAMES[ks],
                                                                                           ir.where("block"))
    setting = "leaky_relu, slope = %g" % u.attrs.get("negative_slope", 0.01) if ku == "leaky_relu" else ku
    return "set `block act = %s` (%s)" % (setting, ir.where("block"))


def _slice_difference(tu, us, ts, ss, naming, ir, next_op):
    """Sentences for the ops that differ between the module's slice US and the spec's slice SS."""
    su, sp = _signatures(tu, us, naming, True), _signatures(ts, ss, naming, False)
    both = {sig for sig, op in zip(su, us) if op.kind in tr.NORM_OPS} & \
        {sig for sig, op in zip(sp, ss) if op.kind in tr.NORM_OPS}
    lines = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=su, b=sp, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        pairs = max(i2 - i1, j2 - j1)
        for n in range(pairs):
            u = us[i1 + n] if i1 + n < i2 else None
            s = ss[j1 + n] if j1 + n < j2 else None
            if u is not None and s is not None:
                text = "the module runs %s (in %s) where the spec runs %s" % (su[i1 + n], u.where(), sp[j1 + n])
            elif u is not None:
                text = "the module runs %s (in %s), which the spec does not" % (su[i1 + n], u.where())
            else:
                text = "the spec runs %s (layer %s), which the module does not" % (sp[j1 + n], s.layer or "?")
            hint = _hint(ir, u, s, next_op, moved=bool(both))
            lines.append(text + (": " + hint if hint else ""))
    return lines


# Attributes recorded only when they differ from these (tracing._attrs), as read where they are absent.
_ATTR_DEFAULTS = {"use_input_stats": True}


def _attr_difference(u, s, ir):
    out = []
    ua = dict(_ATTR_DEFAULTS, **u.attrs)
    sa = dict(_ATTR_DEFAULTS, **s.attrs)
    for key in sorted(set(u.attrs) | set(s.attrs)):
        if ua.get(key) != sa.get(key):
            out.append("%s %s where the spec has %s" % (key, ua.get(key), sa.get(key)))
    dilation = ua.get("dilation")
    notes = {"stride": "stride 2 in each level's first conv is `down mode = conv`; every other conv has stride 1 (%s)"
                       % ir.where("down"),
             "dilation": "set `block dilation = %s` (%s)" % (dilation, ir.where("block"))
                         if u.kind == "conv2d" and isinstance(dilation, int) and 1 <= dilation <= 8
                         else "the language's convs have one dilation 1..8 (`block dilation`), its transposed convs 1",
             "groups": "the language has no grouped convs",
             "padding": "`block padding = same` pads dilation * (kernel / 2) each side, `valid` pads 0 (%s)"
                        % ir.where("block"),
             "eps": "set `block eps` (%s)" % ir.where("block"),
             "num_groups": "set `block groups` to the module's (%s)" % ir.where("block"),
             "affine": "set `block affine` to the module's (%s)" % ir.where("block"),
             "use_input_stats": "the module normalises with running statistics (track_running_stats=True), the "
                                "language with each sample's own"}
    differ = {k for k in set(u.attrs) | set(s.attrs) if ua.get(k) != sa.get(k)}
    # same padding follows the dilation: a padding that differs only with it needs no hint of its own
    k = u.weight_module.weight.shape[-1] if u.kind == "conv2d" and u.weight_module is not None else None
    if k and "dilation" in differ and all(isinstance(a.get("dilation"), int) and
                                          a.get("padding") == a["dilation"] * (k // 2) for a in (ua, sa)):
        differ.discard("padding")
    hints = [notes[k] for k in sorted(differ) if k in notes]
    return out, hints


# ---- conv units' norms ------------------------------------------------------------------------
def op_norm(op, channels=None):
    """The `block` norm settings {norm, affine, groups, eps} module op OP (a norm) stands for; CHANNELS is
    its width (an InstanceNorm's groups)."""
    if op.kind == "batch_norm":
        # a BatchNorm is mapped through its running statistics whatever its weight (tracing._KEY_ARGS)
        affine = op.weight_module is not None and getattr(op.weight_module, "weight", None) is not None
    else:
        affine = bool(op.attrs.get("affine"))
    groups = op.attrs.get("num_groups") if op.kind == "group_norm" else channels
    return {"norm": NORM_OF_OP.get(op.kind, op.kind), "affine": affine, "groups": groups, "eps": op.attrs.get("eps")}


def spec_norm(layer):
    """The norm settings {norm, affine, groups, eps, order} of IR conv layer LAYER (defaults as the compiler's)."""
    norm = layer.get("norm", "none")
    # the language's BatchNorm always has gamma and beta (`affine = false` is refused with it), whatever
    # norm_affine says for it; instance and group take theirs from the spec (defaults as PyTorch's modules)
    affine = True if norm == "batchnorm" else bool(layer.get("norm_affine", norm == "group"))
    return {"norm": norm, "affine": affine,
            "groups": layer.get("norm_groups", layer.get("out_channels") if norm == "instance" else None),
            "eps": layer.get("eps", 1e-5), "order": layer.get("norm_order", "conv_norm_relu")}


def norm_setting(d):
    """The `block` keys that select norm D: 'norm = group, groups = 2, affine = true'."""
    if d["norm"] == "group":
        return "norm = group, groups = %s, affine = %s" % (d["groups"], str(d["affine"]).lower())
    if d["norm"] == "instance":
        return "norm = instance, affine = %s" % str(d["affine"]).lower()
    return "norm = %s" % d["norm"]


def _spec_text(d):
    if d["norm"] == "none":
        return "norm = none"
    return "%s, eps = %r, order = %s" % (norm_setting(d), float(d["eps"]), d["order"])


def _owner(op):
    """Where norm op OP runs: its weight module if it has one, else the module executing it."""
    if op.weight_module is not None:
        return "%s '%s'" % (type(op.weight_module).__name__, op.weight_module_name)
    return op.where()


def _unit_norms(t):
    """{index of a conv op: [(norm op, whether an activation runs between the conv and it)]} of trace T.

    A norm belongs to the conv its first input comes from through activations, eval-mode identities
    and other norms only; one after a pool, a concat or an add belongs to no conv unit (and is left to
    the layer-by-layer comparison)."""
    units = {}
    for op in t.ops:
        if op.kind not in tr.NORM_OPS and op.kind not in NORMS:
            continue
        v, act = (op.inputs[0] if op.inputs else None), False
        while v is not None and v.producer is not None and v.producer.kind not in ("conv2d", "conv_transpose2d"):
            p = v.producer
            if p.kind not in _UNIT_OPS and not tr.is_identity(p):
                v = None
                break
            act = act or p.kind in UNIT_ACTS
            v = p.inputs[0] if p.inputs else None
        if v is not None and v.producer is not None:
            units.setdefault(v.producer.index, []).append((op, act))
    return units


def _close(a, b):
    return a is not None and b is not None and abs(float(a) - float(b)) <= 1e-9 * max(abs(float(a)), abs(float(b)))


def norm_difference(t, ir):
    """A sentence on the first conv unit whose norm in module trace T differs from the spec's (kind, affine,
    groups, eps, position), or None when all agree.

    Only when the module's convs are the spec's (count and shapes, in execution order): a module of
    another shape is left to the mapping, which names its first differing conv."""
    convs = [op for op in t.mapped if op.kind == "conv2d"]
    layers = [l for l in ir.layers if l["op"] in ("conv", "head")]
    shapes = {w["name"]: list(w["shape"]) for w in ir.weights}
    if len(convs) != len(layers) or any(list(c.weight_module.weight.shape) != shapes.get(l["conv_module"] + ".weight")
                                        for c, l in zip(convs, layers)):
        return None
    units = _unit_norms(t)
    block = ir.where("block")
    for c, layer in zip(convs, layers):
        want, found = spec_norm(layer), units.get(c.index, [])
        where = "the norms part at conv unit %s (the module's %s '%s'%s)" % (
            layer["name"], type(c.weight_module).__name__, c.weight_module_name,
            ", the spec's norm module %s" % layer["bn_module"] if want["norm"] != "none" and layer.get("bn_module")
            else "")
        if len(found) > 1:
            return "%s: the module runs %d norms after the conv (%s), the language one at most (%s)" % (
                where, len(found), ", ".join("%s in %s" % (op.signature(), _owner(op)) for op, _ in found), block)
        if not found:
            if want["norm"] == "none":
                continue
            return "%s: the module runs no norm after the conv, where the spec has `%s`: set `block norm = none` (%s)" \
                % (where, _spec_text(want), block)
        op, act = found[0]
        got = dict(op_norm(op, c.weight_module.weight.shape[0]), order="conv_relu_norm" if act else "conv_norm_relu")
        # groups only tell GroupNorms apart (an InstanceNorm's are its width, which the conv shapes fix)
        same_groups = got["norm"] != "group" or got["groups"] == want["groups"]
        if got["norm"] == want["norm"] and got["affine"] == want["affine"] and same_groups \
                and _close(got["eps"], want["eps"]) and (got["order"] == want["order"] or want["norm"] == "none"):
            continue
        said = "%s: the module runs %s (in %s) %s the activation, where the spec has `%s`" % (
            where, op.signature(), _owner(op), "after" if act else "before", _spec_text(want))
        if got["norm"] not in NORM_MODULE:
            return "%s: the language's norms are %s (%s)" % (said, NORM_CHOICES, block)
        if got["norm"] == "batchnorm" and not got["affine"]:
            return "%s: the language's BatchNorm has affine parameters (`affine = false` is for instance and group) " \
                   "(%s)" % (said, block)
        if got["norm"] != want["norm"] or got["affine"] != want["affine"]:
            change = [norm_setting(got)]
        elif not same_groups:
            change = ["groups = %s" % got["groups"]]
        else:
            change = []
        if not _close(got["eps"], want["eps"]):
            change.append("eps = %r" % float(got["eps"]))
        if got["order"] != want["order"]:
            change.append("order = " + got["order"])
        return "%s: set `block %s` (%s)" % (said, ", ".join(change), block)
    return None


def gate_difference(t, ir, gates=None):
    """A sentence when module trace T gates skips with attention (GATES: unetgen.torch.gates.find_gates(T)) and
    the spec IR does not, or the other way round, or they gate a different number of skips; else None."""
    gates = gt.find_gates(t) if gates is None else gates
    spec_gates = sum(l["op"] == "multiply" for l in ir.layers)
    if bool(gates) == bool(spec_gates) and (not gates or len(gates) == spec_gates):
        return None
    where = ", ".join(sorted({g.where() for g in gates}))
    if gates and not spec_gates:
        return ("the module gates %d skip(s) with attention (a sigmoid'ed one-channel conv, resized and multiplied "
                "with the skip, in %s), which the spec does not: set `skip gate = attention` (%s)"
                % (len(gates), where, ir.where("skip")))
    if spec_gates and not gates:
        return ("the spec gates %d skip(s) with attention (%s); the module multiplies no skip by a sigmoid map: "
                "`skip gate = none` if it has no gates" % (spec_gates, ir.where("skip")))
    return ("the module gates %d skip(s) (in %s), the spec's `skip gate = attention` %d: those of decoder levels "
            "1..depth-2, the top skip not (%s)" % (len(gates), where, spec_gates, ir.where("skip")))


def spec_act(ir):
    """The spec's `block act` as its IR says it: 'prelu', 'leaky_relu', 'elu', 'gelu' or 'relu' (that of its conv
    units with one; an IR without "act" had the first three only)."""
    units = [l for l in ir.layers if l["op"] in ("conv", "conv_transpose") and l.get("relu")]
    if any(l.get("prelu_module") for l in units):
        return "prelu"
    acts = [l["act"] for l in units if l.get("act") and l["act"] != "relu"]
    if acts:
        return acts[0]
    return "leaky_relu" if any(l.get("relu_slope") for l in units) else "relu"


def _names(ops):
    more = " and %d more" % (len(ops) - 1) if len(ops) > 1 else ""
    return "%s '%s'%s" % (type(ops[0].weight_module).__name__, ops[0].weight_module_name, more)


def act_difference(t, ir):
    """A sentence when module trace T's conv units end in PReLUs and the spec's not, or the other way round, or
    when the two put them after transposed convs differently (`up norm`); else None.

    A PReLU carries a weight, so such a difference would otherwise surface as a shifted mapping."""
    prelus = [op for op in t.mapped if op.kind == "prelu"]
    spec = [l for l in ir.layers if l.get("prelu_module")]
    block = ir.where("block")
    if prelus and not spec:
        return ("the module's conv units end in a PReLU (%s), the spec's in %s: set `block act = prelu` (%s)"
                % (_names(prelus), spec_act(ir), block))
    if spec and not prelus:
        acts = sorted({op.kind for op in t.ops if op.kind in UNIT_ACTS})
        return ("the spec's conv units end in a PReLU (`act = prelu`, %s); the module runs %s: set `block act = %s`"
                % (block, " and ".join(acts) or "no activation",
                   acts[0] if len(acts) == 1 else "relu | leaky_relu | elu | gelu"))
    if not prelus:
        return None
    # after which kind of layer each runs: the weighted op its input comes from
    after_up = [op for op in prelus if (tr.source_of(t, op.inputs[0]) or op).kind == "conv_transpose2d"]
    spec_up = [l for l in spec if l["op"] == "conv_transpose"]
    if after_up and not spec_up:
        return ("the module's transposed convs are followed by a norm and a PReLU (%s), the spec's by nothing: set "
                "`up norm = true` (%s)" % (_names(after_up), ir.where("up")))
    if spec_up and not after_up:
        return ("the spec's transposed convs are followed by the block's norm and PReLU (`up norm = true`, %s); the "
                "module's are not: set `up norm = false`" % ir.where("up"))
    return None


def residual_difference(t, ir, units=None):
    """A sentence when the spec's blocks are residual units (`block residual = monai`) and module trace T sums
    no conv path with its shortcut (UNITS: unetgen.torch.residual.find_units(T)), or their counts differ; else None.
    (A module with units against a spec without them is named by unsupported().)"""
    units = rs.find_units(t) if units is None else units
    spec = rs.spec_residual_adds(ir)
    late = [u for u in units if u.shortcut is not None and u.shortcut.index > u.convs[0].index]
    if spec and late:
        # the spec's weights list the shortcut first, as MONAI runs it; the mapping goes by execution order
        return ("the module runs the shortcut conv of %s (%s '%s') after the unit's convs; the spec's residual units "
                "run it first, as MONAI's ResidualUnit does, and list its weights first (%s): compute the shortcut "
                "first in forward()" % (late[0].where(), type(late[0].shortcut.weight_module).__name__,
                                        late[0].shortcut.weight_module_name, ir.where("block")))
    if not spec or len(units) == len(spec):
        return None
    if not units:
        return ("the spec's blocks are residual units (`block residual = monai`, %s): a block's convs plus a shortcut; "
                "the module sums no conv path with its shortcut: `block residual = none` if it has none"
                % ir.where("block"))
    return ("the module has %d residual units (sums of a conv path and its shortcut, in %s), the spec %d: one per "
            "encoder and decoder block (%s)" % (len(units), ", ".join(sorted({u.where() for u in units})), len(spec),
                                                 ir.where("block")))


def unsupported(t, ir):
    """Sentences naming each construct of trace T the spec language cannot express (empty when none)."""
    found = {}
    tail = {op.index for op in tr.slice_back(t, t.output)} if t.output is not None else set()
    # attention gates' sum, sigmoid, resize and product are the language's; with a gated spec any such op
    # is left to the comparison, which names the first that differs from the spec's
    gate_ops = set().union(*[g.ops for g in gt.find_gates(t)])
    gated_spec = gt.spec_has_gates(ir)
    # residual units' sums likewise with a `residual = monai` spec; without a spec (the spec writer, which
    # writes that setting for them) those recognised as units' are the language's too
    residual_spec = rs.spec_has_residual(ir)
    unit_adds = {u.add.index for u in rs.find_units(t)}

    def add(op, rule):
        key = (op.module_type if op.module_name else "", op.signature(), rule)
        found.setdefault(key, []).append(op.module_name)

    for op in t.ops:
        k, a = op.kind, op.attrs
        if op.index in gate_ops or gated_spec and (k in ("add", "mul") and len(op.inputs) == 2 or k == "sigmoid"):
            continue
        if k == "add" and len(op.inputs) == 2 and (residual_spec or ir is None and op.index in unit_adds):
            continue
        if k == "conv2d":
            if a.get("stride") not in (1, 2):
                add(op, "a conv with stride %s (the language's convs have stride 1, or 2 as the first conv of a level "
                        "with `down mode = conv`)" % (a.get("stride"),))
            if not (isinstance(a.get("dilation"), int) and 1 <= a["dilation"] <= 8):
                add(op, "a conv with dilation %s (the language's `block dilation` is one integer 1..8 for both axes)"
                    % (a.get("dilation"),))
            if a.get("groups") != 1:
                add(op, "a grouped conv (the language has none)")
        elif k == "conv_transpose2d":
            if a.get("dilation") != 1 or a.get("groups") != 1:
                add(op, "a dilated or grouped transposed conv (the language has none)")
        elif k in NORMS:
            add(op, "a normalisation other than BatchNorm, InstanceNorm and GroupNorm (the language's `block norm` "
                    "is none, batchnorm, instance or group)")
        elif k == "instance_norm" and a.get("use_input_stats") is False:
            add(op, "an InstanceNorm with running statistics (track_running_stats=True; the language's `block norm = "
                    "instance` normalises with each sample's own statistics, in eval too)")
        elif k in ("sigmoid", "softmax") and op.index in tail:
            continue  # the output activation: the comparison with the spec's `output activation` decides
        elif k == "elu" and float(a.get("alpha", 1.0)) != 1.0:
            add(op, "an ELU with alpha %g (the language's `block act = elu` has alpha 1)" % a["alpha"])
        elif k == "gelu" and a.get("approximate", "none") != "none":
            add(op, "GELU's '%s' approximation (the language's `block act = gelu` is the exact erf form)"
                % a["approximate"])
        elif k in ("leaky_relu", "prelu", "elu", "gelu"):
            continue  # `block act = leaky_relu, slope = ...`, `prelu`, `elu` or `gelu`: the comparison decides
        elif k in ACTIVATIONS:
            add(op, "an activation other than ReLU, LeakyReLU, PReLU, ELU or GELU inside the network (`block act`)")
        elif k == "pad" and a.get("mode") == "replicate" and op.module_type not in ("Conv2d", "ConvTranspose2d"):
            continue  # MONAI's UpCat: `skip match = replicate`; the comparison with the spec decides
        elif tr.is_conv_pad(op) and a.get("mode") in ("replicate", "reflect"):
            continue  # `block padding_mode = replicate | reflect`: the comparison with the spec decides
        elif tr.is_conv_pad(op):
            add(op, "a conv with padding_mode '%s' (the language's `block padding_mode` is zeros, replicate or "
                    "reflect)" % a.get("mode"))
        elif k == "pad" and (a.get("mode") != "constant" or a.get("value")):
            add(op, "padding with mode '%s' (the language pads with zeros, or replicates the upsampled tensor's "
                    "edge to its skip's size: `skip match = replicate`)" % a.get("mode"))
        elif k in POOLS and ((a.get("kernel"), a.get("stride"), a.get("padding"), a.get("dilation", 1),
                              a.get("ceil_mode")) != (2, 2, 0, 1, False) or "divisor_override" in a):
            add(op, "a pool other than a 2x2 max or average pool with stride 2 (`down mode = maxpool | avgpool`)")
        elif k == "interpolate" and (a.get("scale") != 2 or a.get("mode") not in ("bilinear", "nearest")):
            add(op, "resizing other than x2 bilinear or nearest (`up mode`)")
        elif k in ARITHMETIC and op.index in unit_adds:
            add(op, "an add of two tensors outside an attention gate: a residual unit's sum (a path of conv units "
                    "plus its shortcut, the input or a conv of it, as MONAI's ResidualUnit computes), which the spec "
                    "does not have: set `block residual = monai` (%s)" % ir.where("block"))
        elif k in ARITHMETIC:
            tensors = len(op.inputs)
            add(op, "an %s of two tensors outside an attention gate (a residual connection? the language %s "
                    "tensors only in `skip gate = attention` and `block residual = monai`)"
                % (k, "sums" if k == "add" else "multiplies")
                if tensors > 1 and k in ("add", "mul") else
                "a %s of two tensors (the language has none)" % k if tensors > 1
                else "%s %s with a constant (the language has none inside the network)"
                % ("an" if k == "add" else "a", k))
        elif k in ("relu", "max_pool2d", "avg_pool2d", "interpolate", "cat", "slice", "pad", "conv_transpose2d") \
                or k in tr.NORM_OPS \
                or k in tr.IDENTITY and tr.is_identity(op) or k in SHAPE_OPS:
            continue
        else:
            add(op, "an op the language has no counterpart for")
    out = []
    for (mtype, sig, rule), names in found.items():
        where = "%s '%s'" % (mtype, names[0]) if mtype else "the model's forward()"
        more = " (and %d more)" % (len(names) - 1) if len(names) > 1 else ""
        out.append("%s%s runs %s: %s" % (where, more, sig, rule))
    return out


def report_text(ir, report):
    """'3x48x49 and 3x51x50 (float64, max |diff| 0); it returns logits' for a verify() report."""
    sizes = " and ".join("%dx%dx%d" % ((ir.in_channels,) + tuple(s)) for s, _, _, _ in report)
    worst = max(d for _, d, _, _ in report)
    return "%s (%s, max |diff| %.2g); it returns %s" % (sizes, str(report[0][3]).replace("torch.", ""), worst,
                                                        report[0][2])


def _as(model, dtype):
    m = copy.deepcopy(model).to(dtype)
    m.eval()
    return m


def _trace_module(model, x):
    try:
        return tr.trace(model, x)
    except Exception as e:
        raise VerifyError("the module cannot run input %s, which the spec takes: %s: %s"
                          % ("x".join(str(v) for v in x.shape), type(e).__name__, e))


def verify(user_model, spec_model, ir, canonical_of, sizes=None, seed=0):
    """Compares the two modules; returns [(size, max |diff|, 'logits' | 'probabilities', dtype)] or raises VerifyError."""
    naming = Naming(ir, canonical_of)
    sizes = sizes or ir.verification_sizes()
    dtype = torch.float64
    g = torch.Generator().manual_seed(seed)
    xs = [torch.randn((1, ir.in_channels) + tuple(s), generator=g, dtype=torch.float64) for s in sizes]
    user, spec = _as(user_model, dtype), _as(spec_model, dtype)
    report = []
    for size, x in zip(sizes, xs):
        shape = "x".join(str(v) for v in x.shape)
        try:
            tu = _trace_module(user, x.to(dtype))
        except VerifyError:
            if report or dtype != torch.float64:
                raise
            # A module that builds float32 tensors inside forward(): compare in float32.
            dtype = torch.float32
            user, spec = _as(user_model, dtype), _as(spec_model, dtype)
            tu = _trace_module(user, x.to(dtype))
        x = x.to(dtype)
        ts = tr.trace(spec, x)
        if len(tu.mapped) != len(ts.mapped):
            raise VerifyError("on input %s the module runs %d conv / norm layers with weights, the spec %d"
                              % (shape, len(tu.mapped), len(ts.mapped)))
        worst = 0.0
        for k, (u, s) in enumerate(zip(tu.mapped, ts.mapped), 1):
            where = "%s (module #%d, %s '%s')" % (s.weight_module_name, k, type(u.weight_module).__name__,
                                                  u.weight_module_name)
            d_in = _max_diff(u.in_data, s.in_data)
            if d_in > _bound(dtype, s.in_data):
                us, ss = tr.slice_back(tu, u.inputs[0]), tr.slice_back(ts, s.inputs[0])
                lines = _slice_difference(tu, us, ts, ss, naming, ir, u)
                shapes = "" if tuple(u.in_data.shape) == tuple(s.in_data.shape) else \
                    " (shape %s, the spec's %s)" % (list(u.in_data.shape), list(s.in_data.shape))
                if not lines:
                    lines = ["the same ops run on the way there, so their inputs differ upstream"]
                raise VerifyError("the module and the spec part at the input of %s, on input %s: max |diff| %.3g%s:\n  - %s"
                                  % (where, shape, d_in, shapes, "\n  - ".join(lines)))
            d_out = _max_diff(u.out_data, s.out_data)
            if d_out > _bound(dtype, s.out_data):
                diffs, hints = _attr_difference(u, s, ir)
                what = "; ".join(diffs) or "its attributes agree, so the weights are used differently"
                raise VerifyError("the module and the spec part at the output of %s, on input %s: max |diff| %.3g: "
                                  "%s runs %s: %s%s" % (where, shape, d_out, u.where(), u.signature(), what,
                                                        (" (" + "; ".join(hints) + ")") if hints else ""))
            worst = max(worst, d_out)
        logits = ts.output_data
        probs = spec.apply_activation(logits)
        got = tu.output_data
        d_logits, d_probs = _max_diff(got, logits), _max_diff(got, probs)
        if d_logits <= _bound(dtype, logits):
            report.append((size, max(worst, d_logits), "logits", dtype))
            continue
        if ir.activation != "none" and d_probs <= _bound(dtype, probs):
            report.append((size, max(worst, d_probs), "probabilities", dtype))
            continue
        us = tr.slice_back(tu, tu.output) if tu.output is not None else []
        tail = ", ".join(op.signature() + " (in " + op.where() + ")" for op in us) or "nothing"
        raise VerifyError("the module's output differs from the spec's on input %s (max |diff| %.3g from its logits, "
                          "%.3g from its probabilities) though every layer agrees: after the head the module runs %s; "
                          "the spec's output activation is %s (%s)"
                          % (shape, d_logits, d_probs, tail, ir.activation, ir.where("output")))
    return report
