"""The example specs' networks (examples/specs/*.unet) written as plain PyTorch modules.

These are the project's own references: hand-written from the seed U-Nets' descriptions, not
generated from the specs (unetgen.torch.from_spec builds a module from a spec; comparing the
compiler with that module alone would be circular). The parity tests compare `unetgen build` +
`unetgen run` with these, the exporter is tried on them, and tests/reference checks them against
the seed reference models (../shared/reference/seed_models.py) when that folder is present: same
state_dict names and shapes, and the same outputs on the same weights. The module attribute names
are those of the seed references, so a checkpoint of either loads into the other.

    spec                        class                         what it is
    crop_sigmoid.unet           UNet000(3)                    BN after each ReLU, 64..512, transposed up, centre-crop skips, sigmoid
    milesial_transposed.unet    UNet001(3, 1, bilinear=False) milesial's Pytorch-UNet, ConvTranspose up, F.pad skips
    milesial_bilinear.unet      UNet001(3, 1, bilinear=True)  the same with bilinear (align_corners) up and half-width middles
    plain.unet                  UNet002(1, 2)                 no BN, same padding, transposed up, 1024 bottleneck
    small.unet                  UNet003Small(3, 32)           one conv unit per level, 4/8/32/64, ConvTranspose k3 s2 p1 op1
    large.unet                  UNet003Large(3, 256)          prep convs, 8/28/56/112 levels, three 64-channel post convs
    ronneberger2015.unet        UNet004(1, 2)                 Ronneberger 2015: valid convs, centre-crop skips, 572 -> 388
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from modern_networks import AttentionUNet, MonaiBasicUNet, MonaiResUNet, NnUNetPlain  # noqa: E402,F401  (the specs of today's U-Nets)

# spec file stem -> the constructor expression of its network (for --model arguments)
SPEC_MODELS = {
    "crop_sigmoid": "UNet000(3)",
    "milesial_transposed": "UNet001(3, 1, bilinear=False)",
    "milesial_bilinear": "UNet001(3, 1, bilinear=True)",
    "plain": "UNet002(1, 2)",
    "small": "UNet003Small(3, 32)",
    "large": "UNet003Large(3, 256)",
    "ronneberger2015": "UNet004(1, 2)",
    "nnunet_plain": "NnUNetPlain(1, 3)",
    "monai_basic": "MonaiBasicUNet(1, 2)",
    "attention_unet": "AttentionUNet(3, 1)",
    "monai_resunet": "MonaiResUNet(1, 2)",
}


def crop_to(skip, like):
    """The centre of SKIP with LIKE's height and width (floor of half the difference on top / left)."""
    top = (skip.shape[2] - like.shape[2]) // 2
    left = (skip.shape[3] - like.shape[3]) // 2
    return skip[:, :, top:top + like.shape[2], left:left + like.shape[3]]


