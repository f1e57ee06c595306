#!/usr/bin/env bash
# Flash and verify speed of store-flash (BENCHMARKS.md): builds a 512 MiB store-node-shaped
# image (GPT: ESP, config, root-a = ext4 of /usr/bin, root-b, data), compresses it with
# zstd -10, then flashes it (release build) to a 1 GiB file and to a loop device over
# that file, RUNS times each, printing each phase's line. Needs root, sfdisk, mkfs.vfat,
# mkfs.ext4, zstd, losetup.
# Usage: provisioning/store-flash/bench.sh [WORKDIR]   (RUNS=3 by default)
set -euo pipefail
cd "$(dirname "$0")/../.."
work="${1:-$(mktemp -d)}"
runs="${RUNS:-3}"
cargo build --release -p store-flash --locked -q
bin="${CARGO_TARGET_DIR:-target}/release/store-flash"
img="$work/bench.img"
if [ ! -f "$img.zst" ]; then
  rm -f "$img" "$work"/{esp,cfg,root}.img
  truncate -s 512M "$img"
  sfdisk -q "$img" <<'LAYOUT'
label: gpt
unit: sectors
first-lba: 2048
start=2048, size=32768, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="ESP"
size=32768, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, name="config"
size=819200, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name="root-a"
size=65536, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name="root-b"
type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="data"
LAYOUT
  mkfs.vfat -n ESP -C "$work/esp.img" 16384 >/dev/null
  mkfs.vfat -n STORECFG -C "$work/cfg.img" 16384 >/dev/null
  # Real binaries as root-a's content; a full filesystem is fine for a benchmark.
  mkfs.ext4 -q -L root-a -d /usr/bin -E root_owner=0:0 "$work/root.img" 400M 2>/dev/null || true
  dd if="$work/esp.img" of="$img" bs=1M seek=1 conv=notrunc,sparse status=none
  dd if="$work/cfg.img" of="$img" bs=1M seek=17 conv=notrunc,sparse status=none
  dd if="$work/root.img" of="$img" bs=1M seek=33 conv=notrunc,sparse status=none
  zstd -q -10 -T2 -f "$img" -o "$img.zst"
  (cd "$work" && sha256sum bench.img > bench.img.sha256)
fi
echo "image: $(du -b "$img" | cut -f1) bytes raw, $(du -b "$img.zst" | cut -f1) compressed; load $(cut -d' ' -f1-3 /proc/loadavg)"
target="$work/target.img"
truncate -s 1G "$target"
flash() {
  "$bin" write --image "$img.zst" --sha256 "$work/bench.img.sha256" --device "$1" \
    --hub https://hub.example.com --code K7QM-3XPD --yes 2>&1 >/dev/null | grep -v '%'
}
for i in $(seq "$runs"); do echo "== file, run $i"; flash "$target"; done
loop=$(losetup -f --show "$target")
trap 'losetup -d "$loop"' EXIT
for i in $(seq "$runs"); do echo "== loop device $loop, run $i"; flash "$loop"; done
