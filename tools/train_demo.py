#!/usr/bin/python3
"""train_demo.py — train the bundled demo model (models/coins.*) on scikit-image's coins photograph.

    tools/install_deps.sh --train          # python3-skimage, for the sample image
    /usr/bin/python3 tools/train_demo.py [--out models] [--steps 1000] [--threads 1]
    /usr/bin/python3 tools/train_demo.py --export-only   # re-export a kept --checkpoint

Needs a built `unetgen` (build*/cli/unetgen, or --unetgen PATH) for the exporter.

What it makes, from nothing but data that ships with python3-skimage (no download):
  models/coins.unet         the spec: examples/specs/milesial_bilinear.unet at 1/8 width, one gray
                            input channel, one sigmoid class
  models/coins.safetensors  the trained weights, canonical names (docs/architecture.md), BN unfolded
  models/coins.png          the input image (skimage.data.coins(), 384x303, 8-bit gray)
  models/coins_label.png    the label the IoU is measured against (0 / 255)
  docs/img/coins_input.png  the input again, for the README
  docs/img/coins_mask_pytorch.png  PyTorch's mask of the whole image (sigmoid >= 0.5); tests/demo
                            checks that unetgen's mask equals it (the README's mask and overlay
                            pictures are unetgen's own, written by `make demo`)

The label rule (reproducible, no hand annotation): Sobel gradient magnitude as elevation map;
markers "background" where the pixel < 30 and "coin" where it is > 150; watershed from those markers;
coin region with holes filled; objects under 64 pixels dropped. A plain Otsu threshold does not work
on this photograph (the lighting falls off towards the bottom left), which is also why a network
is worth training here: it has to learn shape and edges, not a global brightness cut.

Training: the left 256 columns only; the right 128 columns (8 of the 24 coins) are held out and the
IoU reported on them is measured on that strip, run as one input. Random crops, flips, 90-degree
turns and brightness/contrast jitter; BCE + soft Dice; Adam with cosine decay; fixed seeds and
deterministic kernels, so two runs with the same --threads give the same weights (the bundled
ones: the defaults, 1000 steps on one thread). CPU, about three minutes.

The network is built with modules named as unetgen's canonical weight names (enc{l}.conv{j},
enc{l}.bn{j}, dec{l}.conv{j}, dec{l}.bn{j}, head), so its state dict needs no renaming; it computes
exactly what seed 001's UNet001(bilinear=True) computes, at a chosen base width.
"""
import argparse
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HELD_OUT_X = 256      # columns >= this are never seen in training
BASE = 8              # width of the full-resolution level (the seed uses 64)

SPEC = """\
# The bundled demo model (tools/train_demo.py writes this file): milesial_bilinear.unet at 1/8 width
# with one gray input channel and one sigmoid class, trained on scikit-image's coins photograph.
network name = coins
input   channels = 1
output  classes = 1, activation = sigmoid

encoder channels = [{c1}, {c2}, {c4}, {c8}, {c8}]
decoder channels = [{c4}, {c2}, {c1}, {c1}], mid = half_in
block   convs = 2, kernel = 3, padding = same, bias = false, norm = batchnorm
down    mode = maxpool
up      mode = bilinear, align_corners = true
skip    order = skip_first, match = pad
"""


def coins_and_label():
    """The coins image (uint8 HxW) and its label (bool HxW) by the rule in the module docstring."""
    from scipy import ndimage as ndi
    from skimage import data, filters, morphology, segmentation
    image = data.coins()
    markers = np.zeros(image.shape, np.int32)
    markers[image < 30] = 1
    markers[image > 150] = 2
    regions = segmentation.watershed(filters.sobel(image), markers)
    label = ndi.binary_fill_holes(regions == 2)
    label = morphology.remove_small_objects(label, 64)
    return image, label


class ConvUnit(nn.Module):
    """Two (conv 3x3 without bias, BN, ReLU) units named conv0/bn0/conv1/bn1 (a milesial DoubleConv)."""

    def __init__(self, cin, cmid, cout):
        super().__init__()
        self.conv0 = nn.Conv2d(cin, cmid, 3, padding=1, bias=False)
        self.bn0 = nn.BatchNorm2d(cmid)
        self.conv1 = nn.Conv2d(cmid, cout, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)

    def forward(self, x):
        return F.relu(self.bn1(self.conv1(F.relu(self.bn0(self.conv0(x))))))


class CoinsUNet(nn.Module):
    """UNet001(bilinear=True) at base width `c`, modules named canonically (enc0..enc4, dec3..dec0, head)."""

    def __init__(self, c=BASE, in_channels=1, classes=1):
        super().__init__()
        enc = [c, 2 * c, 4 * c, 8 * c, 8 * c]        # bottleneck halved, as in the bilinear seed
        dec = [4 * c, 2 * c, c, c]                   # deepest first
        self.depth = len(enc)
        for l, ch in enumerate(enc):
            setattr(self, f"enc{l}", ConvUnit(in_channels if l == 0 else enc[l - 1], ch, ch))
        below = enc[-1]
        for i, l in enumerate(range(self.depth - 2, -1, -1)):
            cin = enc[l] + below
            setattr(self, f"dec{l}", ConvUnit(cin, cin // 2, dec[i]))
            below = dec[i]
        self.head = nn.Conv2d(below, classes, 1)

    def forward(self, x):
        skips = []
        for l in range(self.depth):
            if l > 0:
                x = F.max_pool2d(x, 2)
            x = getattr(self, f"enc{l}")(x)
            skips.append(x)
        for l in range(self.depth - 2, -1, -1):
            skip = skips[l]
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)
            dy, dx = skip.size(2) - x.size(2), skip.size(3) - x.size(3)
            x = F.pad(x, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])
            x = getattr(self, f"dec{l}")(torch.cat([skip, x], 1))
        return self.head(x)   # logits; the spec's sigmoid is applied at inference


