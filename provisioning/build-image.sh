#!/usr/bin/env bash
# A bootable store-node disk image: GPT with ESP (systemd-boot), config, root-a, root-b and data.
#
#   provisioning/build-image.sh --deb store-node_X_amd64.deb [--out DIR]
#
# Writes DIR/store-node.img.zst (zstd of the raw disk image) and DIR/store-node.img.sha256
# (`<sha256 of the raw image>  store-node.img`, what store-flash verifies after writing), and prints them
# with their sizes. DIR defaults to $EDGE_CACHE/image.
#
# Layout (docs/enrollment.md): ESP FAT32 256 MiB with systemd-boot, kernel and initrd; `config` FAT 16 MiB
# labelled STORECFG, mounted at /var/lib/store-node-config (the enrollment code file); `root-a` ext4 with
# the system and the store-node package; `root-b` the same size and empty (for A/B updates later); `data`
# ext4 mounted at /var/lib/store-node. No loop devices, mounts, Docker or KVM: each partition is built as
# a file (mkfs.ext4 -d, mkfs.vfat + mtools) and placed with dd into a disk made by sfdisk.
#
# Caching, under ${EDGE_CACHE:-$HOME/.cache/edge-provisioning}:
#   - the Debian root filesystem (provisioning/rootfs.sh, keyed on its package list);
#   - the configured and slimmed system with its initrd (keyed on that rootfs, this script and
#     provisioning/image/**): rebuilt only when one of them changes;
#   - the image itself (keyed on the above and the .deb's content): an unchanged .deb reuses it at once.
# Cold: rootfs 2-3 min + system ~1 min + image ~30 s; a new .deb: ~30 s; an unchanged one: ~1 s.
#
# Environment: EDGE_CACHE, DEBIAN_MIRROR (see rootfs.sh), ROOT_MB (size of root-a and root-b; default:
# what the system needs plus room, rounded up to 64 MiB), DATA_MB (data partition, default 128).
set -euo pipefail
{
here="$(cd "$(dirname "$0")" && pwd)"
CACHE="${EDGE_CACHE:-$HOME/.cache/edge-provisioning}"
t0=$(date +%s)
log() { printf '[image %s +%3ss] %s\n' "$(date -u +%H:%M:%S)" "$(($(date +%s) - t0))" "$*" >&2; }
die() { log "error: $*"; exit 1; }

deb=""
out="$CACHE/image"
while [ $# -gt 0 ]; do
  case "$1" in
    --deb) deb="${2:?--deb needs a file}"; shift 2 ;;
    --out) out="${2:?--out needs a directory}"; shift 2 ;;
    -h | --help) sed -n '2,26p' "$0"; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
[ -n "$deb" ] || die "which store-node package? --deb FILE (provisioning/build-debs.sh makes it)"
[ -f "$deb" ] || die "no such package: $deb"
[ "$(id -u)" = 0 ] || die "run as root (chroot, dpkg -i and file ownership need it)"
deb="$(realpath "$deb")"
mkdir -p "$out" "$CACHE"
out="$(realpath "$out")"

need=()
for tool in sfdisk:fdisk mkfs.vfat:dosfstools mcopy:mtools zstd:zstd mkfs.ext4:e2fsprogs; do
  command -v "${tool%%:*}" >/dev/null || need+=("${tool#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >&2
fi
export MTOOLS_SKIP_CHECK=1

# One build at a time per cache.
exec 9>"$CACHE/image.lock"
flock 9
# Left by a build that was killed (with the lock held by us, nobody else is using them).
for stale in "$CACHE"/image-base-build.* "$CACHE"/image-build.*; do
  [ -d "$stale" ] || continue
  mountpoint -q "$stale/tree/proc" 2>/dev/null && umount -l "$stale/tree/proc"
  rm -rf "$stale"
done

rootfs="$("$here/rootfs.sh")"

# ---------------------------------------------------------------- the configured system (cached)
recipe="$( (
  basename "$rootfs"
  sha256sum "$here/build-image.sh"
  cd "$here/image" && find . -type f | LC_ALL=C sort | xargs sha256sum
) | sha256sum | cut -c1-16)"
base="$CACHE/image-base-$recipe"
# The package's content, not its file: a rebuilt .deb of the same binary (new timestamps) reuses the image.
deb_sum="$( (
  dpkg-deb -f "$deb"
  dpkg-deb -c "$deb" | awk '{ print $1, $2, $3, $6, $7, $8 }'
  dpkg-deb --ctrl-tarfile "$deb" | tar -xO
  dpkg-deb --fsys-tarfile "$deb" | tar -xO
) | sha256sum | cut -d' ' -f1)"
image_key="$recipe-${deb_sum:0:16}-root${ROOT_MB:-auto}-data${DATA_MB:-128}"

