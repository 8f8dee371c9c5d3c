"""from_spec(): the PyTorch module a .unet spec describes, built from the compiler's IR.

    net = unetgen.torch.from_spec("my.unet")      # an nn.Module; train it like any other
    logits = net(x)                               # the head's output, or the last layer's (what losses take)
    probs = net.probabilities(x)                  # after the spec's `output activation`
    net.state_dict().keys()                       # the canonical weight names, exactly

Each IR layer (`unetgen check --json`, key "layers") becomes the PyTorch op it stands for, in the
same order, and each weight module gets its canonical name ("enc1.conv0", "enc1.bn0", "enc1.norm0",
"up2", "head"), so `torch.save(net.state_dict())` is what the runtime loads, with no mapping at all.
A conv unit's norm (`block norm`) is nn.BatchNorm2d, nn.InstanceNorm2d (track_running_stats=False:
the sample's own statistics in train and eval alike) or nn.GroupNorm, under the layer's bn_module;
one without affine parameters is registered there too, though it adds nothing to the state dict.
`block act = prelu` puts an nn.PReLU (one learnt slope) where the ReLU would be, under the layer's
prelu_module ("enc1.act0"); `elu` and `gelu` are F.elu (alpha 1) and the exact F.gelu; `block dilation` and
`padding_mode` are the Conv2d's; `down mode = avgpool` layers are F.avg_pool2d(x, 2, 2); `up norm = true`
gives a transposed conv the same norm and activation ("up2.norm", "up2.act", children of the
ConvTranspose2d "up2", as the canonical names say).

MONAI's residual units (`block residual = monai`) are IR layers too: the shortcut conv "<block>.res"
(absent for an identity shortcut) runs before the block's convs, as MONAI runs it, and "<block>.add"
sums the last conv's output and the shortcut with no activation after it. With `output head = none`
the network's output is its last layer's (the top block's sum), the spec's output activation on it.

Attention gates (`skip gate = attention`) are layers like the others: convs without ReLU (theta, phi,
W) or with a sigmoid after them (psi, "activation": "sigmoid"), "add" (a sum, ReLU after it when the
layer says so), "upsample" of the one-channel map to the size of the skip it multiplies, and
"multiply" (the skip times that map, broadcast over the skip's channels), as Oktay et al.'s code runs
them, so that a module written after that code and this one trace alike.

The input is taken as it reaches the network: the spec's `input mean/std` are applied by the
runtime to 8-bit images only (docs/api.md), so a float tensor here is already normalised.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from .. import spec as spec_mod


def center_crop(t, height, width):
    """The centre HEIGHT x WIDTH window of an NCHW tensor: floor(diff / 2) dropped before, the rest after."""
    dy = (t.shape[2] - height) // 2
    dx = (t.shape[3] - width) // 2
    return t[:, :, dy:dy + height, dx:dx + width]


def make_norm(layer, ir):
    """The norm module of conv layer LAYER (an IR layer), or None for norm = none."""
    norm, c, eps = layer.get("norm", "none"), layer["out_channels"], layer["eps"]
    if norm == "none":
        return None
    if norm == "batchnorm":
        return nn.BatchNorm2d(c, eps=eps)
    # The defaults are the contract's (PyTorch's own): InstanceNorm2d without, GroupNorm with affine parameters.
    if norm == "instance":
        return nn.InstanceNorm2d(c, eps=eps, affine=layer.get("norm_affine", False), track_running_stats=False)
    if norm == "group":
        groups = layer.get("norm_groups")
        if not groups or c % groups:
            raise spec_mod.SpecError("cannot build layer %s of %s in PyTorch: norm = group needs groups dividing its "
                                     "%d channels, the IR says groups = %s" % (layer["name"], ir.path, c, groups))
        return nn.GroupNorm(groups, c, eps=eps, affine=layer.get("norm_affine", True))
    raise spec_mod.SpecError("cannot build layer %s of %s in PyTorch: norm '%s' is unknown to this version of "
                             "unetgen.torch" % (layer["name"], ir.path, norm))


class SpecUNet(nn.Module):
    """The network of one spec; parameters named by the canonical weight names."""

    def __init__(self, ir):
        super().__init__()
        self.ir = ir
        self.activation = ir.activation
        self.layer_callback = None  # set by unetgen.torch.tracing to attribute ops to IR layers
        kinds = {m: kind for m, kind, _ in ir.modules()}
        for layer in ir.layers:
            if layer["op"] in ("conv", "head"):
                # `block dilation` and `padding_mode` (replicate / reflect: PyTorch pads the input, then convolves)
                self._add(layer["conv_module"], nn.Conv2d(layer["in_channels"], layer["out_channels"], layer["kernel"],
                                                          stride=layer["stride"], padding=layer["padding"],
                                                          dilation=layer.get("dilation", 1),
                                                          padding_mode=layer.get("padding_mode", "zeros"),
                                                          bias=layer["bias"]))
                self._add_unit(layer, ir)
            elif layer["op"] == "conv_transpose":
                self._add(layer["conv_module"], nn.ConvTranspose2d(
                    layer["in_channels"], layer["out_channels"], layer["kernel"], stride=layer["stride"],
                    padding=layer["padding"], output_padding=layer["output_padding"], bias=layer["bias"]))
                # `up norm = true`: the block's norm and activation follow it (MONAI's UNet)
                self._add_unit(layer, ir)
            elif layer["op"] not in ("input", "maxpool", "avgpool", "upsample", "concat", "add", "multiply"):
                raise spec_mod.SpecError("cannot build layer %s of %s in PyTorch: op '%s' is unknown to this "
                                         "version of unetgen.torch" % (layer["name"], ir.path, layer["op"]))
        # the modules holding tensors, which the IR's weights must name one for one (a norm without
        # affine parameters holds none, and the IR lists no weights for it)
        built = {n for n, m in self.named_modules()
                 if next(m.parameters(recurse=False), None) is not None or next(m.buffers(recurse=False), None) is not None}
        if built != set(kinds):
            raise spec_mod.SpecError("cannot build %s in PyTorch: its layers give modules %s, its weights name %s"
                                     % (ir.path, sorted(built), sorted(kinds)))
        # An upsample whose output a multiply takes (a gate's map) is resized to the other factor's size,
        # as Oktay et al.'s code does (F.interpolate(size=x.shape[2:])), rather than by 2: the same values
        # on the sizes a gated spec takes, and the same op in a trace.
        self.size_of = {}
        kinds_of = {l["name"]: l["op"] for l in ir.layers}
        for layer in ir.layers:
            if layer["op"] == "multiply":
                for a, b in (layer["inputs"], layer["inputs"][::-1]):
                    if kinds_of.get(a) == "upsample":
                        self.size_of[a] = b

    def _add_unit(self, layer, ir):
        """The norm and PReLU of a conv or transposed conv layer, where it has them, under their IR names
        (a PReLU goes after the norm, so that the state dict lists conv, norm, PReLU as the IR's weights do)."""
        norm = make_norm(layer, ir)
        if norm is not None:
            self._add(layer["bn_module"], norm)
        if layer.get("prelu_module"):
            # one learnt slope per unit (MONAI's default, init 0.25); the IR's weight shape says how many
            shape = next((w["shape"] for w in ir.weights if w["module"] == layer["prelu_module"]), [1])
            self._add(layer["prelu_module"], nn.PReLU(num_parameters=shape[0]))

    def _unit(self, layer, y):
        """The norm and activation after conv (or transposed conv) LAYER's output Y, in the layer's order."""
        bn = self.get_submodule(layer["bn_module"]) if layer.get("norm", "none") != "none" else None
        if bn is not None and layer["norm_order"] == "conv_norm_relu":
            y = bn(y)
        if layer.get("relu"):
            # "relu" says the unit has its activation, "act" which (IRs before "act" had relu, leaky, prelu only)
            act = layer.get("act") or ("prelu" if layer.get("prelu_module") else
                                       "leaky_relu" if layer.get("relu_slope") else "relu")
            if act == "prelu":
                y = self.get_submodule(layer["prelu_module"])(y)
            elif act == "leaky_relu":
                y = F.leaky_relu(y, layer.get("relu_slope", 0.01))
            elif act == "elu":
                y = F.elu(y, 1.0)
            elif act == "gelu":
                y = F.gelu(y)  # the exact erf form (approximate='none')
            elif act == "relu":
                y = F.relu(y)
            else:
                raise spec_mod.SpecError("cannot run layer %s of %s in PyTorch: activation '%s' is unknown to this "
                                         "version of unetgen.torch" % (layer["name"], self.ir.path, act))
        if bn is not None and layer["norm_order"] == "conv_relu_norm":
            y = bn(y)
        return y

    def _add(self, dotted, module):
        """Registers MODULE under a dotted canonical name, creating the plain containers on the way."""
        parent = self
        parts = dotted.split(".")
        for p in parts[:-1]:
            if not hasattr(parent, p):
                parent.add_module(p, nn.Module())
            parent = getattr(parent, p)
        parent.add_module(parts[-1], module)

    def forward(self, x):
        values = {}
        for layer in self.ir.layers:
            if self.layer_callback is not None:
                self.layer_callback(layer)
            op = layer["op"]
            ins = [values[n] for n in layer["inputs"]]
            if op == "input":
                y = x
            elif op in ("conv", "head"):
                y = self._unit(layer, self.get_submodule(layer["conv_module"])(ins[0]))
                # a head's activation is the output's (apply_activation); a conv's is the gate's psi
                if op == "conv" and layer.get("activation", "none") == "sigmoid":
                    y = torch.sigmoid(y)
                elif op == "conv" and layer.get("activation", "none") != "none":
                    raise spec_mod.SpecError("cannot run layer %s of %s in PyTorch: activation '%s' is unknown to "
                                             "this version of unetgen.torch" % (layer["name"], self.ir.path,
                                                                                layer["activation"]))
            elif op == "add":
                if ins[0].shape != ins[1].shape:
                    raise ValueError("cannot add %s: its inputs %s and %s differ in shape, and a sum needs equal "
                                     "ones" % (layer["name"], list(ins[0].shape), list(ins[1].shape)))
                y = ins[0] + ins[1]
                if layer.get("relu"):
                    y = F.relu(y)
            elif op == "multiply":
                x, alpha = ins
                if alpha.shape[1] != 1 or alpha.shape[2:] != x.shape[2:]:
                    raise ValueError("cannot multiply %s: its map is %s, the tensor %s, and the map must be one "
                                     "channel of the tensor's size" % (layer["name"], list(alpha.shape), list(x.shape)))
                y = x * alpha
            elif op == "conv_transpose":
                y = self._unit(layer, self.get_submodule(layer["conv_module"])(ins[0]))
            elif op == "maxpool":
                y = F.max_pool2d(ins[0], layer["kernel"], layer["stride"])
            elif op == "avgpool":
                y = F.avg_pool2d(ins[0], layer["kernel"], layer["stride"])  # floor, no padding: nn.AvgPool2d(2)
            elif op == "upsample":
                ac = layer["align_corners"] if layer["mode"] == "bilinear" else None
                like = self.size_of.get(layer["name"])
                if like is not None and like in values:
                    y = F.interpolate(ins[0], size=values[like].shape[2:], mode=layer["mode"], align_corners=ac)
                else:
                    y = F.interpolate(ins[0], scale_factor=2, mode=layer["mode"], align_corners=ac)
            elif op == "concat":
                skip, up = ins
                if layer["match"] == "crop":
                    skip = center_crop(skip, up.shape[2], up.shape[3])
                elif layer["match"] == "pad":
                    dy, dx = skip.shape[2] - up.shape[2], skip.shape[3] - up.shape[3]
                    up = F.pad(up, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])
                elif layer["match"] == "replicate":
                    # MONAI's UpCat: one replicated column / row at the right / bottom where the sizes differ.
                    dy, dx = skip.shape[2] - up.shape[2], skip.shape[3] - up.shape[3]
                    if dx or dy:
                        up = F.pad(up, [0, int(dx != 0), 0, int(dy != 0)], mode="replicate")
                elif skip.shape[2:] != up.shape[2:]:
                    raise ValueError("cannot concatenate %s: skip %s and upsampled %s differ, and skip match = exact "
                                     "needs equal sizes (input sides the network takes: see `unetgen check`)"
                                     % (layer["name"], list(skip.shape[2:]), list(up.shape[2:])))
                y = torch.cat([skip, up] if layer["order"] == "skip_first" else [up, skip], 1)
            values[layer["name"]] = y
        return y

    def apply_activation(self, logits):
        """The spec's output activation on the logits (the head's, or with `output head = none` the last
        layer's: sigmoid, softmax over channels, or none)."""
        if self.activation == "sigmoid":
            return torch.sigmoid(logits)
        if self.activation == "softmax":
            return torch.softmax(logits, 1)
        return logits

    def probabilities(self, x):
        return self.apply_activation(self(x))


def from_spec(path_or_ir, unetgen=None):
    """nn.Module of the network a .unet spec describes (a path, or a SpecIR from unetgen.spec.load)."""
    ir = path_or_ir if isinstance(path_or_ir, spec_mod.SpecIR) else spec_mod.load(path_or_ir, unetgen)
    return SpecUNet(ir)
