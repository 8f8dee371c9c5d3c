#!/usr/bin/python3
"""unetgen.dask on a dask.distributed LocalCluster of 2 worker processes equals single-process
segmentation, for the mask and the probabilities, with blocks that force halos across blocks.

tiny_bilinear (same padding, RGB, 3 classes) on a 3 x 300 x 350 image chunked 100 x 120, and
tiny_valid (valid convolutions, gray) with border="mirror" on a 233 x 251 image (any size, the
image's size out). The reference is Model.segment() on the whole image in this process, itself
checked against PyTorch by test_segment_numpy.py.

usage: test_dask_cluster.py --unetgen BUILD/cli/unetgen --workdir DIR   (PYTHONPATH: the package)
"""
import argparse
import os
import shutil
import sys

import dask.array as da
import numpy as np
from distributed import Client, LocalCluster

import unetgen
import unetgen.dask
from python_test_support import build_random, check, finish


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--unetgen", required=True)
    ap.add_argument("--workdir", required=True)
    args = ap.parse_args()
    shutil.rmtree(args.workdir, ignore_errors=True)
    os.makedirs(args.workdir)
    rgb_lib, rgb_w, _ = build_random(args.unetgen, args.workdir, "tiny_bilinear", 31)
    gray_lib, gray_w, _ = build_random(args.unetgen, args.workdir, "tiny_valid", 32)
    rng = np.random.default_rng(5)
    rgb = rng.integers(0, 256, size=(300, 350, 3), dtype=np.uint8)
    gray = rng.integers(0, 256, size=(233, 251), dtype=np.uint8)
    m_rgb, m_gray = unetgen.load(rgb_lib, rgb_w), unetgen.load(gray_lib, gray_w)
    want_mask = m_rgb.segment(rgb)
    want_probs = m_rgb.segment(rgb, output="probs").transpose(1, 2, 0)
    want_gray = m_gray.segment(gray, border="mirror")

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        mask = unetgen.dask.segment(da.from_array(rgb, chunks=(100, 120, 3)), rgb_lib, rgb_w)
        blocks = mask.numblocks
        got = mask.compute()
        check(np.array_equal(got, want_mask), f"mask of 300x350 in {blocks[0]}x{blocks[1]} blocks on 2 workers "
                                              "equals the single-process mask")
        probs = unetgen.dask.segment(da.from_array(rgb, chunks=(100, 120, 3)), rgb_lib, rgb_w, output="probs")
        got = probs.compute()
        check(got.shape == want_probs.shape and np.array_equal(got, want_probs),
              f"probabilities {got.shape} on 2 workers equal the single-process ones, bit for bit")
        g = unetgen.dask.segment(da.from_array(gray, chunks=(64, 64)), gray_lib, gray_w, border="mirror").compute()
        check(np.array_equal(g, want_gray), f"a valid network with border='mirror' on 233x251: equal ({g.shape})")
        workers = {w: list(v) for w, v in client.has_what().items()}
        check(len(workers) == 2, f"the cluster had {len(workers)} workers")
        try:
            unetgen.dask.segment(da.from_array(gray, chunks=(64, 64)), gray_lib, gray_w)
            check(False, "a valid network without the mirror border is refused")
        except ValueError as e:
            check("border='mirror'" in str(e), f"without border='mirror' a shrinking network is refused: {e}"[:150])
    return finish("dask")


if __name__ == "__main__":
    sys.exit(main())