if [ -f "$out/store-node.img.zst" ] && [ -f "$out/store-node.img.sha256" ] &&
  [ "$(cat "$out/.key" 2>/dev/null)" = "$image_key" ]; then
  log "unchanged (system $recipe, package ${deb_sum:0:16}): reusing the image"
else
  rm -f "$out/.key"

  if [ ! -d "$base" ]; then
    log "configuring the system (cache key $recipe)"
    work="$(mktemp -d "$CACHE/image-base-build.XXXXXX")"
    cleanup_base() {
      mountpoint -q "$work/tree/proc" 2>/dev/null && umount -l "$work/tree/proc"
      rm -rf "$work"
    }
    trap cleanup_base EXIT
    tree="$work/tree"
    mkdir -p "$tree"
    tar --zstd --numeric-owner --xattrs --xattrs-include='*' --acls -C "$tree" -xf "$rootfs"
    log "unpacked $(basename "$rootfs") ($(du -sm "$tree" | cut -f1) MiB)"

    # Files of the image (network, journal, initramfs, unit drop-in), owned by root.
    cp -r --no-preserve=ownership "$here/image/rootfs/." "$tree/"

    echo store-node >"$tree/etc/hostname"
    printf '127.0.0.1\tlocalhost\n127.0.1.1\tstore-node\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$tree/etc/hosts"
    # A machine id of its own on each box, made at first boot.
    : >"$tree/etc/machine-id"
    rm -f "$tree/var/lib/dbus/machine-id"
    ln -sf /run/systemd/resolve/stub-resolv.conf "$tree/etc/resolv.conf"
    mkdir -p "$tree/var/lib/store-node-config" "$tree/var/lib/store-node"
    # Root is named on the kernel command line (root=PARTLABEL=root-a, so root-b can take over later);
    # the config and data partitions are found by their labels.
    cat >"$tree/etc/fstab" <<'EOF'
