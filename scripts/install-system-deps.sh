#!/usr/bin/env bash
# Installs the Debian packages the tools and tests use, when missing: Graphviz for
# `ivr draw`, a CJK font (WenQuanYi Zen Hei) so drawings and the PDF statements that the
# outbox mails show Chinese, espeak-ng and sox for speech,
# sipp (sip-tester) as the SIP peer of the end-to-end tests, Chromium for the agent
# desktop's and the flow editor's browser tests (driven by playwright; its own browser
# download is not used), Node.js and npm to build the flow editor's front end from the npm
# registry, Kamailio as the SIP proxy in front of a cluster's instances (`ivr cluster`).
# PostgreSQL as the shared store of a cluster (started per test or by `ivr cluster up`),
# iproute2 (`ip netns`) for the two-site test in network namespaces.
# Needs root (as on CI); otherwise it says what to install and carries on.
set -euo pipefail
need=()
command -v dot >/dev/null 2>&1 || need+=(graphviz)
[ -f /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ] || need+=(fonts-wqy-zenhei)
command -v espeak-ng >/dev/null 2>&1 || need+=(espeak-ng)
command -v sox >/dev/null 2>&1 || need+=(sox)
command -v openssl >/dev/null 2>&1 || need+=(openssl)  # test certificates for SMTP STARTTLS
command -v sipp >/dev/null 2>&1 || need+=(sip-tester)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v npm >/dev/null 2>&1 || need+=(nodejs npm)
[ -x /usr/sbin/kamailio ] || command -v kamailio >/dev/null 2>&1 || need+=(kamailio)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need+=(postgresql)
[ -x /usr/sbin/ip ] || command -v ip >/dev/null 2>&1 || need+=(iproute2)  # network namespaces: tests/cluster/test_sites.py
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages: ${need[*]} (run: sudo apt-get install ${need[*]})" >&2
  exit 0
fi
echo "installing Debian packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-upgrade "${need[@]}" >/dev/null