def random_batch(rng, image, label, batch, size):
    """`batch` augmented crops of side `size` from the training columns (x < HELD_OUT_X)."""
    xs, ys = [], []
    h = image.shape[0]
    for _ in range(batch):
        y0 = rng.randint(0, h - size + 1)
        x0 = rng.randint(0, HELD_OUT_X - size + 1)
        im = image[y0:y0 + size, x0:x0 + size].astype(np.float32) / 255.0
        lb = label[y0:y0 + size, x0:x0 + size].astype(np.float32)
        k = rng.randint(4)
        im, lb = np.rot90(im, k), np.rot90(lb, k)
        if rng.rand() < 0.5:
            im, lb = im[:, ::-1], lb[:, ::-1]
        # lighting varies across the photograph: teach the net not to rely on absolute brightness
        im = np.clip(im * rng.uniform(0.6, 1.3) + rng.uniform(-0.1, 0.1), 0.0, 1.0)
        xs.append(im.copy())
        ys.append(lb.copy())
    return torch.from_numpy(np.stack(xs)[:, None]), torch.from_numpy(np.stack(ys)[:, None])


def iou(pred, truth):
    inter = np.logical_and(pred, truth).sum()
    union = np.logical_or(pred, truth).sum()
    return float(inter) / float(union) if union else 1.0


def predict(model, image):
    """Boolean mask of a whole uint8 image, the way unetgen does it: sigmoid(logits) >= 0.5."""
    model.eval()
    with torch.no_grad():
        x = torch.from_numpy(image.astype(np.float32)[None, None] / 255.0)
        return (torch.sigmoid(model(x))[0, 0] >= 0.5).numpy()


def export(checkpoint, out_dir, unetgen):
    """models/coins.safetensors from a checkpoint, by tools/export_pytorch.py (which matches the
    model's modules to the spec's canonical weights by a traced forward pass)."""
    sys.path.insert(0, os.path.join(REPO, "tools"))
    import export_pytorch
    argv = ["--spec", os.path.join(out_dir, "coins.unet"), "--module", os.path.abspath(__file__),
            "--model", "CoinsUNet()", "--state-dict", checkpoint, "--input-size", "1x64x64",
            "--out", os.path.join(out_dir, "coins.safetensors")]
    if unetgen:
        argv += ["--unetgen", unetgen]
    rc = export_pytorch.main(argv)
    if rc:
        sys.exit(rc)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(REPO, "models"))
    ap.add_argument("--img", default=os.path.join(REPO, "docs", "img"))
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--checkpoint", default=os.path.join(REPO, "build", "coins_state_dict.pt"),
                    help="where the trained state dict is kept (not bundled)")
    ap.add_argument("--export-only", action="store_true",
                    help="skip training: export and draw the pictures from an existing --checkpoint")
    ap.add_argument("--unetgen", help="unetgen binary for the exporter (default: its own search)")
    args = ap.parse_args()

    torch.manual_seed(0)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(args.threads)
    rng = np.random.RandomState(0)
    from skimage import io

    image, label = coins_and_label()
    model = CoinsUNet()
    if args.export_only:
        model.load_state_dict(torch.load(args.checkpoint))
    else:
        opt = torch.optim.Adam(model.parameters(), lr=3e-3)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.steps)
        t0 = time.time()
        for step in range(1, args.steps + 1):
            model.train()
            x, y = random_batch(rng, image, label, batch=8, size=96)
            logits = model(x)
            p = torch.sigmoid(logits)
            dice = 1 - (2 * (p * y).sum() + 1) / (p.sum() + y.sum() + 1)
            loss = F.binary_cross_entropy_with_logits(logits, y) + dice
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            if step % 250 == 0 or step == args.steps:
                held = predict(model, image[:, HELD_OUT_X:])
                print(f"step {step:5d}  loss {loss.item():.4f}  held-out IoU "
                      f"{iou(held, label[:, HELD_OUT_X:]):.4f}  ({time.time() - t0:.0f} s)", flush=True)
        os.makedirs(os.path.dirname(os.path.abspath(args.checkpoint)), exist_ok=True)
        torch.save(model.state_dict(), args.checkpoint)

    held_iou = iou(predict(model, image[:, HELD_OUT_X:]), label[:, HELD_OUT_X:])
    mask = predict(model, image)
    print(f"held-out IoU (columns {HELD_OUT_X}..{image.shape[1] - 1}, never trained on): {held_iou:.4f}")
    print(f"whole-image IoU: {iou(mask, label):.4f}")

    os.makedirs(args.out, exist_ok=True)
    os.makedirs(args.img, exist_ok=True)
    with open(os.path.join(args.out, "coins.unet"), "w") as f:
        f.write(SPEC.format(c1=BASE, c2=2 * BASE, c4=4 * BASE, c8=8 * BASE))
    export(args.checkpoint, args.out, args.unetgen)
    io.imsave(os.path.join(args.out, "coins.png"), image, check_contrast=False)
    io.imsave(os.path.join(args.out, "coins_label.png"), (label * 255).astype(np.uint8), check_contrast=False)
    io.imsave(os.path.join(args.img, "coins_input.png"), image, check_contrast=False)
    io.imsave(os.path.join(args.img, "coins_mask_pytorch.png"), (mask * 255).astype(np.uint8), check_contrast=False)
    print(f"wrote {args.out}/coins.{{unet,safetensors,png}}, coins_label.png, "
          f"{args.img}/coins_input.png and coins_mask_pytorch.png")


if __name__ == "__main__":
    main()
