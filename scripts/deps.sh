#!/usr/bin/env bash
# Installs the Debian 12 packages hookd needs, only those missing.
#   scripts/deps.sh run    build + Redis (what scripts/run needs)
#   scripts/deps.sh test   also the test, fuzz and metrics-check tools
set -euo pipefail
want=(build-essential cmake pkg-config libevent-dev libyajl-dev libhiredis-dev libssl-dev libzstd-dev libjemalloc-dev
      redis-server redis-tools curl jq ca-certificates)
if [ "${1:-run}" = test ]; then
  want+=(python3 python3-jsonschema openssl clang libclang-rt-14-dev prometheus iproute2 dpkg-dev
         chromium chromium-driver python3-selenium)
fi
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
# Debian's redis-server and prometheus packages try to start services; tests start their own.
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
