"""MONAI's residual units (`block residual = monai`) as a traced module runs them.

    units = find_units(trace)      # [Unit] in call order, one per sum of a conv path and its shortcut
    spec_has_residual(ir)          # whether the spec's blocks are residual units

A unit is recognised by what makes it one, whatever the module's classes or call style: a sum of two
tensors of one shape, one of them a path of conv units (convs, norms, activations, eval-mode
identities; at least one conv) that starts from a value X and reads nothing else, the other the
shortcut: X itself, or a bare conv of X (no norm or activation after it; MONAI's strided 3x3 or 1x1
projection). Whether the unit is exactly the language's (the shortcut's kernel and stride, the order
the two paths run in) is for the layer-by-layer comparison to decide; this only tells the verifier
that the sum is a residual unit's (so that it is compared, or refused with `block residual = monai`
as the hint) and the spec writer which convs make blocks and which are shortcuts.
"""
from . import tracing as tr

# What a residual unit's conv path may run between its input and its sum.
_PATH_OPS = {"conv2d", "prelu"} | tr.ACT_OPS | tr.NORM_OPS


class Unit:
    """One residual unit in a trace: its sum, its conv path's convs, its shortcut conv (None: identity)."""

    def __init__(self, add, convs, shortcut, x):
        self.add, self.convs, self.shortcut, self.x = add, convs, shortcut, x

    @property
    def output(self):
        return self.add.output

    def where(self):
        return self.add.where()


def _through_identities(v):
    while v is not None and v.producer is not None and tr.is_identity(v.producer) and v.producer.inputs:
        v = v.producer.inputs[0]
    return v


def _path_convs(v, x):
    """The conv2d ops between value X and value V, in call order, when every op on the way is a conv unit's
    and every path back from V reaches X (and nothing else); else None."""
    convs, todo, seen = [], [v], set()
    while todo:
        w = _through_identities(todo.pop())
        if w is x:
            continue
        op = w.producer if w is not None else None
        if op is None or op.kind not in _PATH_OPS and not tr.is_conv_pad(op):
            return None  # the network input, or a concat / pool / add: not one unit's path
        if op.index in seen:
            continue
        seen.add(op.index)
        if op.kind == "conv2d":
            convs.append(op)
        # a weighted op's tensor inputs are its data only (its weights are parameters, not traced values)
        todo.extend(op.inputs[:1])
    return sorted(convs, key=lambda o: o.index) if convs else None


def _unit_of(add):
    """The Unit whose sum is ADD, or None."""
    if add.kind != "add" or len(add.inputs) != 2 or len(add.inputs[0].shape) != 4 \
            or add.inputs[0].shape != add.inputs[1].shape:
        return None
    for path, short in (add.inputs, add.inputs[::-1]):
        s = _through_identities(short)
        shortcut = s.producer if s.producer is not None and s.producer.kind == "conv2d" and s.producer.mapped \
            else None
        x = _through_identities(shortcut.inputs[0]) if shortcut is not None else s
        convs = _path_convs(path, x)
        if convs:
            return Unit(add, convs, shortcut, x)
    return None


def find_units(t):
    """[Unit] of trace T, in call order."""
    return [u for u in (_unit_of(op) for op in t.ops if op.kind == "add") if u is not None]


def spec_residual_adds(ir):
    """Names of IR's residual sums: its add layers other than attention gates' ("<block>.add" of a block
    whose prefix is no gate's, whose product is "<prefix>.gate")."""
    if ir is None:
        return set()
    gates = {l["name"].rsplit(".", 1)[0] for l in ir.layers if l["op"] == "multiply"}
    return {l["name"] for l in ir.layers if l["op"] == "add" and l["name"].rsplit(".", 1)[0] not in gates}


def spec_has_residual(ir):
    return bool(spec_residual_adds(ir))
