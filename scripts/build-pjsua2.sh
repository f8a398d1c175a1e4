#!/usr/bin/env bash
# Builds (once per machine) and installs the pjsua2 Python binding the SIP adapter
# (ivr.adapters.sip) runs on, with limits raised for hosting: 1024 calls instead of the 4
# every PyPI wheel is compiled with. See /work/shared/PJSUA2-NOTES.md for the measurements.
#
#   bash scripts/build-pjsua2.sh [VENV]        (VENV defaults to .venv)
#
# Source: pjproject 2.12.1 (with its SWIG binding) as carried by Debian 12's source package
# `ring` (Jami) -- code only ever comes from the package registries. pjproject is GPL-2+.
#
# The wheel is cached under ${IVR_PJSUA2_CACHE:-~/.cache/ivr-pjsua2}/<ring version>-<recipe
# hash>/, keyed by the source version, every build flag below and the Python ABI, so a fresh
# clone on the same machine (CI) only runs `pip install`. Needs root on a cache miss (apt);
# non-interactive; fails loudly (set -e, and every step says what it does).
set -euo pipefail

started=$(date +%s)
say() { printf '[build-pjsua2 +%ss] %s\n' "$(($(date +%s) - started))" "$*" >&2; }
die() { say "FAILED: $*"; exit 1; }
trap 'say "FAILED at line $LINENO (exit $?)"' ERR

cd "$(dirname "$0")/.."
VENV=${1:-.venv}
[ -d "$VENV" ] && VENV=$(cd "$VENV" && pwd)
PY="$VENV/bin/python"
[ -x "$PY" ] || die "no Python at $PY: create the venv first (make setup)"

# The source: Debian 12's `ring`. A newer Debian revision (a security update) is built as
# well, with a warning; bump this after checking it.
RING_VERSION=${IVR_RING_VERSION:-20230206.0~ds2-1.1+deb12u1}

# ---- the recipe: everything that goes into the key ------------------------------------
CONFIG_SITE='/* ivr: limits raised for hosting (scripts/build-pjsua2.sh) */
#define PJSUA_MAX_CALLS             1024
#define PJSUA_MAX_PLAYERS           1024
#define PJSUA_MAX_RECORDERS         1024
#define PJSUA_MAX_CONF_PORTS        2560
#define PJ_IOQUEUE_MAX_HANDLES      4096
#define PJSIP_MAX_TSX_COUNT         65535
#define PJSIP_MAX_DIALOG_COUNT      65535
#define PJMEDIA_HAS_VIDEO           0
'
# Debian stripped speex, gsm, ilbc, g7221 and portaudio from the tree; everything optional
# is switched off explicitly so the build does not depend on which -dev packages are present.
CONFIGURE_FLAGS=(
  --enable-epoll --disable-video --disable-sound --disable-ssl
  --disable-speex-aec --disable-speex-codec --disable-gsm-codec --disable-ilbc-codec
  --disable-g7221-codec --disable-opencore-amr --disable-silk --disable-opus --disable-bcg729
  --disable-libyuv --disable-libwebrtc --disable-sdl --disable-ffmpeg --disable-v4l2
  --disable-openh264 --disable-vpx --disable-android-mediacodec
)
BUILD_CFLAGS="-O2 -fPIC -DNDEBUG -g0"
# -threads: the wrapper releases the GIL inside every pjsua2 call (libHandleEvents sleeps in
# epoll) and takes it back for callbacks. Without it the pj thread holds the GIL while it
# waits and trio stalls for the whole poll interval (measured: sleep(5 ms) took 100 ms).
SWIG_THREADS="-threads"
# Source patches (applied after extraction; part of the cache key). Each must match once.
#  - get_tpname(): pjsip 2.12 returns NULL for a transport type it has no name for (SCTP or
#    a loop transport over IPv6) and pjsua dereferences it while it builds the Contact for
#    an incoming INVITE: one UDP packet with `Contact: <sip:x@[::1];transport=sctp>` killed
#    the process (found by tests/hosting/sip_fuzz.py). The table's "Unspecified" entry is
#    returned instead; the caller then refuses the request as an unsupported transport.
PATCH_TPNAME='s/(pj_assert\(!"Invalid transport type!"\);\s*)return NULL;/$1return \&transport_names[0];/'
PY_ABI=$("$PY" -c 'import sys, sysconfig, platform; print(sys.implementation.cache_tag, sysconfig.get_config_var("EXT_SUFFIX"), platform.machine())')
RECIPE_HASH=$(printf '%s\n' "recipe-v3" "$CONFIG_SITE" "${CONFIGURE_FLAGS[*]}" "$BUILD_CFLAGS" "$SWIG_THREADS" "$PATCH_TPNAME" "$PY_ABI" \
  | sha256sum | cut -c1-16)

