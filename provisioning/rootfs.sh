#!/usr/bin/env bash
# A minimal Debian root filesystem for a store node, cached as a zstd tarball.
#
#   provisioning/rootfs.sh                 build (or reuse) the tarball, print its path
#   provisioning/rootfs.sh --extract DIR   the same, then unpack it into DIR (empty or missing)
#
# debootstrap --variant=minbase of Debian bookworm with systemd, udev, a kernel and what the node needs
# (see PACKAGES). The tarball is keyed on the suite and the package list, so an unchanged list is reused
# in about a second; a cold build takes 2-3 minutes. Progress goes to stderr, the tarball path to stdout.
#
# Environment:
#   DEBIAN_MIRROR   the Debian mirror (default: the first one serving the suite in this machine's apt sources)
#   EDGE_CACHE      cache directory (default: $HOME/.cache/edge-provisioning)
#   ROOTFS_EXTRA    more packages, space separated (part of the cache key)
set -euo pipefail
# The whole script is one block, so bash reads it all before running it: editing the file while a build runs
# cannot change what that build does.
{

SUITE=bookworm
ARCH=amd64
# What the image needs: systemd as init with udev, a kernel, networking (systemd-networkd is part of systemd),
# name resolution for the hub's host name (systemd-resolved, which needs dbus; debootstrap does not pick
# alternatives itself), zstd for the initramfs, fsck for the ext4 root/data and the FAT config partition,
# a clock, and TLS roots for the hub.
PACKAGES=(
  systemd systemd-sysv systemd-timesyncd systemd-resolved udev linux-image-amd64 initramfs-tools kmod
  dbus iproute2 ca-certificates e2fsprogs dosfstools zstd
)
# shellcheck disable=SC2206
PACKAGES+=(${ROOTFS_EXTRA:-})
# Bump when the way the tree is made changes (not only the list).
RECIPE=1

CACHE="${EDGE_CACHE:-$HOME/.cache/edge-provisioning}"
log() { printf '[rootfs %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

extract_to=""
case "${1:-}" in
  --extract) extract_to="${2:?--extract needs a directory}" ;;
  "") ;;
  -h | --help) sed -n '2,15p' "$0"; exit 0 ;;
  *) die "unknown argument $1 (see --help)" ;;
esac

[ "$(id -u)" = 0 ] || die "run as root (debootstrap and chroot need it)"

# The mirror: DEBIAN_MIRROR, else this machine's own apt sources (deb822 .sources files and one-line .list
# files), never a host written in here.
find_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    # deb822 stanzas: print the URIs of a stanza whose Suites has exactly the suite and Types has deb.
    awk -v suite="$SUITE" '
      function flush() { if (uris != "" && ok_suite && ok_type) { split(uris, u, " "); print u[1]; exit } uris=""; ok_suite=0; ok_type=0 }
      /^[[:space:]]*$/ { flush(); next }
      /^Enabled:[[:space:]]*no/ { uris=""; ok_suite=0; ok_type=0; skip=1 }
      /^URIs:/ { sub(/^URIs:[[:space:]]*/, ""); uris=$0 }
      /^Types:/ { if ($0 ~ /(^|[[:space:]])deb([[:space:]]|$)/) ok_type=1 }
      /^Suites:/ { n=split($0, s, /[[:space:]]+/); for (i=2;i<=n;i++) if (s[i]==suite) ok_suite=1 }
      END { flush() }' "$f"
  done | head -1
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk -v suite="$SUITE" '$1=="deb" { i=2; if ($2 ~ /^\[/) { while (i<=NF && $i !~ /\]$/) i++; i++ } if ($(i+1)==suite) { print $i; exit } }' "$f"
  done | head -1
}
mirror="${DEBIAN_MIRROR:-}"
if [ -z "$mirror" ]; then
  mirror="$(find_mirror | head -1)"
  [ -n "$mirror" ] || die "no Debian $SUITE mirror in /etc/apt/sources*; set DEBIAN_MIRROR"
fi

