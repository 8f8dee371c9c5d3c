"""trace(): what a PyTorch module actually computes, op by op, on one input.

    t = trace(model, x)
    t.ops        # [Op] in call order: kind ("conv2d", "relu", "interpolate", "cat", ...), attrs, inputs, output
    t.mapped     # the conv2d / conv_transpose2d / batch_norm / prelu ops and the affine instance_norm /
                 # group_norm ones, each with the module that owns its weights
    t.output     # the Value the model returned

Every torch function call (functional or module, F.relu or nn.ReLU, torch.cat, x + y, x[..., a:b])
is recorded through a TorchFunctionMode, with the module executing it, so a module is seen as it
runs, whatever its class structure, names or style. The weight-carrying ops are tied to their
modules through the identity of their weight tensors, which is what lets the exporter and the
verifier line a module up with a spec. A norm without weights (InstanceNorm2d / GroupNorm with
affine=False) is an ordinary op: it is compared with the spec where it runs, not mapped. Mapped ops keep copies of their input and output values
(later in-place ops cannot change them) for the numerical comparison.
"""
import torch
from torch.overrides import TorchFunctionMode

# Function names -> the op kind recorded. Names not listed are recorded as themselves.
_KIND = {
    "relu_": "relu", "leaky_relu_": "leaky_relu", "elu_": "elu", "hardtanh_": "hardtanh", "_max_pool2d": "max_pool2d",
    "max_pool2d_with_indices": "max_pool2d", "upsample": "interpolate", "upsample_bilinear": "interpolate",
    "upsample_nearest": "interpolate", "concat": "cat", "__add__": "add", "__radd__": "add", "__iadd__": "add",
    "add_": "add", "__sub__": "sub", "__rsub__": "sub", "__isub__": "sub", "sub_": "sub", "__mul__": "mul",
    "__rmul__": "mul", "__imul__": "mul", "mul_": "mul", "__truediv__": "div", "__itruediv__": "div", "div_": "div",
    "sigmoid_": "sigmoid", "tanh_": "tanh", "clamp_": "clamp", "clamp_min": "clamp", "clamp_min_": "clamp",
    "__getitem__": "slice",
}
# Ops that pass their input through unchanged in eval mode (transparent to the comparison).
IDENTITY = {"dropout", "dropout2d", "feature_dropout", "alpha_dropout", "feature_alpha_dropout", "contiguous",
            "clone", "detach", "float", "double", "to", "type_as", "requires_grad_"}
# A PReLU carries its learnt slope (`block act = prelu`), so it is mapped like a conv or a norm.
WEIGHTED = {"conv2d", "conv_transpose2d", "batch_norm", "instance_norm", "group_norm", "prelu"}
# The normalisations the language has (`block norm`), by the op kind a module's forward() records.
NORM_OPS = {"batch_norm", "instance_norm", "group_norm"}
# The conv units' activations the language has (`block act`) that carry no weight (a PReLU is WEIGHTED).
ACT_OPS = {"relu", "leaky_relu", "elu", "gelu"}
# Where the tensor that ties a weighted op to its module is in the call, first choice first: a
# BatchNorm always has running statistics (its weight may be None), the other norms only a weight
# when affine; the positions are those of torch.nn.functional's signatures.
_KEY_ARGS = {"conv2d": [(1, "weight")], "conv_transpose2d": [(1, "weight")],
             "batch_norm": [(1, "running_mean"), (3, "weight")], "instance_norm": [(3, "weight")],
             "group_norm": [(2, "weight")], "prelu": [(1, "weight")]}


class Value:
    """One tensor value produced during the forward pass (a new one after each in-place op)."""
    __slots__ = ("index", "shape", "producer")

    def __init__(self, index, shape, producer):
        self.index, self.shape, self.producer = index, tuple(shape), producer


