#!/usr/bin/env bash
# Installs a software Vulkan driver (Mesa lavapipe) that Dawn — inside the npm package `webgpu` — accepts,
# so @myriad/gpu can run its 'webgpu' mode on a machine with no GPU (CI). Debian 12's own
# mesa-vulkan-drivers (22.3) is too old for Dawn; bookworm-backports carries 25.x.
# Idempotent; needs root (or sudo). On a machine with a real GPU, install its vendor's Vulkan driver instead.
# Usage: bash scripts/gpu/install-vulkan.sh
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-vulkan: needs root (or sudo) to install packages" >&2; exit 1
  fi
fi

if ! grep -qs '^ID=debian' /etc/os-release || ! grep -qs 'VERSION_CODENAME=bookworm' /etc/os-release; then
  echo "install-vulkan: this script targets Debian 12 (bookworm); elsewhere install mesa-vulkan-drivers >= 24 from your distribution" >&2
  exit 1
fi

# Already new enough? Then there is nothing to do (keeps repeated CI runs fast).
have_version="$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true)"
if [ -n "$have_version" ] && dpkg --compare-versions "$have_version" ge 24; then
  echo "install-vulkan: mesa-vulkan-drivers $have_version already installed"
  exit 0
fi

list=/etc/apt/sources.list.d/bookworm-backports.sources
if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  $SUDO tee "$list" >/dev/null <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  echo "install-vulkan: added $list"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# -t bookworm-backports pulls mesa-vulkan-drivers 25.x and the matching libdrm/llvm it needs.
$SUDO apt-get install -y -qq --no-install-recommends -t bookworm-backports mesa-vulkan-drivers libvulkan1
# vulkaninfo (from vulkan-tools) lets a human check the adapter: `vulkaninfo --summary`.
$SUDO apt-get install -y -qq --no-install-recommends vulkan-tools || echo "install-vulkan: vulkan-tools not installed (optional)"

echo "install-vulkan: mesa-vulkan-drivers $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers) installed"
