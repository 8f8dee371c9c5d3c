"""Attention gates (Oktay et al. 2018, `skip gate = attention`) as a traced module runs them.

    gates = find_gates(trace)      # [Gate] in call order, one per gated skip
    spec_has_gates(ir)             # whether the spec's IR has them

A gate is recognised by what makes it one, whatever the module's classes or call style: a product of
a tensor x (the skip) and a one-channel map alpha of x's size, where alpha is a sigmoid of a
one-channel conv's output (psi) resized to x's grid (the gate computes it on the coarser grid of its
gating signal; a map of x's own grid, as a spatial squeeze-and-excitation has, is no gate). What feeds psi (the additive part: theta(x) + phi(g)
through a ReLU) and what follows the product (the W and combine conv units) are recorded when
present, so that the spec writer can tell the gate's convs from the U-Net's and the verifier can
leave the gate's arithmetic to the layer-by-layer comparison; whether they are exactly the
language's gate is for that comparison to decide.
"""
from . import tracing as tr


class Gate:
    """One attention gate in a trace: its ops (tracing.Op) and the values it reads."""

    def __init__(self, mul, alpha, x):
        self.mul, self.alpha, self.x = mul, alpha, x
        self.sigmoid = self.resize = self.psi = self.add = None
        self.theta = self.phi = None        # the convs whose sum psi reads (None where the sum is not theirs)
        self.after = []                     # the convs between the product and the concat that takes it
        self.gating = None                  # the conv unit making the gating signal, where it serves gates only
        self.ops = set()                    # indices of its non-weight ops (product, sigmoid, resize, sum)

    def convs(self):
        """The gate's own conv ops (theta, phi, psi, W, combine), those found."""
        return [c for c in [self.theta, self.phi, self.psi] + self.after if c is not None]

    def where(self):
        return self.mul.where()


def spec_has_gates(ir):
    """Whether IR (a SpecIR, or None) gates skips: its layers include the gate's product."""
    return ir is not None and any(l["op"] == "multiply" for l in ir.layers)


def gate_resizes(ir):
    """Names of IR's upsample layers that resize a gate's map (those a multiply takes)."""
    if ir is None:
        return set()
    ups = {l["name"] for l in ir.layers if l["op"] == "upsample"}
    return {n for l in ir.layers if l["op"] == "multiply" for n in l["inputs"] if n in ups}


def _through_identities(v):
    """The first value before V that is not the output of an eval-mode identity op (dropout, contiguous, ...)."""
    while v is not None and v.producer is not None and tr.is_identity(v.producer) and v.producer.inputs:
        v = v.producer.inputs[0]
    return v


def unit_conv(v):
    """The conv2d op whose unit produced value V (through its norm, activation and identities), or None."""
    while v is not None and v.producer is not None:
        p = v.producer
        if p.kind == "conv2d":
            return p
        if p.kind not in tr.NORM_OPS and p.kind not in tr.ACT_OPS and not tr.is_identity(p):
            return None
        v = p.inputs[0] if p.inputs else None
    return None


def _consumers(t):
    out = {}
    for op in t.ops:
        for v in op.inputs:
            out.setdefault(v.index, []).append(op)
    return out


def _alpha_chain(alpha):
    """(sigmoid op, resize op, psi conv op) when ALPHA is sigmoid(conv_1ch(...)) resized, else None."""
    v = _through_identities(alpha)
    if v is None or v.producer is None or v.producer.kind != "interpolate":
        return None
    resize = v.producer
    v = _through_identities(resize.inputs[0] if resize.inputs else None)
    if v is None or v.producer is None or v.producer.kind != "sigmoid" or not v.producer.inputs:
        return None
    sigmoid = v.producer
    src = _through_identities(sigmoid.inputs[0])
    psi = src.producer if src is not None else None
    if psi is None or psi.kind != "conv2d" or not psi.mapped or psi.output.shape[1] != 1:
        return None
    return sigmoid, resize, psi


def find_gates(t):
    """[Gate] of trace T, in call order."""
    consumers = _consumers(t)
    gates = []
    for op in t.ops:
        if op.kind != "mul" or len(op.inputs) != 2:
            continue
        for i in (0, 1):
            alpha, x = op.inputs[i], op.inputs[1 - i]
            # the map is one channel of the skip's grid, broadcast over the skip's channels
            if len(alpha.shape) != 4 or len(x.shape) != 4 or alpha.shape[1] != 1 or x.shape[1] == 1 \
                    or alpha.shape[2:] != x.shape[2:]:
                continue
            chain = _alpha_chain(alpha)
            if chain is None:
                continue
            g = Gate(op, alpha, x)
            g.sigmoid, g.resize, g.psi = chain
            g.ops = {op.index, g.sigmoid.index, g.resize.index}
            # the additive part: the ops between psi and the convs before it, a sum of two of them among them
            for q in tr.slice_back(t, g.psi.inputs[0]):
                if q.kind == "add" and len(q.inputs) == 2:
                    a, b = (unit_conv(v) for v in q.inputs)
                    if a is not None and b is not None and a is not b:
                        g.add, g.ops = q, g.ops | {q.index}
                        # theta reads the skip (it sub-samples it onto the gating grid), phi the signal
                        g.theta, g.phi = (a, b) if _reads(a, x) or not _reads(b, x) else (b, a)
                        break
            g.after = _convs_until_concat(consumers, op.output)
            gates.append(g)
            break
    _find_gating(t, gates, consumers)
    return gates


def _reads(conv, value):
    """Whether CONV's input is VALUE (through identities)."""
    return bool(conv.inputs) and _through_identities(conv.inputs[0]) is _through_identities(value)


def _convs_until_concat(consumers, value):
    """The conv2d ops on the way from VALUE to the first concat that reads what they compute, in call order."""
    convs, todo, seen = [], [value], set()
    while todo:
        v = todo.pop()
        for op in consumers.get(v.index, []):
            if op.index in seen or op.kind == "cat":
                continue
            seen.add(op.index)
            if op.kind == "conv2d":
                convs.append(op)
            # a Conv2d's own pad (padding_mode) leads to its conv
            if op.kind == "conv2d" or op.kind in tr.ACT_OPS or op.kind in tr.NORM_OPS or tr.is_identity(op) \
                    or tr.is_conv_pad(op):
                todo.append(op.output)
    return sorted(convs, key=lambda o: o.index)


def _find_gating(t, gates, consumers):
    """Marks the conv unit making a gate's signal as its gating conv where that unit's output feeds nothing
    but gates' phi convs (Attention U-Net's 1x1 unit on the bottleneck; a decoder level's output, the
    signal of the gate above it, also feeds that level's upsampling and is not one)."""
    phis = {g.phi.index for g in gates if g.phi is not None}
    for g in gates:
        if g.phi is None or not g.phi.inputs:
            continue
        conv = unit_conv(g.phi.inputs[0])
        if conv is None:
            continue
        ends, todo, seen = set(), [conv.output], set()
        while todo:
            v = todo.pop()
            for op in consumers.get(v.index, []):
                if op.index in seen:
                    continue
                seen.add(op.index)
                if op.kind in tr.NORM_OPS or op.kind in tr.ACT_OPS or tr.is_identity(op):
                    todo.append(op.output)
                else:
                    ends.add(op.index)
        if ends and ends <= phis:
            g.gating = conv


def gate_convs(gates):
    """Indices of every conv op the gates own, their gating convs included."""
    out = set()
    for g in gates:
        out |= {c.index for c in g.convs()}
        if g.gating is not None:
            out.add(g.gating.index)
    return out
