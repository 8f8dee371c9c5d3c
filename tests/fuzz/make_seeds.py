#!/usr/bin/python3
"""Writes the seed inputs of the PNG, TIFF and safetensors fuzzers (tests/fuzz/{png,tiff,safetensors}).

The seeds are small valid files covering each layout the readers handle, plus a few broken ones,
so libFuzzer starts from inside every branch instead of rediscovering the formats. They are kept
in the repository; rerun this (Debian's /usr/bin/python3, with numpy and tifffile) only to change them.
"""
import json
import os
import struct
import subprocess
import zlib

import numpy as np
import tifffile

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(13)


def out(kind, name, data):
    os.makedirs(os.path.join(HERE, kind), exist_ok=True)
    with open(os.path.join(HERE, kind, name), "wb") as f:
        f.write(data)


def png(w, h, bits, colour, pixels, chunks=(), interlace=0):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    body = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bits, colour, 0, 0, interlace))
    for kind, data in chunks:
        body += chunk(kind, data)
    return body + chunk(b"IDAT", zlib.compress(pixels)) + chunk(b"IEND", b"")


def rows(img, bits):
    data = img.astype(">u2" if bits == 16 else np.uint8).reshape(img.shape[0], -1)
    return b"".join(b"\x00" + r.tobytes() for r in data)


def png_seeds():
    w, h = 13, 9
    for bits in (8, 16):
        top = 65535 if bits == 16 else 255
        for colour, samples in ((0, 1), (2, 3), (4, 2), (6, 4)):
            img = rng.integers(0, top + 1, size=(h, w, samples))
            out("png", f"c{colour}_{bits}.png", png(w, h, bits, colour, rows(img, bits)))
    packed = bytes(b for y in range(h) for b in [0] + [0b10110100] * ((w + 3) // 4))
    out("png", "gray2.png", png(w, h, 2, 0, packed))
    pal = rng.integers(0, 256, size=(16, 3)).astype(np.uint8).tobytes()
    idx = rng.integers(0, 16, size=(h, w))
    out("png", "palette.png", png(w, h, 8, 3, rows(idx, 8), chunks=[(b"PLTE", pal), (b"tRNS", b"\x00\x80")]))
    g = rng.integers(0, 256, size=(h, w, 1))
    out("png", "gamma.png", png(w, h, 8, 0, rows(g, 8), chunks=[(b"gAMA", struct.pack(">I", 100000))]))
    # Adam7: libpng de-interlaces; build the passes' rows by hand.
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    raw = b""
    for x0, y0, dx, dy in passes:
        sub = g[y0::dy, x0::dx, 0]
        if sub.size:
            raw += b"".join(b"\x00" + r.astype(np.uint8).tobytes() for r in sub)
    out("png", "interlaced.png", png(w, h, 8, 0, raw, interlace=1))
    good = png(w, h, 8, 2, rows(rng.integers(0, 256, size=(h, w, 3)), 8))
    out("png", "truncated.png", good[:-30])


def tiff_seeds():
    import io
    w, h = 19, 13
    rgb8 = rng.integers(0, 256, size=(h, w, 3)).astype(np.uint8)
    variants = {
        "gray8_strips.tif": dict(data=rgb8[:, :, 0], photometric="minisblack", rowsperstrip=4),
        "gray16_deflate.tif": dict(data=(rgb8[:, :, 0].astype(np.uint16) * 257), photometric="minisblack",
                                   compression="zlib"),
        "rgb8_tiled.tif": dict(data=rgb8, photometric="rgb", tile=(16, 16)),
        "rgb8_planar_big.tif": dict(data=np.transpose(rgb8, (2, 0, 1)), photometric="rgb",
                                    planarconfig="separate", tile=(16, 16), bigtiff=True),
        "rgba8_strips.tif": dict(data=np.concatenate([rgb8, rgb8[:, :, :1]], axis=2), photometric="rgb",
                                 extrasamples=["unassalpha"], rowsperstrip=5),
        "rgb16_strips.tif": dict(data=rgb8.astype(np.uint16) * 257, photometric="rgb", rowsperstrip=3),
    }
    for name, kw in variants.items():
        buf = io.BytesIO()
        data = kw.pop("data")
        tifffile.imwrite(buf, data, **kw)
        out("tiff", name, buf.getvalue())
    # LZW and PackBits, which tifffile cannot write here: recompressed by tiffcp (libtiff-tools).
    for codec in ("lzw", "packbits"):
        src, dst = os.path.join(HERE, "tiff", "rgb8_tiled.tif"), os.path.join(HERE, "tiff", f"rgb8_tiled_{codec}.tif")
        subprocess.run(["tiffcp", "-c", codec, src, dst], check=True)
    buf = io.BytesIO()
    tifffile.imwrite(buf, rgb8, photometric="rgb", tile=(16, 16), compression="zlib")
    out("tiff", "truncated.tif", buf.getvalue()[: len(buf.getvalue()) * 2 // 3])


def safetensors(tensors, dtype, metadata=None):
    header, blobs, offset = {}, [], 0
    for name, arr in tensors.items():
        if dtype == "F32":
            blob = arr.astype("<f4").tobytes()
        elif dtype == "F16":
            blob = arr.astype("<f2").tobytes()
        else:  # BF16: the top half of each float32
            blob = (arr.astype("<f4").view("<u4") >> 16).astype("<u2").tobytes()
        header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def weights_for(manifest):
    m = json.load(open(os.path.join(HERE, "manifests", manifest)))
    t = {}
    for entry in m["tensors"]:
        shape = tuple(entry["shape"])
        name = entry["name"]
        if name.endswith("running_var"):
            t[name] = rng.uniform(0.5, 2.0, size=shape)
        else:
            t[name] = rng.normal(0, 0.3, size=shape)
    return t


def safetensors_seeds():
    out("safetensors", "tiny_valid_f32.safetensors", safetensors(weights_for("tiny_valid.json"), "F32"))
    bil = weights_for("tiny_bilinear.json")
    bil["enc0.bn0.num_batches_tracked"] = np.zeros(())
    out("safetensors", "tiny_bilinear_bf16.safetensors", safetensors(bil, "BF16", {"format": "pt"}))
    few = {"a.weight": rng.normal(size=(2, 3)), "b": rng.normal(size=(4,))}
    out("safetensors", "few_f16.safetensors", safetensors(few, "F16"))
    out("safetensors", "empty.safetensors", struct.pack("<Q", 2) + b"{}")
    out("safetensors", "overlap.safetensors", struct.pack("<Q", 96) +
        json.dumps({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                    "y": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}).encode().ljust(96) + bytes(12))


if __name__ == "__main__":
    png_seeds()
    tiff_seeds()
    safetensors_seeds()
    for kind in ("png", "tiff", "safetensors"):
        files = os.listdir(os.path.join(HERE, kind))
        print(kind, len(files), "seeds,", sum(os.path.getsize(os.path.join(HERE, kind, f)) for f in files), "bytes")
