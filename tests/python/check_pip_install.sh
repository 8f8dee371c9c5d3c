#!/bin/sh
# check_pip_install.sh UNETGEN RUNTIME_SO SOURCE WORK — the package installed by pip, offline, into
# a virtual environment (with Debian's numpy through --system-site-packages), loads the demo
# model built here and segments with the runtime given by set_runtime_library().
set -eu
unetgen=$1 runtime=$2 source=$3 work=$4
rm -rf "$work" && mkdir -p "$work"
cp -r "$source/python" "$work/src"   # pip writes build files beside the sources
/usr/bin/python3 -m venv --system-site-packages "$work/venv"
"$work/venv/bin/pip" install --quiet --no-build-isolation --no-index "$work/src"
"$unetgen" build "$source/models/coins.unet" -o "$work/coins" >/dev/null 2>&1
cd "$work"
"$work/venv/bin/python" - "$runtime" "$work/coins" "$source/models/coins.safetensors" <<'PY'
import sys, os
import numpy as np
import unetgen
assert unetgen.__file__.startswith(os.path.join(os.getcwd(), "venv")), unetgen.__file__
unetgen.set_runtime_library(sys.argv[1])
m = unetgen.load(sys.argv[2], sys.argv[3])
ramp = np.tile(np.arange(96, dtype=np.uint8) * 2, (64, 1))
mask = m.segment(ramp)
assert mask.shape == (64, 96) and mask.dtype == np.uint8, mask.shape
print("ok: pip-installed unetgen", unetgen.__file__, "segmented with", m, "foreground", int(mask.sum()))
PY
