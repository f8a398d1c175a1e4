# shellcheck shell=bash
# The pjproject recipe shared by scripts/build-pjsua2.sh (the Python binding `ivr serve`
# runs on) and scripts/build-pjsua-app.sh (the bare C `pjsua` app that
# benchmarks/pjsua_ratio.py measures `ivr serve` against): one source, one config_site.h,
# one set of configure flags, so the two are built from the same tree the same way.
# Sourced, not run. Callers define `say` and `die` and run with `set -euo pipefail`.
#
# Source: pjproject 2.12.1 as carried by Debian 12's source package `ring` (Jami) -- code
# only ever comes from the package registries. pjproject is GPL-2+.

# A newer Debian revision (a security update) is built as well, with a warning; bump this
# after checking it.
RING_VERSION=${IVR_RING_VERSION:-20230206.0~ds2-1.1+deb12u1}

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
# Source patches (applied after extraction; part of both cache keys). Each must match once.
#  - get_tpname(): pjsip 2.12 returns NULL for a transport type it has no name for (SCTP or
#    a loop transport over IPv6) and pjsua dereferences it while it builds the Contact for
#    an incoming INVITE: one UDP packet with `Contact: <sip:x@[::1];transport=sctp>` killed
#    the process (found by tests/hosting/sip_fuzz.py). The table's "Unspecified" entry is
#    returned instead; the caller then refuses the request as an unsupported transport.
PATCH_TPNAME='s/(pj_assert\(!"Invalid transport type!"\);\s*)return NULL;/$1return \&transport_names[0];/'

# pjproject_build_libs WORK: fetch the source into WORK (a fresh temporary folder), write
# config_site.h, configure, `make dep` and `make lib`. Sets PJ (the tree), PJ_VERSION and
# RING_ACTUAL (the source package version used). Needs root (apt-get).
pjproject_build_libs() {
  local work=$1
  export DEBIAN_FRONTEND=noninteractive
  say "installing build dependencies (apt-get install --no-upgrade)"
  apt-get update -qq
  apt-get install -y -qq --no-upgrade \
    build-essential dpkg-dev pkg-config swig uuid-dev python3-dev ca-certificates >/dev/null
  chmod 755 "$work"  # apt's _apt sandbox user must be able to write the downloads
  # A temporary deb-src entry in a private apt configuration: the system's sources and
  # lists are never touched.
  mkdir -p "$work/apt/sources.list.d" "$work/apt/lists/partial" "$work/src"
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && grep -qE '^URIs:.*debian' "$f" || continue
    sed -E 's/^Types:.*/Types: deb-src/' "$f" >"$work/apt/sources.list.d/$(basename "$f")"
  done
  if [ -f /etc/apt/sources.list ] && grep -qE '^deb .*debian' /etc/apt/sources.list; then
    grep -E '^deb .*debian' /etc/apt/sources.list | sed 's/^deb /deb-src /' >"$work/apt/sources.list.d/ivr-src.list"
  fi
  ls "$work/apt/sources.list.d"/* >/dev/null 2>&1 || die "found no Debian apt source to derive a deb-src entry from"
  local apt_opts=(
    -o "Dir::Etc::sourcelist=/dev/null"
    -o "Dir::Etc::sourceparts=$work/apt/sources.list.d"
    -o "Dir::State::Lists=$work/apt/lists"
    -o "APT::Sandbox::User=root"
  )
  say "fetching source package ring=$RING_VERSION"
  apt-get "${apt_opts[@]}" update -qq
  (
    cd "$work/src"
    if ! apt-get "${apt_opts[@]}" source --download-only "ring=$RING_VERSION" >/dev/null 2>&1; then
      say "WARNING: ring=$RING_VERSION is no longer on the mirror; building the current one (check it and bump RING_VERSION)"
      apt-get "${apt_opts[@]}" source --download-only ring >/dev/null
    fi
    dpkg-source -x "$(ls ring_*.dsc | head -n1)" ring >/dev/null
  )
  local dsc
  dsc=$(cd "$work/src" && ls ring_*.dsc | head -n1)
  RING_ACTUAL=${dsc#ring_}
  RING_ACTUAL=${RING_ACTUAL%.dsc}
  PJ=$(ls -d "$work"/src/ring/daemon/contrib/tarballs-unpacked/pjproject-*/pjproject-* 2>/dev/null | head -n1)
  [ -n "$PJ" ] && [ -f "$PJ/version.mak" ] || die "no pjproject tree in ring $RING_ACTUAL"
  PJ=$(cd "$PJ" && pwd)
  PJ_VERSION=$(awk -F':= *' '/PJ_VERSION_(MAJOR|MINOR|REV) /{v=v (v?".":"") $2} END{print v}' "$PJ/version.mak")
  say "pjproject $PJ_VERSION from ring $RING_ACTUAL"
  say "patching pjsip/src/pjsip/sip_transport.c (get_tpname: no NULL for an unknown type)"
  perl -0pi -e "$PATCH_TPNAME" "$PJ/pjsip/src/pjsip/sip_transport.c"
  grep -q 'return &transport_names\[0\];' "$PJ/pjsip/src/pjsip/sip_transport.c" \
    || die "the get_tpname patch did not apply"
  printf '%s' "$CONFIG_SITE" >"$PJ/pjlib/include/pj/config_site.h"
  say "configure"
  (cd "$PJ" && CFLAGS="$BUILD_CFLAGS" CXXFLAGS="$BUILD_CFLAGS" ./configure "${CONFIGURE_FLAGS[@]}") >"$work/configure.log" 2>&1 \
    || { tail -n 40 "$work/configure.log" >&2; die "configure"; }
  local jobs
  jobs=$(nproc)
  say "make dep && make lib (-j$jobs)"
  { make -C "$PJ" -j"$jobs" dep && make -C "$PJ" -j"$jobs" lib; } >"$work/make.log" 2>&1 \
    || { tail -n 60 "$work/make.log" >&2; die "make"; }
}
