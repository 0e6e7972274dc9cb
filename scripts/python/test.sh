#!/usr/bin/env bash
# Runs the myriad_torch tests (python/tests) with /usr/bin/python3. Fails LOUDLY when torch or pytest
# cannot be imported: this leg never skips (install them with scripts/python/install-torch.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-/usr/bin/python3}
if ! "$PY" -c 'import torch, pytest' 2>/tmp/myriad-torch-import.err; then
  echo "=================================================================" >&2
  echo "myriad_torch tests: FAILED: cannot import torch/pytest with $PY:" >&2
  cat /tmp/myriad-torch-import.err >&2
  echo "Install them with: sudo bash scripts/python/install-torch.sh" >&2
  echo "=================================================================" >&2
  exit 1
fi
export PYTHONDONTWRITEBYTECODE=1
exec "$PY" -m pytest -q -p no:cacheprovider python/tests "$@"