# <file system>  <mount point>               <type> <options>                                            <dump> <pass>
PARTLABEL=ESP    /boot/efi                   vfat   umask=0077,noauto,x-systemd.automount,nofail           0 2
LABEL=STORECFG   /var/lib/store-node-config  vfat   rw,nofail,x-systemd.device-timeout=30s,CONFIG_OWNER,umask=0077,flush 0 2
PARTLABEL=data   /var/lib/store-node         ext4   defaults,x-systemd.growfs                            0 2
EOF
    mkdir -p "$tree/boot/efi"

    systemctl --root="$tree" enable systemd-networkd.service systemd-resolved.service systemd-timesyncd.service >/dev/null 2>&1
    # No unattended apt runs on a till (updates come as images).
    systemctl --root="$tree" mask apt-daily.timer apt-daily-upgrade.timer apt-daily.service apt-daily-upgrade.service >/dev/null 2>&1

    # Slimming: no drivers for graphics, media, wireless, sound, infiniband, bluetooth; no documentation.
    kver="$(basename "$(ls -d "$tree"/usr/lib/modules/*/ | head -1)")"
    mods="$tree/usr/lib/modules/$kver/kernel"
    before=$(du -sm "$tree/usr/lib/modules" | cut -f1)
    rm -rf "$mods"/drivers/{gpu,media,infiniband,staging,isdn,bluetooth} "$mods"/drivers/net/wireless \
      "$mods"/sound "$mods"/net/{wireless,mac80211,bluetooth}
    chroot "$tree" depmod -a "$kver"
    rm -rf "$tree"/usr/share/doc/* "$tree"/usr/share/man/* "$tree"/usr/share/info/* "$tree"/usr/share/locale/*
    log "kernel $kver: modules $before -> $(du -sm "$tree/usr/lib/modules" | cut -f1) MiB"

    mount -t proc proc "$tree/proc"
    chroot "$tree" update-initramfs -u -k "$kver" >/dev/null
    umount "$tree/proc"
    mkdir -p "$work/boot"
    cp "$tree/boot/vmlinuz-$kver" "$work/boot/vmlinuz"
    cp "$tree/boot/initrd.img-$kver" "$work/boot/initrd.img"
    log "initramfs: $(du -h "$work/boot/initrd.img" | cut -f1) (MODULES=list)"

    # systemd-boot for the ESP, from Debian's package (downloaded once, kept in the cache). The boot
    # loader does not depend on the system's systemd version.
    efi_deb="$(ls "$CACHE"/systemd-boot-efi_*_amd64.deb 2>/dev/null | tail -1 || true)"
    if [ -z "$efi_deb" ]; then
      mkdir -p "$work/efi-deb"
      log "downloading systemd-boot-efi"
      if ! (cd "$work/efi-deb" && apt-get download -q systemd-boot-efi >/dev/null 2>&1); then
        apt-get update -qq >&2
        (cd "$work/efi-deb" && apt-get download -q systemd-boot-efi >/dev/null) || die "apt-get download systemd-boot-efi failed"
      fi
      efi_deb="$CACHE/$(basename "$work"/efi-deb/systemd-boot-efi_*.deb)"
      mv "$work"/efi-deb/systemd-boot-efi_*.deb "$efi_deb"
    fi
    dpkg-deb -x "$efi_deb" "$work/efi-x"
    cp "$work/efi-x/usr/lib/systemd/boot/efi/systemd-bootx64.efi" "$work/boot/"
    rm -rf "$work/efi-x"

    mv "$work" "$base"
    trap - EXIT
    # Older configured systems are not needed any more.
    find "$CACHE" -maxdepth 1 -name 'image-base-*' ! -name "$(basename "$base")" ! -name 'image-base-build.*' -exec rm -rf {} +
    log "system configured: $(du -sm "$base/tree" | cut -f1) MiB"
  else
    log "system cached ($recipe)"
  fi

  # ------------------------------------------------------------ the package and the partitions
  work="$(mktemp -d "$CACHE/image-build.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  tree="$work/tree"
  cp -a "$base/tree" "$tree"
  log "installing $(basename "$deb")"
  cp "$deb" "$tree/tmp/store-node.deb"
  # Maintainer scripts run in the chroot: no services started, units enabled.
  if ! chroot "$tree" env DEBIAN_FRONTEND=noninteractive dpkg -i /tmp/store-node.deb >"$work/dpkg.log" 2>&1; then
    cat "$work/dpkg.log" >&2
    die "dpkg -i of the package failed in the image (a dependency missing from provisioning/rootfs.sh?)"
  fi
  rm -f "$tree/tmp/store-node.deb"
  systemctl --root="$tree" enable store-node.service >/dev/null 2>&1 || die "the package has no store-node.service"
  # The config partition (FAT: no owners) belongs to the node's user, so the node can delete the code file.
  owner="$(awk -F: '$1 == "store-node" { print "uid=" $3 ",gid=" $4 }' "$tree/etc/passwd")"
  [ -n "$owner" ] || die "the package made no store-node user"
  sed -i "s/CONFIG_OWNER/$owner/" "$tree/etc/fstab"

  used_mb=$(du -sm "$tree" | cut -f1)
  # Room for updates of the system and the ext4 metadata: a quarter more and 128 MiB, in 64 MiB steps.
  root_mb=${ROOT_MB:-$(((used_mb * 5 / 4 + 128 + 63) / 64 * 64))}
  data_mb=${DATA_MB:-128}
  [ "$root_mb" -gt "$used_mb" ] || die "ROOT_MB=$root_mb is smaller than the system ($used_mb MiB)"
  esp_mb=256
  cfg_mb=16

  log "root-a: ext4 of $root_mb MiB holding $used_mb MiB"
  mkfs.ext4 -q -L root-a -d "$tree" -E root_owner=0:0 "$work/root.img" "${root_mb}M" >/dev/null
  rm -rf "$tree"
  mkfs.ext4 -q -L data -E root_owner=0:0 "$work/data.img" "${data_mb}M" >/dev/null

  log "ESP: systemd-boot, kernel, initrd"
  mkfs.vfat -F 32 -n ESP -C "$work/esp.img" $((esp_mb * 1024)) >/dev/null
  esp=(-i "$work/esp.img")
  mmd "${esp[@]}" ::/EFI ::/EFI/BOOT ::/EFI/systemd ::/loader ::/loader/entries ::/store-node
  mcopy "${esp[@]}" "$base/boot/systemd-bootx64.efi" ::/EFI/BOOT/BOOTX64.EFI
  mcopy "${esp[@]}" "$base/boot/systemd-bootx64.efi" ::/EFI/systemd/systemd-bootx64.efi
  mcopy "${esp[@]}" "$base/boot/vmlinuz" "$base/boot/initrd.img" ::/store-node/
  mcopy "${esp[@]}" "$here/image/esp/loader/loader.conf" ::/loader/
  mcopy "${esp[@]}" "$here/image/esp/loader/entries/store-node-a.conf" ::/loader/entries/

  # The config partition starts empty: store-flash writes enroll.toml onto it.
  mkfs.vfat -n STORECFG -C "$work/config.img" $((cfg_mb * 1024)) >/dev/null

  # The disk: 1 MiB for the GPT, the partitions in MiB, 1 MiB for the backup GPT.
  total_mb=$((1 + esp_mb + cfg_mb + root_mb + root_mb + data_mb + 1))
  disk="$work/store-node.img"
  truncate -s "${total_mb}M" "$disk"
  sfdisk --quiet --no-reread --no-tell-kernel "$disk" <<EOF
label: gpt
unit: sectors
first-lba: 2048
start=$((1 * 2048)), size=$((esp_mb * 2048)), type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="ESP"
start=$(((1 + esp_mb) * 2048)), size=$((cfg_mb * 2048)), type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, name="config"
start=$(((1 + esp_mb + cfg_mb) * 2048)), size=$((root_mb * 2048)), type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name="root-a"
start=$(((1 + esp_mb + cfg_mb + root_mb) * 2048)), size=$((root_mb * 2048)), type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name="root-b"
start=$(((1 + esp_mb + cfg_mb + 2 * root_mb) * 2048)), size=$((data_mb * 2048)), type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="data"
EOF
  place() { dd if="$1" of="$disk" bs=1M seek="$2" conv=notrunc,sparse status=none; }
  place "$work/esp.img" 1
  place "$work/config.img" $((1 + esp_mb))
  place "$work/root.img" $((1 + esp_mb + cfg_mb))
  place "$work/data.img" $((1 + esp_mb + cfg_mb + 2 * root_mb))
  rm -f "$work"/{esp,config,root,data}.img
  log "disk: $total_mb MiB (ESP $esp_mb, config $cfg_mb, root-a $root_mb, root-b $root_mb, data $data_mb)"

  log "compressing (zstd -10) and hashing"
  # Side by side: each reads the raw image once.
  (cd "$work" && sha256sum store-node.img >"$work/store-node.img.sha256") &
  hashing=$!
  zstd -q -T0 -10 "$disk" -o "$work/store-node.img.zst"
  wait "$hashing" || die "sha256sum of the raw image failed"
  mv "$work/store-node.img.zst" "$out/store-node.img.zst"
  mv "$work/store-node.img.sha256" "$out/store-node.img.sha256"
  echo "$image_key" >"$out/.key"
fi

raw_bytes=$(zstd -lv "$out/store-node.img.zst" 2>/dev/null | awk '/Decompressed Size/ { gsub(/[(),]/, ""); for (i = 1; i <= NF; i++) if ($i == "B") print $(i - 1) }' | tail -1)
zst_bytes=$(stat -c %s "$out/store-node.img.zst")
log "done in $(($(date +%s) - t0)) s"
printf '%s\t%s MiB compressed, %s MiB raw\n' "$out/store-node.img.zst" $((zst_bytes / 1048576)) $((${raw_bytes:-0} / 1048576))
printf '%s\t%s\n' "$out/store-node.img.sha256" "$(cut -c1-16 "$out/store-node.img.sha256")..."
exit 0
}
