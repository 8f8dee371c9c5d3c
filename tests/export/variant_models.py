"""A small U-Net written the way a user might (its own class layout, functional calls), with switches
that make it differ from its spec in the ways the verified export must catch.

    TinyUNet()                          exactly tiny_spec() below
    TinyUNet(act="leaky")               LeakyReLU(0.01) instead of ReLU (act="elu", "gelu": nn.ELU(), nn.GELU())
    TinyUNet(down="strided")            stride-2 conv downsampling instead of max-pool
    TinyUNet(norm="instance")           InstanceNorm (affine) where the spec says norm = none ... and so on

The switches (each alone, the rest at their spec values): act relu|leaky|elu|gelu (elu_half: ELU(alpha=0.5),
gelu_tanh: GELU(approximate='tanh'), which the language lacks), down pool|strided|avg (F.avg_pool2d(y, 2)),
norm bn|instance|group|none (instance and group: affine True|False, groups for group, default 2, which
divides every width; eps for every norm) and two the language lacks: instance_running (InstanceNorm2d
with track_running_stats=True, running statistics in eval) and lrn (LocalResponseNorm),
order norm_relu|relu_norm, skip skip_first|up_first, up bilinear|nearest, residual (an extra add),
drop_relu (one ReLU missing), inner_sigmoid (a sigmoid inside), dilation N (every conv unit's, padding N:
`block dilation = N`), pad_mode zeros|reflect|replicate|circular (every conv unit's padding_mode; circular the
language lacks), out_act none|sigmoid, dropout (fine in eval).

Also the reduced-width specs of modern networks and the expressions that build those networks
(nnU-Net's PlainConvUNet from ../shared, the project's AttentionUNet and MonaiResUNet).
"""
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

WIDTHS = [4, 8, 16]


def tiny_spec(norm="batchnorm", order="conv_norm_relu", skip="skip_first", up="bilinear", activation="none",
              act="relu", down="maxpool", affine=None, groups=None, eps=None, dilation=None, padding_mode=None):
    """The .unet text of the network TinyUNet() computes (its defaults), with the given settings
    (act="leaky_relu": TinyUNet(act="leaky")'s LeakyReLU(0.01); act="elu" / "gelu": TinyUNet(act="elu" / "gelu");
    down="conv": TinyUNet(down="strided"); down="avgpool": TinyUNet(down="avg"); norm="instance", affine=True:
    TinyUNet(norm="instance"); norm="group", groups=2: TinyUNet(norm="group"); dilation=2: TinyUNet(dilation=2);
    padding_mode="reflect": TinyUNet(pad_mode="reflect"); affine, groups, eps, dilation and padding_mode are
    written only when given, so that the compiler's defaults apply otherwise)."""
    extra = "".join(", %s = %s" % (k, str(v).lower() if isinstance(v, bool) else v)
                    for k, v in (("affine", affine), ("groups", groups), ("eps", eps), ("dilation", dilation),
                                 ("padding_mode", padding_mode)) if v is not None)
    acts = {"relu": "", "leaky_relu": ", act = leaky_relu, slope = 0.01", "elu": ", act = elu", "gelu": ", act = gelu"}
    return "\n".join([
        "network name = tiny",
        "input   channels = 3",
        "output  classes = 2, activation = %s" % activation,
        "encoder channels = [%s]" % ", ".join(map(str, WIDTHS)),
        "decoder channels = [8, 4], mid = half_in",
        "block   convs = 2, kernel = 3, padding = same, bias = false, norm = %s%s, order = %s%s"
        % (norm, extra, order, acts[act]),
        "down    mode = %s" % down,
        "up      mode = %s%s" % (up, ", align_corners = true" if up == "bilinear" else ""),
        "skip    order = %s, match = pad" % skip, ""])


class Unit(nn.Module):
    """conv (no bias) + norm + activation, in the switched order."""

    def __init__(self, i, o, v, stride=1, relu=True):
        super().__init__()
        self.v = v
        dilation = v["dilation"]
        self.conv = nn.Conv2d(i, o, 3, stride=stride, padding=dilation, dilation=dilation, bias=False,
                              padding_mode=v["pad_mode"])
        eps, affine = v["eps"], v["affine"]
        self.norm = {"bn": lambda: nn.BatchNorm2d(o, eps=eps), "instance": lambda: nn.InstanceNorm2d(o, eps, affine=affine),
                     "group": lambda: nn.GroupNorm(v["groups"], o, eps, affine=affine),
                     "instance_running": lambda: nn.InstanceNorm2d(o, eps, affine=affine, track_running_stats=True),
                     "lrn": lambda: nn.LocalResponseNorm(2),
                     "none": lambda: nn.Identity()}[v["norm"]]()
        acts = {"leaky": lambda: nn.LeakyReLU(0.01), "elu": lambda: nn.ELU(), "gelu": lambda: nn.GELU(),
                "elu_half": lambda: nn.ELU(alpha=0.5), "gelu_tanh": lambda: nn.GELU(approximate="tanh"),
                "relu": lambda: nn.ReLU(inplace=True)}
        self.act = acts[v["act"]]() if relu else nn.Identity()
        self.drop = nn.Dropout2d(0.3) if v["dropout"] else nn.Identity()

    def forward(self, x):
        x = self.conv(x)
        if self.v["order"] == "relu_norm":
            return self.drop(self.norm(self.act(x)))
        return self.drop(self.act(self.norm(x)))


