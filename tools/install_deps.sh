#!/usr/bin/env bash
# install_deps.sh — make sure the Debian 12 packages unetgen needs are installed.
#
# Usage: tools/install_deps.sh [--train]
#   --train  also install python3-skimage (only tools/train_demo.py needs it)
#
# Checks each package with `dpkg -s` first and only touches apt when something is missing, so a
# second run (every `make test` / `make demo` starts with one) costs a fraction of a second.
# `apt-get update` runs once, and only when an install is needed. Runs as root, or through sudo
# (non-interactive: `sudo -n`, so a password prompt is reported as an error instead of hanging).
set -euo pipefail

# Why each package is here (README.md, "Dependencies", says the same for users):
packages=(
  cmake make g++            # build system and compiler (C++17)
  clang libclang-rt-14-dev  # clang 14 and libFuzzer, for the optional parser fuzz target
  libhalide14-0-dev         # Halide 14: the code generator behind `unetgen build`
  llvm-14-dev               # Halide's backend; Halide's CMake config loads LLVM's
  libfmt-dev                # formatting of messages and reports
  libcli11-dev              # the `unetgen` command line
  nlohmann-json3-dev        # safetensors headers and build manifests
  libpng-dev                # reading and writing images (PNG)
  libtiff-dev               # `unetgen run` on large images: TIFF / BigTIFF read and written tile by tile
  catch2                    # C++ unit tests (Catch2 v2)
  python3 python3-torch python3-numpy  # tools/export_pytorch.py and the PyTorch parity tests only
  python3-tifffile          # the large-image tests write their TIFF inputs with it
  python3-dask python3-distributed  # unetgen.dask (map_overlap on a cluster) and its LocalCluster test
  libtiff-tools             # ... and recompress them (tiffcp -c lzw; tifffile cannot write LZW)
  graphviz                  # `unetgen check --svg` renders the network with dot
)
if [[ "${1:-}" == "--train" ]]; then
  packages+=(python3-skimage)  # sample images for tools/train_demo.py
elif [[ $# -gt 0 ]]; then
  echo "cannot install dependencies with option '$1': the only option is --train" >&2
  exit 2
fi

missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

echo "install_deps: installing ${missing[*]}"
if [[ $(id -u) -eq 0 ]]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo -n)
else
  echo "cannot install packages ${missing[*]}: not root and sudo is not available" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
