"""U-Nets people train today, written as plain PyTorch modules: the project's own references for
the example specs that describe them (examples/specs/), as example_networks.py is for the seeds.

Hand-written from the architectures' published definitions; tests/reference checks each against
../shared/reference/modern_models.py (checked there against nnU-Net's, MONAI's and Oktay et al.'s own
code) when that folder is present: same state_dict names and shapes, same outputs on the same weights.

    spec                 class               what it is
    nnunet_plain.unet    NnUNetPlain(1, 3)   nnU-Net v2 2-D PlainConvUNet: strided-conv down, Conv ->
                                             InstanceNorm(affine) -> LeakyReLU(0.01), ConvTranspose up,
                                             (up, skip) concat, 1x1 head
    monai_basic.unet     MonaiBasicUNet(1, 2) MONAI BasicUNet: max-pool down, InstanceNorm(affine) +
                                             LeakyReLU(0.1), deconvs halving (but the top), replicate
                                             pad to odd skips, (skip, up) concat, any side >= 16
    attention_unet.unet  AttentionUNet(3, 1) Oktay et al.'s Attention U-Net: BN + ReLU, max-pool down,
                                             additive attention gates on the skips of levels 1..L-2
                                             (gating from the coarser level), bilinear up, (skip, up)
                                             concat, sides multiples of 2**(L-1)
    monai_resunet.unet   MonaiResUNet(1, 2)  MONAI UNet(num_res_units=2): residual units of Conv ->
                                             InstanceNorm -> PReLU, strided down, cat(skip, below) ->
                                             ConvTranspose(k3 s2) -> norm -> PReLU -> residual unit,
                                             no head (the top unit's conv is bare)
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


def conv_bn_relu(cin, cout, k=3):
    """Attention U-Net's conv unit: Conv2d(k x k, same padding, bias) -> BatchNorm2d -> ReLU, as three
    flat modules (indices 0, 1, 2 in a Sequential, the reference's state_dict layout)."""
    return [nn.Conv2d(cin, cout, k, padding=k // 2, bias=True), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class AttentionGate(nn.Module):
    """Oktay et al.'s additive gate on skip x (cx channels) with gating signal g (cg channels, half x's
    grid), inter channels cint: alpha = sigmoid(psi(ReLU(theta(x) + phi(g)))), resized bilinearly to x's
    grid, y = combine(W(alpha * x)). theta has no bias (the paper's W_x); W is conv + BN without ReLU."""

    def __init__(self, cx, cg, cint):
        super().__init__()
        self.theta = nn.Conv2d(cx, cint, 2, stride=2, padding=0, bias=False)
        self.phi = nn.Conv2d(cg, cint, 1, bias=True)
        self.psi = nn.Conv2d(cint, 1, 1, bias=True)
        self.W = nn.Sequential(nn.Conv2d(cx, cx, 1, bias=True), nn.BatchNorm2d(cx))
        self.combine = nn.Sequential(*conv_bn_relu(cx, cx, 1))

    def forward(self, x, g):
        q = torch.relu(self.theta(x) + self.phi(g))
        alpha = nn.functional.interpolate(torch.sigmoid(self.psi(q)), size=x.shape[2:], mode="bilinear",
                                          align_corners=False)
        return self.combine(self.W(x * alpha))


class AttentionUNet(nn.Module):
    """Attention U-Net (Oktay et al. 2018), 2-D, plain head. L = len(features) levels of two 3x3 conv units,
    max-pool down; a 1x1 conv unit on the bottleneck gives the first gating signal; the skip of every
    decoder level l = 1..L-2 passes an AttentionGate (inter channels f[l]) gated by the coarser level (the
    gating unit for l = L-2, else decoder level l+1's output); level 0's skip is not gated. Decoder level
    l: bilinear x2 (align_corners=False) of the level below, cat(skip, up), two 3x3 conv units; 1x1 head.
    Sides must be multiples of 2**(L-1). Attribute names as ../shared's AttentionUNet2d (encoder, pool,
    gating, gates, decoder, head)."""

    def __init__(self, in_channels=3, out_channels=1, features=(32, 64, 128, 256, 512)):
        super().__init__()
        f, depth = list(features), len(features)
        self.encoder = nn.ModuleList([nn.Sequential(*conv_bn_relu(f[l - 1] if l else in_channels, f[l]),
                                                    *conv_bn_relu(f[l], f[l])) for l in range(depth)])
        self.pool = nn.MaxPool2d(2)
        self.gating = nn.Sequential(*conv_bn_relu(f[-1], f[-1], 1))
        # gates[l - 1] serves decoder level l (level 0 has none); its gating signal has f[l + 1] channels
        self.gates = nn.ModuleList([AttentionGate(f[l], f[l + 1], f[l]) for l in range(1, depth - 1)])
        self.decoder = nn.ModuleList([nn.Sequential(*conv_bn_relu(f[l] + f[l + 1], f[l]), *conv_bn_relu(f[l], f[l]))
                                      for l in range(depth - 1)])
        self.head = nn.Conv2d(f[0], out_channels, 1)

    def forward(self, x):
        levels = []
        for l, block in enumerate(self.encoder):
            x = block(self.pool(x) if l else x)
            levels.append(x)
        x = levels[-1]
        g = self.gating(x)
        for l in reversed(range(len(self.decoder))):
            skip = self.gates[l - 1](levels[l], g) if l else levels[l]
            up = nn.functional.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
            x = g = self.decoder[l](torch.cat([skip, up], dim=1))
        return self.head(x)


def nda(c):
    """MONAI's "NDA" with UNet's defaults: InstanceNorm2d without affine, then PReLU (one slope, 0.25)."""
    return [nn.InstanceNorm2d(c, eps=1e-5, affine=False), nn.PReLU(num_parameters=1, init=0.25)]


class ResidualUnit(nn.Module):
    """MONAI's ResidualUnit (kernel 3): `subunits` x [Conv(3x3, bias) -> NDA], the first strided, the last
    bare when `bare_last`; plus the shortcut: a 3x3 conv of the same stride where it strides, else a 1x1
    conv where the channels change, else the input. No activation after the sum."""

    def __init__(self, cin, cout, stride, subunits, bare_last=False):
        super().__init__()
        units = []
        for k in range(max(1, subunits)):
            units.append(nn.Conv2d(cout if k else cin, cout, 3, stride if k == 0 else 1, 1, bias=True))
            if not (bare_last and k == max(1, subunits) - 1):
                units += nda(cout)
        self.conv = nn.Sequential(*units)
        if stride != 1:
            self.residual = nn.Conv2d(cin, cout, 3, stride, 1, bias=True)
        elif cin != cout:
            self.residual = nn.Conv2d(cin, cout, 1, bias=True)
        else:
            self.residual = nn.Identity()

    def forward(self, x):
        shortcut = self.residual(x)  # first, as MONAI runs it (it fixes the order of the weights)
        return self.conv(x) + shortcut


class MonaiResUNet(nn.Module):
    """MONAI UNet(spatial_dims=2, channels, strides, num_res_units >= 1): down units (each strides), a
    stride-1 bottom unit, then per level from the bottom up cat(skip, below) -> ConvTranspose(k3, stride,
    p1, op stride-1) -> NDA -> a one-subunit residual unit (its conv bare at the top, which makes the
    output channels). Attribute names as ../shared's MonaiResUNet2d (down, bottom, up)."""

    def __init__(self, in_channels=1, out_channels=2, channels=(16, 32, 64, 128, 256), strides=(2, 2, 2, 2),
                 num_res_units=2):
        super().__init__()
        c, n = list(channels), len(channels)
        s = list(strides)[:n - 1]
        self.down = nn.ModuleList([ResidualUnit(c[i - 1] if i else in_channels, c[i], s[i], num_res_units)
                                   for i in range(n - 1)])
        self.bottom = ResidualUnit(c[n - 2], c[n - 1], 1, num_res_units)
        ups = []
        for i in range(n - 1):
            below = c[n - 1] if i == n - 2 else c[i]
            out = c[i - 1] if i else out_channels
            ups.append(nn.Sequential(nn.ConvTranspose2d(c[i] + below, out, 3, s[i], padding=1, output_padding=s[i] - 1,
                                                        bias=True),
                                     *nda(out), ResidualUnit(out, out, 1, 1, bare_last=(i == 0))))
        self.up = nn.ModuleList(ups)

    def forward(self, x):
        skips = []
        for unit in self.down:
            x = unit(x)
            skips.append(x)
        x = self.bottom(x)
        for i in range(len(self.up) - 1, -1, -1):
            x = self.up[i](torch.cat([skips[i], x], dim=1))
        return x
