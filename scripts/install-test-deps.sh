#!/usr/bin/env bash
# Installs the real services and tools the test suite starts: Redis, Mosquitto, Prometheus
# (with promtool), node_exporter, process-exporter, redis_exporter and mtail (benchmarks), iproute2 (network namespaces),
# openssl (test certificates), curl (requests made inside a network namespace), systemd (systemd-analyze checks the unit). Debian 12; needs root (uses sudo when not root).
set -euo pipefail
packages=(redis-server mosquitto prometheus prometheus-node-exporter prometheus-process-exporter prometheus-redis-exporter mtail iproute2 openssl curl procps systemd)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "test dependencies present: ${packages[*]}"
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# The packages' own services are not needed (tests start their own on free ports): keep
# their postinst scripts from starting them where policy-rc.d is honoured.
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
