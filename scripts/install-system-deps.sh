#!/usr/bin/env bash
# Installs the Debian packages the tools and tests use (Graphviz for `ivr draw`), when
# missing. Needs root (as on CI); otherwise it says what to install and carries on.
set -euo pipefail
need=()
command -v dot >/dev/null 2>&1 || need+=(graphviz)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages: ${need[*]} (run: sudo apt-get install ${need[*]})" >&2
  exit 0
fi
echo "installing Debian packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-upgrade "${need[@]}" >/dev/null
