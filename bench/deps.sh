#!/usr/bin/env bash
# deps.sh - installs the benchmark's PyTorch baseline (npm run bench:deps): Debian's python3-torch, and OpenBLAS
# (OpenMP build) so that PyTorch's dense layers do not run on the reference BLAS. Only the benchmark needs these.
set -euo pipefail
pkgs=(python3-torch libopenblas0-openmp)
missing=()
for p in "${pkgs[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
if [ ${#missing[@]} = 0 ]; then echo "bench:deps: ${pkgs[*]} already installed" >&2; exit 0; fi
if [ "$(id -u)" != 0 ]; then echo "bench:deps: needs root. Run:  sudo apt-get install -y ${missing[*]}" >&2; exit 1; fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
echo "bench:deps: installed ${missing[*]}" >&2