mapfile -t sorted < <(printf '%s\n' "${PACKAGES[@]}" | sort -u)
key="$(printf '%s\n' "recipe=$RECIPE" "suite=$SUITE" "arch=$ARCH" "${sorted[@]}" | sha256sum | cut -c1-16)"
tarball="$CACHE/rootfs-$SUITE-$ARCH-$key.tar.zst"
mkdir -p "$CACHE"

# One builder at a time (the image build and the package test may both ask for it).
exec 9>"$CACHE/rootfs.lock"
flock 9
# Left by a build that was killed (with the lock held by us, nobody else is using them).
for stale in "$CACHE"/rootfs-build.*; do
  [ -d "$stale" ] || continue
  for m in proc sys dev/pts dev; do mountpoint -q "$stale/tree/$m" 2>/dev/null && umount -l "$stale/tree/$m"; done
  rm -rf "$stale"
done

if [ -s "$tarball" ]; then
  log "cached: $tarball ($(du -h "$tarball" | cut -f1))"
else
  started=$(date +%s)
  need=()
  command -v debootstrap >/dev/null || need+=(debootstrap)
  command -v zstd >/dev/null || need+=(zstd)
  if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]}"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >&2
  fi
  work="$(mktemp -d "$CACHE/rootfs-build.XXXXXX")"
  cleanup() {
    # debootstrap may leave /proc and /sys mounted in the tree on failure.
    for m in proc sys dev/pts dev; do mountpoint -q "$work/tree/$m" 2>/dev/null && umount -l "$work/tree/$m" || true; done
    rm -rf "$work"
  }
  trap cleanup EXIT
  include="$(IFS=,; echo "${sorted[*]}")"
  log "debootstrap $SUITE ($ARCH, minbase) from $mirror with: ${sorted[*]}"
  # debootstrap's own "I: Retrieving/Validating/Unpacking/Configuring" lines are the progress.
  debootstrap --variant=minbase --arch="$ARCH" --include="$include" "$SUITE" "$work/tree" "$mirror" 2>&1 |
    while IFS= read -r line; do
      case "$line" in
        # One line per phase and every 25th package, not four lines for each of ~150 packages.
        "I: Validating "*) ;;
        "I: Retrieving InRelease"* | "I: Retrieving Packages"*) log "${line#I: }" ;;
        "I: Retrieving "* | "I: Extracting "* | "I: Unpacking "* | "I: Configuring "*)
          phase="${line#I: }"; phase="${phase%% *}"
          if [ "$phase" != "${last_phase:-}" ]; then last_phase=$phase; n=0; fi
          n=$((n + 1)); [ $((n % 25)) = 1 ] && log "${line#I: } (package $n)" ;;
        I:*) log "${line#I: }" ;;
        W:* | E:*) log "$line" ;;
      esac
    done
  [ "${PIPESTATUS[0]}" = 0 ] || die "debootstrap failed (see $work/tree/debootstrap/debootstrap.log)"
  # Downloaded packages and indexes are not part of the system.
  rm -rf "$work/tree"/var/cache/apt/archives/*.deb "$work/tree"/var/lib/apt/lists/* "$work/tree/debootstrap"
  log "debootstrap done in $(($(date +%s) - started)) s, $(du -sh "$work/tree" | cut -f1); packing"
  tar --zstd --numeric-owner --xattrs --xattrs-include='*' --acls -C "$work/tree" -cf "$work/rootfs.tar.zst" .
  mv "$work/rootfs.tar.zst" "$tarball"
  log "cached $tarball ($(du -h "$tarball" | cut -f1)) in $(($(date +%s) - started)) s"
  # Drop tarballs of older package lists.
  find "$CACHE" -maxdepth 1 -name "rootfs-$SUITE-$ARCH-*.tar.zst" ! -name "$(basename "$tarball")" -delete
fi

if [ -n "$extract_to" ]; then
  mkdir -p "$extract_to"
  [ -z "$(ls -A "$extract_to")" ] || die "$extract_to is not empty"
  log "extracting into $extract_to"
  tar --zstd --numeric-owner --xattrs --xattrs-include='*' --acls -C "$extract_to" -xf "$tarball"
fi
echo "$tarball"
exit 0
}
