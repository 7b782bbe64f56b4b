#!/usr/bin/env bash
# Installs the system libraries Qt needs, only where they are missing (Debian/Ubuntu),
# libpq for PostgreSQL (the line-side bundle ships psycopg without one) and ICU's tools,
# with which the bundle build reduces Qt's ICU data (installer/build_bundle.py).
# With --xvfb also the virtual X server used for screenshots of the real window.
set -euo pipefail

packages=()
need() {  # need <shared library> <debian package>
    ldconfig -p 2>/dev/null | grep -q "$1" || packages+=("$2")
}
need libEGL.so.1 libegl1
need libGL.so.1 libgl1
need libxkbcommon.so.0 libxkbcommon0
need libxkbcommon-x11.so.0 libxkbcommon-x11-0
need libfontconfig.so.1 libfontconfig1
need libdbus-1.so.3 libdbus-1-3
need libglib-2.0.so.0 libglib2.0-0
need libxcb-cursor.so.0 libxcb-cursor0
need libxcb-icccm.so.4 libxcb-icccm4
need libxcb-keysyms.so.1 libxcb-keysyms1
need libxcb-image.so.0 libxcb-image0
need libxcb-randr.so.0 libxcb-randr0
need libxcb-render-util.so.0 libxcb-render-util0
need libxcb-shape.so.0 libxcb-shape0
need libxcb-xkb.so.1 libxcb-xkb1
need libX11-xcb.so.1 libx11-xcb1
need libpq.so.5 libpq5
command -v icupkg >/dev/null || packages+=(icu-devtools)
if [[ "${1:-}" == "--xvfb" ]]; then
    command -v Xvfb >/dev/null || packages+=(xvfb)
fi
[[ ${#packages[@]} -eq 0 ]] && exit 0

if ! command -v apt-get >/dev/null; then
    echo "Inspector needs these system packages (Debian names): ${packages[*]}; install them with your package manager." >&2
    exit 0
fi
sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
echo "installing system packages: ${packages[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >/dev/null
$sudo apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