class Op:
    __slots__ = ("index", "kind", "attrs", "inputs", "output", "module_name", "module_type", "layer",
                 "weight_module", "weight_module_name", "in_data", "out_data")

    def __init__(self, index, kind, attrs, inputs, module_name, module_type, layer):
        self.index, self.kind, self.attrs, self.inputs = index, kind, attrs, inputs
        self.output = None
        self.module_name, self.module_type, self.layer = module_name, module_type, layer
        self.weight_module = None      # the nn.Module whose parameters / buffers this op reads (mapped ops)
        self.weight_module_name = None
        self.in_data = self.out_data = None   # mapped ops: copies of the input and output at call time

    @property
    def mapped(self):
        """A weight-carrying op tied to its module (one of Trace.mapped)."""
        return self.weight_module is not None

    def signature(self):
        """The op as a comparable string: its kind and the attributes that change what it computes."""
        if not self.attrs:
            return self.kind
        return "%s(%s)" % (self.kind, ", ".join("%s=%s" % kv for kv in sorted(self.attrs.items())))

    def where(self):
        """"LeakyReLU 'inc.double_conv.2'" or "the forward() of Up 'up1'"."""
        if not self.module_name:
            return "the model's forward()"
        return "%s '%s'" % (self.module_type, self.module_name)


def _pair(v):
    if isinstance(v, (tuple, list)):
        return v[0] if len(set(v)) == 1 else tuple(v)
    return v


def _arg(args, kwargs, pos, name, default=None):
    if len(args) > pos:
        return args[pos]
    return kwargs.get(name, default)


def _attrs(kind, args, kwargs):
    """What, besides the inputs, decides the op's result (the size-dependent numbers left out)."""
    a = lambda pos, name, default=None: _arg(args, kwargs, pos, name, default)  # noqa: E731
    if kind == "conv2d":
        return {"stride": _pair(a(3, "stride", 1)), "padding": _pair(a(4, "padding", 0)),
                "dilation": _pair(a(5, "dilation", 1)), "groups": a(6, "groups", 1)}
    if kind == "conv_transpose2d":
        return {"stride": _pair(a(3, "stride", 1)), "padding": _pair(a(4, "padding", 0)),
                "output_padding": _pair(a(5, "output_padding", 0)), "groups": a(6, "groups", 1),
                "dilation": _pair(a(7, "dilation", 1))}
    if kind == "batch_norm":
        return {"eps": a(7, "eps", 1e-5)}
    if kind == "instance_norm":
        # use_input_stats is False for an eval-mode InstanceNorm2d(track_running_stats=True), which
        # normalises with running statistics, not the sample's (the language's instance norm does the latter)
        out = {"eps": a(7, "eps", 1e-5), "affine": a(3, "weight") is not None}
        if not a(5, "use_input_stats", True):
            out["use_input_stats"] = False
        return out
    if kind == "group_norm":
        return {"num_groups": a(1, "num_groups"), "eps": a(4, "eps", 1e-5), "affine": a(2, "weight") is not None}
    if kind == "leaky_relu":
        return {"negative_slope": a(1, "negative_slope", 0.01)}
    if kind == "elu":
        return {"alpha": a(1, "alpha", 1.0)}
    if kind == "gelu":
        # 'tanh' is another function than the exact erf form (`block act = gelu`)
        return {"approximate": a(1, "approximate", "none")}
    if kind == "hardtanh":
        return {"min": a(1, "min_val", -1.0), "max": a(2, "max_val", 1.0)}
    if kind in ("softmax", "log_softmax"):
        return {"dim": a(1, "dim")}
    if kind == "max_pool2d":
        k = _pair(a(1, "kernel_size"))
        s = _pair(a(2, "stride", None)) or k
        return {"kernel": k, "stride": s, "padding": _pair(a(3, "padding", 0)), "dilation": _pair(a(4, "dilation", 1)),
                "ceil_mode": bool(a(5, "ceil_mode", False))}
    if kind == "avg_pool2d":
        k = _pair(a(1, "kernel_size"))
        out = {"kernel": k, "stride": _pair(a(2, "stride", None)) or k, "padding": _pair(a(3, "padding", 0)),
               "ceil_mode": bool(a(4, "ceil_mode", False))}
        # count_include_pad matters only with padding (kept in the signature then); a divisor override always
        if out["padding"] != 0:
            out["count_include_pad"] = bool(a(5, "count_include_pad", True))
        if a(6, "divisor_override") is not None:
            out["divisor_override"] = a(6, "divisor_override")
        return out
    if kind == "interpolate":
        mode = a(3, "mode", "nearest")
        scale = a(2, "scale_factor")
        out = {"mode": mode, "scale": _pair(scale) if scale is not None else "size"}
        if mode in ("bilinear", "bicubic", "linear"):
            out["align_corners"] = bool(a(4, "align_corners", False))
        return out
    if kind == "pad":
        return {"mode": a(2, "mode", "constant"), "value": a(3, "value", 0.0) or 0.0}
    if kind in ("cat", "stack"):
        return {"dim": a(1, "dim", 0)}
    if kind in IDENTITY and kind.startswith(("dropout", "feature", "alpha")):
        return {"training": bool(a(2, "training", False))}
    return {}


