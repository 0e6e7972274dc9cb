#!/usr/bin/env bash
# Installs PyTorch for the myriad_torch bridge from Debian's own packages (no PyPI): python3-torch
# (PyTorch 1.13.1, ~53 s and ~765 MB on first install) and python3-pytest, for /usr/bin/python3.
# Idempotent: does nothing when both import already. Needs root (or sudo).
set -euo pipefail
PY=/usr/bin/python3
if "$PY" -c 'import torch, pytest' 2>/dev/null; then
  echo "install-torch: torch $("$PY" -c 'import torch; print(torch.__version__)') and pytest already installed for $PY"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-torch: FAILED: needs root (or sudo) to apt-get install python3-torch" >&2; exit 1; }
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends python3-torch python3-pytest python3-numpy
"$PY" -c 'import torch, pytest; print("install-torch: torch", torch.__version__, "pytest", pytest.__version__)'