class TinyUNet(nn.Module):
    def __init__(self, act="relu", down="pool", norm="bn", order="norm_relu", skip="skip_first", up="bilinear",
                 residual=False, drop_relu=False, inner_sigmoid=False, dilation=1, pad_mode="zeros",
                 out_act="none", dropout=False, affine=True, groups=2, eps=1e-5):
        super().__init__()
        v = dict(act=act, norm=norm, order=order, pad_mode=pad_mode, dropout=dropout, affine=affine, groups=groups,
                 eps=eps, dilation=dilation)
        self.opts = dict(down=down, skip=skip, up=up, residual=residual, inner_sigmoid=inner_sigmoid, out_act=out_act)
        w = WIDTHS
        self.stem = nn.Sequential(Unit(3, w[0], v), Unit(w[0], w[0], v, relu=not drop_relu))
        stride = 2 if down == "strided" else 1
        self.downs = nn.ModuleList([
            nn.Sequential(Unit(w[0], w[1], v, stride=stride), Unit(w[1], w[1], v)),
            nn.Sequential(Unit(w[1], w[2], v, stride=stride), Unit(w[2], w[2], v))])
        # decoder: DoubleConv(in, out, in // 2) after a concat of (skip, up)
        self.ups = nn.ModuleList([
            nn.Sequential(Unit(w[2] + w[1], (w[2] + w[1]) // 2, v), Unit((w[2] + w[1]) // 2, 8, v)),
            nn.Sequential(Unit(8 + w[0], (8 + w[0]) // 2, v), Unit((8 + w[0]) // 2, 4, v))])
        self.classifier = nn.Conv2d(4, 2, kernel_size=1)

    def forward(self, x):
        o = self.opts
        feats = [self.stem(x)]
        y = feats[0]
        for i, block in enumerate(self.downs):
            if o["down"] == "pool":
                y = F.max_pool2d(y, 2)
            elif o["down"] == "avg":
                y = F.avg_pool2d(y, 2)
            y = block(y)
            if o["residual"] and i == 1:
                y = y + F.relu(y)
            if o["inner_sigmoid"] and i == 1:
                y = torch.sigmoid(y)
            feats.append(y)
        for block, skip in zip(self.ups, reversed(feats[:-1])):
            if o["up"] == "nearest":
                y = F.interpolate(y, scale_factor=2, mode="nearest")
            else:
                y = F.interpolate(y, scale_factor=2, mode="bilinear", align_corners=True)
            dy, dx = skip.size(2) - y.size(2), skip.size(3) - y.size(3)
            y = F.pad(y, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])
            y = block(torch.cat([skip, y] if o["skip"] == "skip_first" else [y, skip], dim=1))
        y = self.classifier(y)
        return torch.sigmoid(y) if o["out_act"] == "sigmoid" else y


# nnU-Net v2's 2-D PlainConvUNet (../shared/reference/modern_models.py, NnUNetPlain2d) at reduced widths,
# and the examples-style spec it implements (examples/specs/nnunet_plain.unet's settings): strided-conv
# downsampling, Conv(bias) -> InstanceNorm(affine) -> LeakyReLU(0.01), the upsampled tensor first.
NNUNET_TINY_MODEL = "NnUNetPlain2d(in_channels=1, num_classes=3, features=(4, 8, 16, 16))"
NNUNET_TINY_SPEC = "\n".join([
    "network name = nnunet_tiny",
    "input   channels = 1",
    "output  classes = 3",
    "encoder channels = [4, 8, 16, 16]",
    "block   convs = 2, kernel = 3, padding = same, bias = true, norm = instance, affine = true, act = leaky_relu, "
    "slope = 0.01",
    "down    mode = conv",
    "up      mode = transposed, kernel = 2",
    "skip    order = up_first, match = exact", ""])


def modern_models(references):
    """The path of modern_models.py in the folder REFERENCES (../shared/reference beside the checkout by
    default), or None after printing a note that the checks on it are skipped."""
    path = os.path.join(references, "modern_models.py")
    if os.path.exists(path):
        return path
    print("skip: no modern reference models at %s: the nnU-Net checks are left out" % path)
    return None


# Oktay et al.'s Attention U-Net at reduced widths (examples/pytorch/modern_networks.py AttentionUNet, the
# project's own reference, equal to ../shared's AttentionUNet2d) and the spec it implements: the
# examples-style attention_unet spec's settings with four levels, so that two skips (levels 1 and 2) are gated.
ATTENTION_TINY_MODEL = "AttentionUNet(1, 3, features=(8, 16, 24, 32))"
ATTENTION_TINY_SPEC = "\n".join([
    "network name = attention_tiny",
    "input   channels = 1",
    "output  classes = 3",
    "encoder channels = [8, 16, 24, 32]",
    "block   convs = 2, kernel = 3, padding = same, bias = true, norm = batchnorm",
    "down    mode = maxpool",
    "up      mode = bilinear, align_corners = false",
    "skip    order = skip_first, match = exact, gate = attention", ""])


# MONAI's UNet with residual units at reduced widths (examples/pytorch/modern_networks.py MonaiResUNet, the
# project's own reference, equal to ../shared's MonaiResUNet2d) and the spec it implements: the
# examples-style monai_resunet spec's settings with three levels (two strided units, a stride-1 bottom).
MONAI_TINY_MODEL = "MonaiResUNet(1, 3, channels=(8, 16, 24), strides=(2, 2), num_res_units=2)"
MONAI_TINY_SPEC = "\n".join([
    "network name = monai_tiny",
    "input   channels = 1",
    "output  classes = 3, head = none",
    "encoder channels = [8, 16, 24]",
    "decoder channels = [8, 3], convs = 1, order = merge_then_up",
    "block   convs = 2, kernel = 3, padding = same, bias = true, norm = instance, act = prelu, residual = monai",
    "down    mode = conv, levels = above_bottom",
    "up      mode = transposed, kernel = 3, channels = [8, 3], norm = true",
    "skip    order = skip_first, match = exact", ""])
