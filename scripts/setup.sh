#!/usr/bin/env bash
# Installs what the demo and the tests need beyond the Rust toolchain, and only
# what is missing: Debian's chromium and a font for the browser tests (never a
# downloaded browser), mosquitto-clients for the MQTT tests, iproute2 for the chaos test, fdisk/dosfstools/mtools/zstd for the
# flashing tool's disk images, the npm packages (npm ci), and schemathesis from PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."
need_apt=()
command -v chromium >/dev/null || need_apt+=(chromium)
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need_apt+=(fonts-dejavu-core)
command -v curl >/dev/null || need_apt+=(curl)
# Outside MQTT clients for the broker tests (mosquitto_pub / mosquitto_sub).
command -v mosquitto_sub >/dev/null || need_apt+=(mosquitto-clients)
# Network namespaces and veth pairs for the chaos test (tests/tests/chaos).
command -v ip >/dev/null || need_apt+=(iproute2)
# Disk images for the flashing tool's tests (provisioning/store-flash): GPT, FAT, zstd.
command -v sfdisk >/dev/null || need_apt+=(fdisk)
command -v mkfs.vfat >/dev/null || need_apt+=(dosfstools)
command -v mtype >/dev/null || need_apt+=(mtools)
command -v zstd >/dev/null || need_apt+=(zstd)
command -v mkfs.ext4 >/dev/null || need_apt+=(e2fsprogs)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "==> apt-get install ${need_apt[*]}"
  sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi
# npm ci only when the lock file changed since the last install (it takes a while otherwise).
stamp=node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  echo "==> npm ci"
  npm ci --no-audit --no-fund
fi
command -v schemathesis >/dev/null || python3 -m pip install -q --disable-pip-version-check 'schemathesis>=4,<5'