def _tensors(obj):
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            yield from _tensors(o)
    elif isinstance(obj, dict):
        for o in obj.values():
            yield from _tensors(o)


class Trace:
    def __init__(self):
        self.ops = []
        self.values = []
        self.mapped = []
        self.input = None
        self.output = None
        self.output_tensor = None
        self.output_data = None
        self._by_id = {}
        self._keep = []    # every traced tensor stays alive, so no id() is reused within the trace

    def value_of(self, t):
        return self._by_id.get(id(t))

    def _new_value(self, t, producer):
        v = Value(len(self.values), t.shape, producer)
        self.values.append(v)
        self._by_id[id(t)] = v
        self._keep.append(t)
        return v


class _Recorder(TorchFunctionMode):
    def __init__(self, tracer):
        super().__init__()
        self.tracer = tracer

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        self.tracer.record(func, args, kwargs, out)
        return out


class _Tracer:
    def __init__(self, model, owners):
        self.t = Trace()
        self.owners = owners           # id(parameter or buffer) -> (qualified name, module)
        self.stack = []                # (qualified name, module) of the modules executing
        self.layer = None              # the spec layer executing (SpecUNet reports it)

    def record(self, func, args, kwargs, out):
        if not isinstance(out, torch.Tensor):
            return
        name = getattr(func, "__name__", str(func))
        kind = _KIND.get(name, name)
        t = self.t
        inputs = [v for v in (t.value_of(x) for x in _tensors((args, kwargs))) if v is not None]
        # The innermost module executing: the Conv2d for its own F.conv2d, the user's block for a
        # functional call in its forward().
        mod_name, mod = self.stack[-1] if self.stack else ("", None)
        op = Op(len(t.ops), kind, _attrs(kind, args, kwargs), inputs, mod_name, type(mod).__name__ if mod else "",
                self.layer)
        if kind == "slice":
            op.attrs = {}
        if kind in WEIGHTED:
            key = next((k for k in (_arg(args, kwargs, pos, n) for pos, n in _KEY_ARGS[kind]) if k is not None), None)
            owner = self.owners.get(id(key)) if key is not None else None
            if owner is not None:
                op.weight_module_name, op.weight_module = owner
                t.mapped.append(op)
                op.in_data = args[0].detach().clone()
                op.out_data = out.detach().clone()
        op.output = t._new_value(out, op)
        t.ops.append(op)


def _owners(model):
    owners = {}
    for qname, m in model.named_modules():
        for _, p in list(m.named_parameters(recurse=False)) + list(m.named_buffers(recurse=False)):
            owners.setdefault(id(p), (qname, m))
    return owners


