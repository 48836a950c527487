#!/usr/bin/env bash
# Installs everything llm2clip-ts needs on a fresh Debian machine, from Debian's packages and the
# npm registry only, then builds the workspace. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

# chromium: the headless browser the eval package's report.html test opens (through playwright-core)
# openmpi-bin libopenmpi-dev: mpirun and the MPI headers/library of @llm2clip/distributed's optional binding
apt_packages=(libopenblas-dev pkg-config chromium openmpi-bin libopenmpi-dev)
missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

PNPM_VERSION="12.4.2"
if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version)" != "$PNPM_VERSION" ]; then
  echo "setup: installing pnpm@$PNPM_VERSION"
  npm install -g "pnpm@$PNPM_VERSION" >/dev/null
fi

export TURBO_TELEMETRY_DISABLED=1
# node-gyp under pnpm does not get nodedir from /etc/npmrc; the native build script passes it itself
pnpm install --frozen-lockfile
pnpm build
