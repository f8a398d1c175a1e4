#!/usr/bin/env bash
# Builds (once per machine) the bare C `pjsua` app of pjproject from the same Debian source
# tree and recipe as the pjsua2 wheel `ivr serve` runs on (scripts/pjproject-recipe.sh),
# and prints the binary's path on stdout. benchmarks/pjsua_ratio.py calls it: the CPU that
# `ivr serve` spends per call is measured against this app answering the same calls.
#
#   bash scripts/build-pjsua-app.sh            # prints e.g. ~/.cache/ivr-pjsua-app/<key>/pjsua
#
# Cached under ${IVR_PJSUA_APP_CACHE:-~/.cache/ivr-pjsua-app}/<ring version>-<recipe hash>/,
# keyed by the source version and every build flag; nothing of it enters the repository.
# A cache miss needs root (apt) and takes about 3 minutes on 2 cores. pjproject is GPL-2+.
set -euo pipefail

started=$(date +%s)
say() { printf '[build-pjsua-app +%ss] %s\n' "$(($(date +%s) - started))" "$*" >&2; }
die() { say "FAILED: $*"; exit 1; }
trap 'say "FAILED at line $LINENO (exit $?)"' ERR

cd "$(dirname "$0")/.."
# shellcheck source=scripts/pjproject-recipe.sh
source scripts/pjproject-recipe.sh

RECIPE_HASH=$(printf '%s\n' "pjsua-app-v1" "$CONFIG_SITE" "${CONFIGURE_FLAGS[*]}" "$BUILD_CFLAGS" "$PATCH_TPNAME" "$(uname -m)" \
  | sha256sum | cut -c1-16)
CACHE_ROOT=${IVR_PJSUA_APP_CACHE:-$HOME/.cache/ivr-pjsua-app}
key_dir() { printf '%s/%s-%s' "$CACHE_ROOT" "$(printf '%s' "$1" | tr -c 'A-Za-z0-9.+-' '_')" "$RECIPE_HASH"; }

for dir in "$(key_dir "$RING_VERSION")" "$CACHE_ROOT"/*-"$RECIPE_HASH"; do
  if [ -x "$dir/pjsua" ]; then
    say "cached pjsua found ($dir)"
    printf '%s\n' "$dir/pjsua"
    exit 0
  fi
done

[ "$(id -u)" -eq 0 ] || die "building pjsua needs root for apt-get (or a cached binary in $CACHE_ROOT)"
say "no cached pjsua for recipe $RECIPE_HASH: building (about 3 minutes on 2 cores)"
work=$(mktemp -d /tmp/ivr-pjsua-app-build.XXXXXX)
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
pjproject_build_libs "$work"

say "make the pjsua app"
make -C "$PJ/pjsip-apps/build" -j"$(nproc)" pjsua >"$work/app.log" 2>&1 \
  || { tail -n 60 "$work/app.log" >&2; die "make pjsua"; }
binary=$(ls "$PJ"/pjsip-apps/bin/pjsua-* 2>/dev/null | head -n1)
[ -n "$binary" ] && [ -x "$binary" ] || die "the build made no pjsip-apps/bin/pjsua-*"

dest=$(key_dir "$RING_ACTUAL")
mkdir -p "$dest"
cp "$binary" "$dest/pjsua"
{
  echo "source: Debian source package ring $RING_ACTUAL (pjproject $PJ_VERSION, GPL-2+)"
  echo "app: pjsip-apps/src/pjsua ($(basename "$binary"))"
  echo "cflags: $BUILD_CFLAGS"
  echo "configure: ${CONFIGURE_FLAGS[*]}"
  echo "config_site.h:"; printf '%s' "$CONFIG_SITE"
  echo "built: $(date -u +%FT%TZ) in $(($(date +%s) - started)) s"
} >"$dest/BUILD-INFO"
say "pjsua cached in $dest"
printf '%s\n' "$dest/pjsua"
