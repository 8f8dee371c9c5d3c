"""U-Nets people train today, written as plain PyTorch modules: the project's own references for
the example specs that describe them (examples/specs/), as example_networks.py is for the seeds.

Hand-written from the architectures' published definitions; tests/reference checks each against
../shared/reference/modern_models.py (checked there against nnU-Net's and MONAI's own code) when
that folder is present: same state_dict names and shapes, same outputs on the same weights.

    spec                 class               what it is
    nnunet_plain.unet    NnUNetPlain(1, 3)   nnU-Net v2 2-D PlainConvUNet: strided-conv down, Conv ->
                                             InstanceNorm(affine) -> LeakyReLU(0.01), ConvTranspose up,
                                             (up, skip) concat, 1x1 head
    monai_basic.unet     MonaiBasicUNet(1, 2) MONAI BasicUNet: max-pool down, InstanceNorm(affine) +
                                             LeakyReLU(0.1), deconvs halving (but the top), replicate
                                             pad to odd skips, (skip, up) concat, any side >= 16
"""
import torch
import torch.nn as nn


def _as_list(v, n):
    return list(v) if isinstance(v, (list, tuple)) else [v] * n


def conv_in_lrelu(cin, cout, stride=1):
    """nnU-Net's conv unit: 3x3 conv with bias (padding 1) -> InstanceNorm2d(affine) -> LeakyReLU(0.01)."""
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=True),
                         nn.InstanceNorm2d(cout, eps=1e-5, affine=True),
                         nn.LeakyReLU(negative_slope=0.01, inplace=True))


class NnUNetPlain(nn.Module):
    """Stages s = 0..S-1 of `convs` units each, the first unit of every stage below the top with
    stride 2 (nnU-Net downsamples only so). Decoder, deepest first: ConvTranspose2d(k2, s2, bias) to the
    skip's width, cat(upsampled, skip), `dec_convs` units. Head: 1x1 conv with bias. Sides must be
    multiples of 2**(S-1). Attribute names as nnU-Net's PlainConvUNet flattened: encoder, transpconvs,
    decoder, seg."""

    def __init__(self, in_channels=1, num_classes=3, features=(32, 64, 128, 256, 512, 512), convs=2, dec_convs=2):
        super().__init__()
        depth = len(features)
        enc, dec = _as_list(convs, depth), _as_list(dec_convs, depth - 1)
        stages = []
        width = in_channels
        for s, f in enumerate(features):
            units = [conv_in_lrelu(width, f, 2 if s > 0 else 1)] + [conv_in_lrelu(f, f) for _ in range(enc[s] - 1)]
            stages.append(nn.Sequential(*units))
            width = f
        self.encoder = nn.ModuleList(stages)
        ups, blocks = [], []
        for k, s in enumerate(reversed(range(depth - 1))):  # k-th decoder level from the bottom is stage s
            ups.append(nn.ConvTranspose2d(features[s + 1], features[s], 2, stride=2, bias=True))
            units = [conv_in_lrelu(2 * features[s], features[s])] + [conv_in_lrelu(features[s], features[s])
                                                                     for _ in range(dec[k] - 1)]
            blocks.append(nn.Sequential(*units))
        self.transpconvs = nn.ModuleList(ups)
        self.decoder = nn.ModuleList(blocks)
        self.seg = nn.Conv2d(features[0], num_classes, 1, bias=True)

    def forward(self, x):
        skips = []
        for stage in self.encoder:
            x = stage(x)
            skips.append(x)
        x = skips[-1]
        for k, (up, block) in enumerate(zip(self.transpconvs, self.decoder)):
            x = block(torch.cat([up(x), skips[-2 - k]], dim=1))
        return self.seg(x)


def two_conv(cin, cout):
    """MONAI BasicUNet's TwoConv: twice Conv(3x3, bias) -> InstanceNorm2d(affine) -> LeakyReLU(0.1)."""
    layers = []
    for i in (cin, cout):
        layers += [nn.Conv2d(i, cout, 3, padding=1, bias=True), nn.InstanceNorm2d(cout, eps=1e-5, affine=True),
                   nn.LeakyReLU(0.1, inplace=True)]
    return nn.Sequential(*layers)


class MonaiBasicUNet(nn.Module):
    """MONAI BasicUNet(spatial_dims=2): five levels of TwoConv, max-pool down; per decoder level k = 4..1 a
    2x2 stride-2 ConvTranspose2d to f[k] // 2 channels (f[1] at the top), its right / bottom edge
    replicated where the skip is one larger, cat(skip, up), TwoConv to f[k-1] (f[5] at the top); 1x1 head.
    Attribute names as ../shared's MonaiBasicUNet2d (encoder, pool, upsample, decoder, final_conv)."""

    def __init__(self, in_channels=1, out_channels=2, features=(32, 32, 64, 128, 256, 32)):
        super().__init__()
        f = list(features)
        self.encoder = nn.ModuleList([two_conv(in_channels if k == 0 else f[k - 1], f[k]) for k in range(5)])
        self.pool = nn.MaxPool2d(2)
        ups, blocks = [], []
        for k in (4, 3, 2, 1):
            width = f[k] // 2 if k > 1 else f[1]
            ups.append(nn.ConvTranspose2d(f[k], width, 2, stride=2, bias=True))
            blocks.append(two_conv(f[k - 1] + width, f[k - 1] if k > 1 else f[5]))
        self.upsample = nn.ModuleList(ups)
        self.decoder = nn.ModuleList(blocks)
        self.final_conv = nn.Conv2d(f[5], out_channels, 1, bias=True)

    def forward(self, x):
        levels = []
        for k, block in enumerate(self.encoder):
            x = block(self.pool(x) if k else x)
            levels.append(x)
        x = levels[-1]
        for k, (up, block) in enumerate(zip(self.upsample, self.decoder)):
            skip = levels[-2 - k]
            u = up(x)
            grow_w, grow_h = skip.shape[3] - u.shape[3], skip.shape[2] - u.shape[2]
            if grow_w or grow_h:
                u = nn.functional.pad(u, [0, grow_w, 0, grow_h], mode="replicate")
            x = block(torch.cat([skip, u], dim=1))
        return self.final_conv(x)