def pad_to(up, like):
    """UP zero-padded to LIKE's height and width, the extra pixel at the bottom / right (F.pad)."""
    dh = like.shape[2] - up.shape[2]
    dw = like.shape[3] - up.shape[3]
    return F.pad(up, [dw // 2, dw - dw // 2, dh // 2, dh - dh // 2])


def conv3(i, o, padding=1, bias=True):
    return nn.Conv2d(i, o, kernel_size=3, padding=padding, bias=bias)


def up2x2(i, o):
    """The transposed 2x2 stride-2 convolution that doubles the size."""
    return nn.ConvTranspose2d(i, o, kernel_size=2, stride=2)


def up3x3(i, o):
    """ConvTranspose k3 s2 p1 output_padding 1: exactly doubles the size."""
    return nn.ConvTranspose2d(i, o, kernel_size=3, stride=2, padding=1, output_padding=1)


class _Levels(nn.Module):
    """The common skeleton: encoder blocks with a 2x2 max-pool between them, then per level an up
    step, the skip joined by `join`, and a decoder block. Subclasses hold the module lists
    (named as the seed references name them) and say how a skip meets the upsampled tensor."""

    def run_levels(self, x, encoders, ups, decoders, join):
        skips = []
        for k, enc in enumerate(encoders):
            x = enc(x)
            if k < len(encoders) - 1:
                skips.append(x)
                x = F.max_pool2d(x, 2)
        for up, dec, skip in zip(ups, decoders, reversed(skips)):
            x = dec(join(skip, up(x)))
        return x


# ---- crop_sigmoid: UNet000 ------------------------------------------------------------------
class UNet000(_Levels):
    """Stages of 64, 128, 256, 512 channels; each conv is followed by ReLU and then BatchNorm;
    transposed 2x2 upsampling; the skip (centre-cropped) comes first in the concat; a 1x1 conv to
    one channel and a sigmoid."""

    def __init__(self, in_channels=3):
        super().__init__()
        widths = [64, 128, 256, 512]

        def unit(i, o):  # conv, ReLU, BN, twice
            return nn.Sequential(conv3(i, o), nn.ReLU(), nn.BatchNorm2d(o), conv3(o, o), nn.ReLU(), nn.BatchNorm2d(o))

        ins = [in_channels] + widths[:-1]
        self.enc = nn.ModuleList(unit(i, o) for i, o in zip(ins, widths))
        self.pool = nn.MaxPool2d(2)
        self.up = nn.ModuleList(up2x2(widths[k], widths[k - 1]) for k in (3, 2, 1))
        self.dec = nn.ModuleList(unit(widths[k], widths[k - 1]) for k in (3, 2, 1))
        self.conv_out = nn.Conv2d(widths[0], 1, kernel_size=1)

    def forward(self, x):
        x = self.run_levels(x, self.enc, self.up, self.dec, lambda skip, up: torch.cat([crop_to(skip, up), up], 1))
        return torch.sigmoid(self.conv_out(x))


# ---- milesial_*: UNet001 --------------------------------------------------------------------
class DoubleConv(nn.Module):
    """(3x3 conv without bias, BN, ReLU) twice; the first conv goes to `mid_channels`."""

    def __init__(self, in_channels, out_channels, mid_channels=None):
        super().__init__()
        mid = mid_channels if mid_channels else out_channels
        self.double_conv = nn.Sequential(conv3(in_channels, mid, bias=False), nn.BatchNorm2d(mid), nn.ReLU(),
                                         conv3(mid, out_channels, bias=False), nn.BatchNorm2d(out_channels), nn.ReLU())

    def forward(self, x):
        return self.double_conv(x)


class Down(nn.Module):
    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.maxpool_conv = nn.Sequential(nn.MaxPool2d(2), DoubleConv(in_channels, out_channels))

    def forward(self, x):
        return self.maxpool_conv(x)


class Up(nn.Module):
    """Upsample (bilinear x2 with align_corners, or a transposed 2x2 conv halving the channels),
    zero-pad to the skip's size, concat [skip, up], DoubleConv (bilinear: middle at half the input)."""

    def __init__(self, in_channels, out_channels, bilinear=True):
        super().__init__()
        self.bilinear = bilinear
        if bilinear:
            self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
            self.conv = DoubleConv(in_channels, out_channels, in_channels // 2)
        else:
            self.up = up2x2(in_channels, in_channels // 2)
            self.conv = DoubleConv(in_channels, out_channels)

    def forward(self, x, skip):
        return self.conv(torch.cat([skip, pad_to(self.up(x), skip)], 1))


class UNet001(nn.Module):
    def __init__(self, n_channels=3, n_classes=1, bilinear=False):
        super().__init__()
        f = 2 if bilinear else 1
        self.inc = DoubleConv(n_channels, 64)
        self.down1, self.down2, self.down3 = Down(64, 128), Down(128, 256), Down(256, 512)
        self.down4 = Down(512, 1024 // f)
        self.up1 = Up(1024, 512 // f, bilinear)
        self.up2 = Up(512, 256 // f, bilinear)
        self.up3 = Up(256, 128 // f, bilinear)
        self.up4 = Up(128, 64, bilinear)
        self.outc = nn.Conv2d(64, n_classes, kernel_size=1)

    def forward(self, x):
        levels = [self.inc(x)]
        for down in (self.down1, self.down2, self.down3, self.down4):
            levels.append(down(levels[-1]))
        x = levels.pop()
        for up in (self.up1, self.up2, self.up3, self.up4):
            x = up(x, levels.pop())
        return self.outc(x)


# ---- plain: UNet002 -------------------------------------------------------------------------
class UNet002(_Levels):
    """Five stages 64..1024 of (3x3 conv with bias, ReLU) twice, no BatchNorm; transposed 2x2 up;
    [skip, up] concat (sizes match: inputs divisible by 16); 1x1 conv to the classes, logits."""

    def __init__(self, in_channels=1, out_channels=2):
        super().__init__()
        widths = [64, 128, 256, 512, 1024]

        def unit(i, o):
            return nn.Sequential(conv3(i, o), nn.ReLU(), conv3(o, o), nn.ReLU())

        ins = [in_channels] + widths[:-1]
        self.enc = nn.ModuleList(unit(i, o) for i, o in zip(ins, widths))
        self.pool = nn.MaxPool2d(2)
        self.up = nn.ModuleList(up2x2(widths[k], widths[k - 1]) for k in (4, 3, 2, 1))
        self.dec = nn.ModuleList(unit(widths[k], widths[k - 1]) for k in (4, 3, 2, 1))
        self.final_conv = nn.Conv2d(widths[0], out_channels, kernel_size=1)

    def forward(self, x):
        return self.final_conv(self.run_levels(x, self.enc, self.up, self.dec, lambda s, u: torch.cat([s, u], 1)))


# ---- small / large: UNet003 -----------------------------------------------------------------
def conv_unit(i, o, k=3):
    """[k x k conv with bias (same padding), BN, ReLU] as a list, to splice into a Sequential."""
    return [nn.Conv2d(i, o, kernel_size=k, padding=k // 2), nn.BatchNorm2d(o), nn.ReLU()]


def pooled_unit(i, o):
    return nn.Sequential(nn.MaxPool2d(2), *conv_unit(i, o))


def unet003_levels(m, x):
    """The levels both UNet003 nets share: enc1, enc2, enc3, bneck, then per level the upsampled
    tensor first in the concat with its skip, and the decoder unit (dec3, dec2, dec1)."""
    e1 = m.enc1(x)
    e2 = m.enc2(e1)
    e3 = m.enc3(e2)
    d = m.bneck(e3)
    for upconv, dec, skip in ((m.upconv3, m.dec3, e3), (m.upconv2, m.dec2, e2), (m.upconv1, m.dec1, e1)):
        d = dec(torch.cat([upconv(d), skip], 1))
    return d


class UNet003Small(nn.Module):
    """One conv unit per level (4, 8, 32, 64); ConvTranspose k3 s2 p1 op1; the upsampled tensor
    first in the concat; decoder units 32, 8, 16; a 1x1 conv to 32 classes."""

    def __init__(self, in_channels=3, n_classes=32):
        super().__init__()
        self.enc1 = nn.Sequential(*conv_unit(in_channels, 4))
        self.enc2 = pooled_unit(4, 8)
        self.enc3 = pooled_unit(8, 32)
        self.bneck = pooled_unit(32, 64)
        self.upconv3, self.dec3 = up3x3(64, 32), nn.Sequential(*conv_unit(64, 32))
        self.upconv2, self.dec2 = up3x3(32, 8), nn.Sequential(*conv_unit(16, 8))
        self.upconv1, self.dec1 = up3x3(8, 4), nn.Sequential(*conv_unit(8, 16))
        self.conv = nn.Conv2d(16, n_classes, kernel_size=1)

    def forward(self, x):
        return self.conv(unet003_levels(self, x))


class UNet003Large(nn.Module):
    """Prep units 64, 64, 32; levels 8, 28, 56, 112 as in UNet003Small; decoder units 56, 28, then
    48 and 64 at full size; three more 64-channel units; a 1x1 conv to 256 classes."""

    def __init__(self, in_channels=3, n_classes=256):
        super().__init__()
        self.prep0 = nn.Sequential(*conv_unit(in_channels, 64))
        self.prep1 = nn.Sequential(*conv_unit(64, 64))
        self.prep2 = nn.Sequential(*conv_unit(64, 32))
        self.enc1 = nn.Sequential(*conv_unit(32, 8))
        self.enc2 = pooled_unit(8, 28)
        self.enc3 = pooled_unit(28, 56)
        self.bneck = pooled_unit(56, 112)
        self.upconv3, self.dec3 = up3x3(112, 56), nn.Sequential(*conv_unit(112, 56))
        self.upconv2, self.dec2 = up3x3(56, 28), nn.Sequential(*conv_unit(56, 28))
        self.upconv1, self.dec1 = up3x3(28, 8), nn.Sequential(*conv_unit(16, 48))
        self.dec0 = nn.Sequential(*conv_unit(48, 64))
        self.conv_p1 = nn.Sequential(*conv_unit(64, 64))
        self.conv_p2 = nn.Sequential(*conv_unit(64, 64))
        self.conv_p3 = nn.Sequential(*conv_unit(64, 64))
        self.conv = nn.Conv2d(64, n_classes, kernel_size=1)

    def forward(self, x):
        for prep in (self.prep0, self.prep1, self.prep2):
            x = prep(x)
        d = self.dec0(unet003_levels(self, x))
        for post in (self.conv_p1, self.conv_p2, self.conv_p3):
            d = post(d)
        return self.conv(d)


# ---- ronneberger2015: UNet004 ---------------------------------------------------------------
class UNet004(_Levels):
    """Ronneberger et al. 2015: (valid 3x3 conv, ReLU) twice per stage, 64..1024, no BatchNorm;
    transposed 2x2 up; the skip centre-cropped and first in the concat; 1x1 conv; 572 -> 388."""

    def __init__(self, in_channels=1, n_classes=2):
        super().__init__()
        widths = [64, 128, 256, 512, 1024]

        def unit(i, o):
            return nn.Sequential(conv3(i, o, padding=0), nn.ReLU(), conv3(o, o, padding=0), nn.ReLU())

        ins = [in_channels] + widths[:-1]
        self.down = nn.ModuleList(unit(i, o) for i, o in zip(ins, widths))
        self.pool = nn.MaxPool2d(2)
        self.up_trans = nn.ModuleList(up2x2(widths[k], widths[k - 1]) for k in (4, 3, 2, 1))
        self.up_conv = nn.ModuleList(unit(widths[k], widths[k - 1]) for k in (4, 3, 2, 1))
        self.out = nn.Conv2d(widths[0], n_classes, kernel_size=1)

    def forward(self, x):
        x = self.run_levels(x, self.down, self.up_trans, self.up_conv,
                            lambda skip, up: torch.cat([crop_to(skip, up), up], 1))
        return self.out(x)


ALL = {"UNet000": UNet000, "UNet001": UNet001, "UNet002": UNet002, "UNet003Small": UNet003Small,
       "UNet003Large": UNet003Large, "UNet004": UNet004}
