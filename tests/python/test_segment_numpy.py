#!/usr/bin/python3
"""The Python package over the C runtime: unetgen.load() and Model.segment() on numpy arrays.

Two channel-reduced specs (tests/runtime/specs: tiny_bilinear, RGB, 3 classes, softmax; tiny_valid,
gray, valid convolutions) are built, given random weights with non-trivial BatchNorm statistics
(unetgen.torch.randomize_) and compared with PyTorch (the spec's module, from_spec) to
1e-4 x max(1, max|torch|). Checks: uint8 H x W x C and gray H x W, batches, uint16, float32 C x H x W
(and a non-contiguous view), every output kind, border="mirror", a memory budget that tiles, four
Python threads on one model at once (equal results; the GIL released during the call), windows
that tile the image exactly, and errors raised with the runtime's status and message.

usage: test_segment_numpy.py --unetgen BUILD/cli/unetgen --workdir DIR   (PYTHONPATH: the package)
"""
import argparse
import os
import shutil
import sys
import threading
import time

import numpy as np
import torch

import unetgen
from python_test_support import build_random, check, finish


def close(got, want, what):
    err = float(np.max(np.abs(got.astype(np.float64) - want))) if got.shape == want.shape else float("inf")
    bound = 1e-4 * max(1.0, float(np.max(np.abs(want))))
    check(err <= bound, f"{what}: max|diff| {err:.3g} (bound {bound:.3g})")


class Net:
    def __init__(self, unetgen_exe, workdir, name, seed):
        self.lib, self.weights, self.module = build_random(unetgen_exe, workdir, name, seed)
        self.model = unetgen.load(self.lib, self.weights)

    def torch(self, x_nchw):
        with torch.no_grad():
            return self.module(torch.from_numpy(np.ascontiguousarray(x_nchw, np.float32))).double().numpy()


def normalised(img, mean, std, top):
    """uint H x W x C -> float32 1 x C x H x W, (x / top - mean) / std in float32."""
    x = np.transpose(img.astype(np.float32) / np.float32(top), (2, 0, 1))
    m = np.asarray(mean, np.float32)[:, None, None]
    s = np.asarray(std, np.float32)[:, None, None]
    return ((x - m) / s)[None]


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_rgb(net):
    m = net.model
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, size=(96, 110, 3), dtype=np.uint8)
    want = net.torch(normalised(img, m.mean, m.std, 255))
    close(m.segment(img, output="logits")[None], want, "uint8 H x W x 3 -> logits vs PyTorch")
    close(m.segment(img, output="probs")[None], softmax(want), "uint8 -> probs (softmax) vs PyTorch")
    mask = m.segment(img)
    check(mask.dtype == np.uint8 and mask.shape == (96, 110), f"mask: uint8 {mask.shape}")
    check(float(np.mean(mask == np.argmax(want[0], axis=0))) > 0.999, "mask = argmax of the PyTorch logits")
    batch = np.stack([img, img[::-1].copy()])
    got = m.segment(batch, output="logits")
    check(got.shape == (2, 3, 96, 110), f"a batch of 2 keeps its axis: {got.shape}")
    close(got[1:], net.torch(normalised(img[::-1], m.mean, m.std, 255)), "batch image 2 vs PyTorch")
    x = normalised(img, m.mean, m.std, 255)[0]
    close(m.segment(x, output="logits")[None], want, "float32 C x H x W (normalised) vs PyTorch")
    wide = np.zeros((3, 96, 220), np.float32)
    wide[:, :, ::2] = x
    view = wide[:, :, ::2]
    close(m.segment(view, output="logits")[None], want, "a non-contiguous float32 view")
    img16 = rng.integers(0, 65536, size=(96, 110, 3), dtype=np.uint16)
    close(m.segment(img16, output="logits")[None], net.torch(normalised(img16, m.mean, m.std, 65535)),
          "uint16 H x W x 3 (/65535) vs PyTorch")
    # A budget that forces tiles: the same values.
    big = rng.integers(0, 256, size=(256, 288, 3), dtype=np.uint8)
    budget = m.plan(big, output="logits")["peak_bytes"] // 2
    plan = m.plan(big, output="logits", memory=budget)
    tiled = m.segment(big, output="logits", memory=budget)
    check(plan["rows"] * plan["cols"] > 1 and np.array_equal(tiled, m.segment(big, output="logits")),
          f"memory={budget} tiles the call ({plan['rows']}x{plan['cols']}) with the same values")
    return img


def test_gray_valid(net):
    m = net.model
    rng = np.random.default_rng(4)
    ok_h, ok_w = m.nearest_sizes(140)[0], m.nearest_sizes(131)[0]
    img = rng.integers(0, 256, size=(ok_h, ok_w), dtype=np.uint8)
    want = net.torch(normalised(img[:, :, None], m.mean, m.std, 255))
    close(m.segment(img, output="logits")[None], want, f"gray uint8 H x W ({ok_h}x{ok_w}) on a valid network")
    check(m.output_size(ok_h, ok_w) == want.shape[2:], f"output_size {m.output_size(ok_h, ok_w)}")
    odd = rng.integers(0, 256, size=(33, 20), dtype=np.uint8)
    try:
        m.segment(odd)
        check(False, "a size the network cannot take raises")
    except unetgen.UnetgenError as e:
        check(e.status_name == "BAD_SIZE" and "nearest" in e.message, f"BAD_SIZE with the rule: {e.message[:90]}")
    mirrored = m.segment(odd, border="mirror")
    check(mirrored.shape == (33, 20), f"border='mirror' takes 33x20 and returns the image's size {mirrored.shape}")


