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

# The source and the recipe (config_site.h, configure flags, CFLAGS) are shared with the
# bare `pjsua` app build (scripts/build-pjsua-app.sh).
# shellcheck source=scripts/pjproject-recipe.sh
source scripts/pjproject-recipe.sh

# ---- the recipe: everything that goes into the key ------------------------------------
# -threads: the wrapper releases the GIL inside every pjsua2 call (libHandleEvents sleeps in
# epoll) and takes it back for callbacks. Without it the pj thread holds the GIL while it
# waits and trio stalls for the whole poll interval (measured: sleep(5 ms) took 100 ms).
SWIG_THREADS="-threads"
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
say "no cached wheel for recipe $RECIPE_HASH: building (about 4 minutes on 2 cores)"

work=$(mktemp -d /tmp/ivr-pjsua2-build.XXXXXX)
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
pjproject_build_libs "$work"
actual_version=$RING_ACTUAL
pj_version=$PJ_VERSION

cd "$PJ"
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