CACHE_ROOT=${IVR_PJSUA2_CACHE:-$HOME/.cache/ivr-pjsua2}
key_dir() { printf '%s/%s-%s' "$CACHE_ROOT" "$(printf '%s' "$1" | tr -c 'A-Za-z0-9.+-' '_')" "$RECIPE_HASH"; }

install_wheel() {
  local whl=$1
  say "installing $(basename "$whl") into $VENV"
  "$PY" -m pip install -q --force-reinstall --no-deps "$whl"
  "$PY" - <<'EOF' || die "the installed pjsua2 does not import"
import ctypes, pjsua2, _pjsua2
lib = ctypes.CDLL(_pjsua2.__file__)
print("[build-pjsua2] pjsua2 imports; pjsua_call_get_max_count is exported:",
      hasattr(lib, "pjsua_call_get_max_count"))
EOF
  say "done in $(($(date +%s) - started)) s"
}

# ---- cache hit: the pinned version first, then any source version with the same recipe --
for dir in "$(key_dir "$RING_VERSION")" "$CACHE_ROOT"/*-"$RECIPE_HASH"; do
  whl=$(ls "$dir"/pjsua2-*.whl 2>/dev/null | head -n1 || true)
  if [ -n "$whl" ]; then
    say "cached wheel found ($dir)"
    install_wheel "$whl"
    exit 0
  fi
done

# ---- cache miss: build --------------------------------------------------------------
[ "$(id -u)" -eq 0 ] || die "building pjsua2 needs root for apt-get (or a cached wheel in $CACHE_ROOT)"
export DEBIAN_FRONTEND=noninteractive
say "no cached wheel for recipe $RECIPE_HASH: building (about 4 minutes on 2 cores)"

say "installing build dependencies (apt-get install --no-upgrade)"
apt-get update -qq
apt-get install -y -qq --no-upgrade \
  build-essential dpkg-dev pkg-config swig uuid-dev python3-dev ca-certificates >/dev/null

work=$(mktemp -d /tmp/ivr-pjsua2-build.XXXXXX)
chmod 755 "$work"  # apt's _apt sandbox user must be able to write the downloads
cleanup() { rm -rf "$work"; }
trap cleanup EXIT

# A temporary deb-src entry in a private apt configuration: the system's sources and lists
# are never touched.
mkdir -p "$work/apt/sources.list.d" "$work/apt/lists/partial" "$work/src"
for f in /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] && grep -qE '^URIs:.*debian' "$f" || continue
  sed -E 's/^Types:.*/Types: deb-src/' "$f" >"$work/apt/sources.list.d/$(basename "$f")"
done
if [ -f /etc/apt/sources.list ] && grep -qE '^deb .*debian' /etc/apt/sources.list; then
  grep -E '^deb .*debian' /etc/apt/sources.list | sed 's/^deb /deb-src /' >"$work/apt/sources.list.d/ivr-src.list"