def test_threads(net, img):
    m = net.model
    want = m.segment(img, output="probs")
    results, errors = [None] * 4, []

    def work(i):
        try:
            for _ in range(3):
                results[i] = m.segment(img, output="probs")
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check(not errors and all(np.array_equal(r, want) for r in results), "4 Python threads on one model: equal results")
    # The GIL is released during segment(): a Python loop in another thread keeps counting at
    # nearly its free-running rate (held, it would get only the interpreter's 5 ms switch slices).
    # The pipeline gets one thread so that a core stays free for the loop.
    big = np.ascontiguousarray(np.tile(img, (4, 4, 1)))
    counts, done = [0], threading.Event()

    def spin():
        while not done.is_set():
            counts[0] += 1

    m.set_threads(1)
    m.segment(big)  # warm
    t = threading.Thread(target=spin)
    t.start()
    time.sleep(0.05)
    t0, c0 = time.perf_counter(), counts[0]
    time.sleep(0.1)
    free_rate = (counts[0] - c0) / (time.perf_counter() - t0)
    t0, c0 = time.perf_counter(), counts[0]
    m.segment(big)
    elapsed, during = time.perf_counter() - t0, counts[0] - c0
    done.set()
    t.join()
    m.set_threads(0)
    share = during / (free_rate * elapsed)
    check(share > 0.3, f"during a {elapsed * 1000:.0f} ms segment() another Python thread ran at {share:.0%} of its "
                       f"free rate (the GIL is released)")


def test_windows(net, img):
    m = net.model
    h, w = img.shape[:2]
    whole = m.segment(img, output="probs")
    out = np.zeros_like(whole)
    for (x, y, ww, wh) in [(0, 0, 40, 50), (40, 0, w - 40, 50), (0, 50, 40, h - 50), (40, 50, w - 40, h - 50)]:
        rx, ry, rw, rh = m.window_input(h, w, (x, y, ww, wh))
        asked = []

        def read(X, Y, W, H):
            asked.append((X, Y, W, H))
            return img[Y:Y + H, X:X + W]

        out[:, y:y + wh, x:x + ww] = m.segment_window(read, h, w, (x, y, ww, wh), output="probs")
        inside = all(rx <= X and ry <= Y and X + W <= rx + rw and Y + H <= ry + rh for X, Y, W, H in asked)
        check(inside, f"window {(x, y, ww, wh)} reads only inside its window_input {(rx, ry, rw, rh)}")
    check(np.array_equal(out, whole), "four windows tile the image with exactly the whole image's values")


def test_errors(net, workdir):
    m = net.model
    try:
        m.segment(np.zeros((32, 32, 2), np.uint8))
        check(False, "2 channels for an RGB network raise")
    except ValueError as e:
        check("H x W x 3" in str(e), f"wrong channels: ValueError naming the layout ({e})")
    bad = os.path.join(workdir, "bad.safetensors")
    with open(bad, "wb") as f:
        f.write(b"\xff" * 64)
    for weights, status in ((bad, "BAD_WEIGHTS_FILE"), (os.path.join(workdir, "absent.safetensors"), "IO")):
        try:
            unetgen.load(net.lib, weights)
            check(False, f"{weights} raises")
        except unetgen.UnetgenError as e:
            check(e.status_name == status and weights in e.message, f"{status}: {e.message[:100]}")
    try:
        unetgen.load(os.path.join(workdir, "no_such_build"), net.weights)
        check(False, "a missing library raises")
    except unetgen.UnetgenError as e:
        check(e.status_name == "IO" and "no_such_build" in e.message, f"missing library: {e.message[:100]}")
    with open(net.weights, "rb") as f:
        from_bytes = unetgen.load(net.lib, f.read())
    img = np.zeros((64, 64, 3), np.uint8)
    check(np.array_equal(from_bytes.segment(img, output="probs"), m.segment(img, output="probs")),
          "weights given as bytes load the same model")
    from_bytes.close()
    try:
        from_bytes.segment(img)
        check(False, "a closed model raises")
    except ValueError as e:
        check("closed" in str(e), "a closed model raises ValueError")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--unetgen", required=True)
    ap.add_argument("--workdir", required=True)
    args = ap.parse_args()
    shutil.rmtree(args.workdir, ignore_errors=True)
    os.makedirs(args.workdir)
    torch.set_num_threads(2)
    rgb = Net(args.unetgen, args.workdir, "tiny_bilinear", 21)
    img = test_rgb(rgb)
    test_gray_valid(Net(args.unetgen, args.workdir, "tiny_valid", 22))
    test_threads(rgb, img)
    test_windows(rgb, img)
    test_errors(rgb, args.workdir)
    return finish("Python runtime")


if __name__ == "__main__":
    sys.exit(main())
