#!/usr/bin/env bash
# Installs Chromium for the routing lab's browser tests from Debian's own package (no browser
# download: playwright-core drives /usr/bin/chromium through executablePath). Idempotent: does
# nothing when chromium already runs. Needs root (or sudo).
set -euo pipefail
BIN=${MYRIAD_CHROMIUM:-/usr/bin/chromium}
if [ -x "$BIN" ] && "$BIN" --version >/dev/null 2>&1; then
  echo "install-chromium: $("$BIN" --version) already installed at $BIN"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-chromium: FAILED: needs root (or sudo) to apt-get install chromium" >&2; exit 1; }
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# fonts-dejavu-core: readable text in the screenshots the tests save.
$SUDO apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core
echo "install-chromium: $("$BIN" --version) at $BIN"
