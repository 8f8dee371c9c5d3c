"""`unetgen build --precision bf16` against the fp32 build of the same network: the fast mode's
criterion is mask agreement (issue 11: >= 99.5% against fp32), not the fp32 parity bound.

Builds SPEC twice (fp32, bf16), checks the bf16 manifest really packs bf16 Winograd layers (else
the comparison would compare fp32 with itself and could not fail), runs both on IMAGE with the
trained WEIGHTS and prints the agreement of the masks and the largest difference of the
probabilities. Exit 1 when the agreement is below --min-agreement.

The bf16 build runs with `--calibrate IMAGE`: what it prints and records in build.json must be
what this script measures itself, through `unetgen run` (an independent path: .npy files, masks
from the probabilities here)."""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np


def run(cmd):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        sys.exit(f"failed ({r.returncode}): {' '.join(cmd)}\n{r.stdout}")
    return r.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--unetgen", required=True)
    ap.add_argument("--spec", required=True)
    ap.add_argument("--weights", required=True)
    ap.add_argument("--image", required=True)
    ap.add_argument("--min-agreement", type=float, default=0.995)
    ap.add_argument("--workdir", default=None)
    args = ap.parse_args()
    work = args.workdir or tempfile.mkdtemp(prefix="bf16_agreement_")
    os.makedirs(work, exist_ok=True)
    probs = {}
    for precision in ("fp32", "bf16"):
        lib = os.path.join(work, precision)
        cmd = [args.unetgen, "build", args.spec, "-o", lib, "--precision", precision]
        if precision == "bf16":
            cmd += ["--weights", args.weights, "--calibrate", args.image]
        log = run(cmd)
        with open(os.path.join(lib, "build.json")) as f:
            build = json.load(f)
        if precision == "bf16":
            calibration = build.get("calibration")
            printed = [l for l in log.splitlines() if l.startswith("calibration: " + args.image + ": mask agreement")]
            if not calibration or len(printed) != 1:
                sys.exit(f"FAIL: the bf16 build with --calibrate printed {printed} and recorded {calibration}")
            print(printed[0])
        with open(os.path.join(lib, build["manifest"])) as f:
            manifest = json.load(f)
        bf16_layers = [e["layer"] for e in manifest["packing"]
                       if any(str(e.get(k, "")).startswith("bf16") for k in ("winograd_format", "gemm_format"))]
        if (precision == "bf16") != bool(bf16_layers):
            sys.exit(f"FAIL: the {precision} build packs bf16 Winograd layers {bf16_layers}")
        if precision == "bf16":
            print(f"bf16 layers ({len(bf16_layers)} of {len(manifest['packing'])}): {', '.join(bf16_layers)}")
        out = os.path.join(work, f"{precision}.npy")
        print(run([args.unetgen, "run", lib, "-w", args.weights, "-i", args.image, "-o", out, "--probs"]).strip())
        probs[precision] = np.load(out)
    a, b = probs["fp32"], probs["bf16"]
    if a.shape[1] == 1:
        ma, mb = a >= 0.5, b >= 0.5
    else:
        ma, mb = a.argmax(axis=1), b.argmax(axis=1)
    agreement = float((ma == mb).mean())
    diff = float(np.abs(a.astype(np.float64) - b).max())
    ok = agreement >= args.min_agreement and np.all(np.isfinite(b))
    [recorded] = calibration["images"]
    same = (abs(recorded["agreement"] - agreement) <= 1e-12 and abs(recorded["max_diff"] - diff) <= 1e-6 * max(diff, 1e-6)
            and recorded["pixels"] == ma.size and calibration["passed"] == (agreement >= calibration["floor"]))
    print(f"{'ok  ' if same else 'FAIL'} the build's calibration record {recorded} against this measurement: "
          f"agreement {agreement}, max|diff| {diff}, {ma.size} pixels")
    ok = ok and same
    print(f"{'ok  ' if ok else 'FAIL'} bf16 vs fp32 on {os.path.basename(args.image)}: mask agreement "
          f"{100 * agreement:.3f}% (floor {100 * args.min_agreement:.1f}%), max|diff| of probabilities {diff:.3g}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