def trace(model, x):
    """Runs MODEL(x) under the recorder; returns the Trace (the model's own exceptions pass through)."""
    tracer = _Tracer(model, _owners(model))
    handles = []
    for qname, m in model.named_modules():
        def pre(mod, inp, qname=qname):
            tracer.stack.append((qname, mod))

        def post(mod, inp, out):
            tracer.stack.pop()
        handles.append(m.register_forward_pre_hook(pre))
        handles.append(m.register_forward_hook(post))
    if hasattr(model, "layer_callback"):
        model.layer_callback = lambda layer: setattr(tracer, "layer", layer["name"])
    t = tracer.t
    t.input = t._new_value(x, None)
    try:
        with torch.no_grad(), _Recorder(tracer):
            out = model(x)
    finally:
        for h in handles:
            h.remove()
        if hasattr(model, "layer_callback"):
            model.layer_callback = None
    t.output_tensor = first_tensor(out)
    t.output_data = t.output_tensor.detach().clone() if t.output_tensor is not None else None
    if t.output_tensor is not None:
        t.output = t.value_of(t.output_tensor)
    return t


def trace_first_that_runs(model, shapes):
    """The trace of MODEL on a zero input of the first of SHAPES [(C, H, W)] it runs; ValueError listing every
    failure when it runs none (only the structure matters to the callers, not the values)."""
    errors = []
    for c, h, w in shapes:
        try:
            return trace(model, torch.zeros(1, c, h, w))
        except Exception as e:
            errors.append("%dx%dx%d: %s: %s" % (c, h, w, type(e).__name__, e))
    raise ValueError("tried\n  " + "\n  ".join(errors))


def is_conv_pad(op):
    """Whether OP is the F.pad a Conv2d runs on its input for padding_mode replicate / reflect (it then convolves
    with padding 0): part of the conv, as `block padding_mode` is."""
    return op.kind == "pad" and op.module_type == "Conv2d"


def conv_padding(trace, op):
    """(padding, padding_mode) of conv2d op OP: its own padding and 'zeros', or, where its Conv2d pads the input
    itself first (padding_mode replicate / reflect), that pad's amount and mode."""
    v = op.inputs[0] if op.inputs else None
    p = v.producer if v is not None else None
    if p is not None and is_conv_pad(p) and p.module_name == op.module_name and op.weight_module is not None:
        pads = getattr(op.weight_module, "_reversed_padding_repeated_twice", None) or [0]
        return _pair(tuple(pads)), p.attrs.get("mode")
    return op.attrs.get("padding"), "zeros"


def first_tensor(out):
    """The segmentation output of a forward(): the tensor, the first of a tuple / list (deep supervision), or
    the 'out' entry (else the first) of a dict."""
    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, dict):
        if isinstance(out.get("out"), torch.Tensor):
            return out["out"]
        out = list(out.values())
    if isinstance(out, (list, tuple)):
        for o in out:
            if isinstance(o, torch.Tensor):
                return o
    return None


def is_identity(op):
    if op.kind in IDENTITY:
        return not op.attrs.get("training", False)
    return False


def slice_back(trace, value):
    """The ops between VALUE and the nearest weight-carrying ops (or the input) it depends on, in call order.

    Walks producers back from VALUE through every tensor input; a mapped op (conv / BN) or the network
    input ends a path. Identity ops (dropout in eval, contiguous, ...) are left out."""
    seen, ops = set(), []
    todo = [value]
    while todo:
        v = todo.pop()
        op = v.producer
        if op is None or op.mapped or op.index in seen:
            continue
        seen.add(op.index)
        if not is_identity(op):
            ops.append(op)
        todo.extend(op.inputs)
    return sorted(ops, key=lambda o: o.index)


def source_of(trace, value):
    """The mapped op (or None for the input) a value comes from, following first inputs back."""
    v = value
    while v is not None and v.producer is not None and not v.producer.mapped:
        v = v.producer.inputs[0] if v.producer.inputs else None
    return v.producer if v is not None else None