fi
ls "$work/apt/sources.list.d"/* >/dev/null 2>&1 || die "found no Debian apt source to derive a deb-src entry from"
APT_OPTS=(
  -o "Dir::Etc::sourcelist=/dev/null"
  -o "Dir::Etc::sourceparts=$work/apt/sources.list.d"
  -o "Dir::State::Lists=$work/apt/lists"
  -o "APT::Sandbox::User=root"
)
say "fetching source package ring=$RING_VERSION"
apt-get "${APT_OPTS[@]}" update -qq
cd "$work/src"
if ! apt-get "${APT_OPTS[@]}" source --download-only "ring=$RING_VERSION" >/dev/null 2>&1; then
  say "WARNING: ring=$RING_VERSION is no longer on the mirror; building the current one (check it and bump RING_VERSION)"
  apt-get "${APT_OPTS[@]}" source --download-only ring >/dev/null
fi
dsc=$(ls ring_*.dsc | head -n1)
actual_version=${dsc#ring_}; actual_version=${actual_version%.dsc}
dpkg-source -x "$dsc" ring >/dev/null
PJ=$(ls -d ring/daemon/contrib/tarballs-unpacked/pjproject-*/pjproject-* 2>/dev/null | head -n1)
[ -n "$PJ" ] && [ -f "$PJ/version.mak" ] || die "no pjproject tree in ring $actual_version"
PJ=$(cd "$PJ" && pwd)
pj_version=$(awk -F':= *' '/PJ_VERSION_(MAJOR|MINOR|REV) /{v=v (v?".":"") $2} END{print v}' "$PJ/version.mak")
say "pjproject $pj_version from ring $actual_version"

cd "$PJ"
say "patching pjsip/src/pjsip/sip_transport.c (get_tpname: no NULL for an unknown type)"
perl -0pi -e "$PATCH_TPNAME" pjsip/src/pjsip/sip_transport.c
grep -q 'return &transport_names\[0\];' pjsip/src/pjsip/sip_transport.c || die "the get_tpname patch did not apply"
printf '%s' "$CONFIG_SITE" >pjlib/include/pj/config_site.h
say "configure"
CFLAGS="$BUILD_CFLAGS" CXXFLAGS="$BUILD_CFLAGS" ./configure "${CONFIGURE_FLAGS[@]}" >"$work/configure.log" 2>&1 \
  || { tail -n 40 "$work/configure.log" >&2; die "configure"; }
jobs=$(nproc)
say "make dep && make lib (-j$jobs)"
{ make -j"$jobs" dep && make -j"$jobs" lib; } >"$work/make.log" 2>&1 \
  || { tail -n 60 "$work/make.log" >&2; die "make"; }

say "SWIG wrapper and wheel"
cd pjsip-apps/src/swig/python
make pjsua2_wrap.cpp USE_THREADS="$SWIG_THREADS" >"$work/swig.log" 2>&1 || { tail -n 40 "$work/swig.log" >&2; die "swig"; }
# A throw-away venv of the same interpreter holds the build tools, so the project's venv
# gets nothing but the wheel.
"$PY" -m venv "$work/buildenv"
"$work/buildenv/bin/pip" install -q setuptools wheel >"$work/wheel.log" 2>&1 \
  || { tail -n 20 "$work/wheel.log" >&2; die "pip install setuptools wheel (build venv)"; }
"$work/buildenv/bin/pip" wheel -q --no-build-isolation --no-deps -w "$work/dist" . >>"$work/wheel.log" 2>&1 \
  || { tail -n 60 "$work/wheel.log" >&2; die "pip wheel"; }
whl=$(ls "$work"/dist/pjsua2-*.whl | head -n1)

dest=$(key_dir "$actual_version")
mkdir -p "$dest"
cp "$whl" "$dest/"
{
  echo "source: Debian source package ring $actual_version (pjproject $pj_version, GPL-2+)"
  echo "python: $PY_ABI"
  echo "cflags: $BUILD_CFLAGS"
  echo "swig: $SWIG_THREADS"
  echo "patches: get_tpname ($PATCH_TPNAME)"
  echo "configure: ${CONFIGURE_FLAGS[*]}"
  echo "config_site.h:"; printf '%s' "$CONFIG_SITE"
  echo "built: $(date -u +%FT%TZ) in $(($(date +%s) - started)) s"
} >"$dest/BUILD-INFO"
say "wheel cached in $dest"
cd /
install_wheel "$dest/$(basename "$whl")"
