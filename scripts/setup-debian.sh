#!/bin/sh
# The system packages ltgbert builds and tests with, on Debian 12 / Ubuntu:
# the README's set-up runs this before `npm ci`. As root it installs them
# directly; as another user, through sudo. Everything is named here (apt runs
# with --no-install-recommends), so a fresh machine gets exactly this list.
#
#   libtorch-dev, libopenblas0-openmp   libtorch (Debian's CPU build), OpenBLAS as its BLAS
#   libdnnl-dev, ocl-icd-opencl-dev     oneDNN for faster CPU inference (optional: the build
#                                       goes on without it); its CMake config needs OpenCL's
#   nlohmann-json3-dev                  JSON parsing in the addon
#   libgloo-dev                         Gloo's headers, for data-parallel training on libtorch's c10d
#                                       (optional: without them the addon builds with no data parallelism)
#   cmake, make, g++                    the addon's build (cmake-js; node-gyp uses make and g++)
#   python3-torch                       PyTorch, which the tests and benchmarks compare against
set -eu

PACKAGES="libtorch-dev libopenblas0-openmp libdnnl-dev ocl-icd-opencl-dev nlohmann-json3-dev libgloo-dev cmake make g++ python3-torch"

if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-debian: no apt-get: this script is for Debian and Ubuntu. Elsewhere install libtorch, a C++17 compiler, CMake and nlohmann-json (see docs/install.md, 'Which libtorch')." >&2
  exit 1
fi

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "setup-debian: ltgbert needs Node.js 20 or later (found: $(node --version 2>/dev/null || echo none)); Debian 12's own nodejs is 18: install one from nodejs.org or NodeSource first." >&2
  exit 1
fi

if [ "$(id -u)" = 0 ]; then
  as_root=""
elif command -v sudo >/dev/null 2>&1; then
  as_root="sudo"
else
  echo "setup-debian: not root and no sudo: run it as root, or install these packages: $PACKAGES" >&2
  exit 1
fi

echo "setup-debian: installing $PACKAGES"
$as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
# shellcheck disable=SC2086
$as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $PACKAGES >/dev/null
echo "setup-debian: done"
