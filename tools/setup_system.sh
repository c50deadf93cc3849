#!/usr/bin/env bash
# Install the Debian packages partdrag4d needs, only when they are missing.
#   tools/setup_system.sh          # running: EGL + Mesa (software OpenGL for the renderer)
#   tools/setup_system.sh --test   # testing: also Chromium (report test) and Node.js/npm
#                                  # (Khronos glTF validator)
set -euo pipefail
need=()
ldconfig -p | grep -q 'libEGL.so.1' || need+=(libegl1)
ldconfig -p | grep -q 'libEGL_mesa.so.0' || need+=(libegl-mesa0)
compgen -G '/usr/lib/*/dri/swrast_dri.so' >/dev/null || need+=(libgl1-mesa-dri)
if [[ "${1:-}" == "--test" ]]; then
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
  command -v node >/dev/null 2>&1 || need+=(nodejs)
  command -v npm >/dev/null 2>&1 || need+=(npm)
fi
((${#need[@]} == 0)) && exit 0
echo "setup_system: installing Debian packages: ${need[*]}"
if [[ $(id -u) -ne 0 ]]; then
  SUDO=sudo
  command -v sudo >/dev/null 2>&1 || { echo "setup_system: run as root or install: ${need[*]}" >&2; exit 1; }
else
  SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
