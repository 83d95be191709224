#!/usr/bin/env bash
# Puts in place what netslim needs on this machine, then returns; `npm run demo` and `npm test`
# run it first. Usage: scripts/setup.sh demo|test
#   - Node dependencies: `npm ci` when node_modules is missing or older than the lock file.
#   - A WebGPU adapter: nothing to install when Dawn finds a GPU; otherwise SwiftShader, which
#     Debian's `chromium` ships, and the Vulkan loader `libvulkan1` for Dawn in Node.
#   - For the tests also Debian's `chromium` (the browser lane) and `dataset-fashion-mnist`.
# Missing Debian packages are installed with apt-get when running as root; otherwise the script
# prints the one command to run and stops.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-demo}"
case "$mode" in demo | test) ;; *) echo "usage: scripts/setup.sh demo|test" >&2; exit 2 ;; esac

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

need=()
has_pkg() { dpkg -s "$1" >/dev/null 2>&1; }
if ! XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}" node scripts/probe-gpu.mjs 2>/dev/null; then
  [ -f /usr/lib/chromium/vk_swiftshader_icd.json ] || need+=(chromium)
  has_pkg libvulkan1 || ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1' || need+=(libvulkan1)
fi
if [ "$mode" = test ]; then
  [ -x /usr/bin/chromium ] || [[ " ${need[*]} " == *" chromium "* ]] || need+=(chromium)
  [ -d /usr/share/datasets/fashion-mnist ] || need+=(dataset-fashion-mnist)
fi

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "netslim setup: installing ${need[*]} (Debian packages)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}"
  else
    echo "netslim setup: this machine needs the Debian packages ${need[*]}; run as root:" >&2
    echo "  apt-get install -y ${need[*]}" >&2
    exit 1
  fi
fi

if [ "$mode" = demo ] && { [ ! -f dist/cli.js ] || [ -n "$(find src shaders -newer dist/cli.js -print -quit)" ]; }; then
  npm run build
fi
