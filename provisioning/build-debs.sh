#!/usr/bin/env bash
# Builds the store-node and cloud-hub Debian packages with cargo-deb.
#
#   provisioning/build-debs.sh [--deb-version VERSION] [--out DIR] [--package NAME]... [--web-rebuild] [--no-build]
#
# 1. installs cargo-deb (pinned, `cargo install --locked`, ~1.5 min once) when it is missing;
# 2. builds the release binaries: `cargo build --release --locked -p store-node -p cloud-hub`
#    (into CARGO_TARGET_DIR when set; ~3 min each cold on 2 cores, seconds when warm), unless --no-build
#    (package the binaries already in $CARGO_TARGET_DIR/release);
# 3. builds the web apps (`npm run -s build`) only when one of their dist/ directories is missing, or
#    always with --web-rebuild: the node ships apps/{pos,kds,kiosk}/dist, the hub apps/{customer,dashboard}/dist;
# 4. `cargo deb --no-build --strip` for each package (about a second each). The release profile keeps
#    line tables for backtraces (root Cargo.toml), so cargo-deb would keep them in the binary: --strip
#    makes it strip them, leaving the profile alone.
#
# Output: the packages in DIR (default $CARGO_TARGET_DIR/debian, or target/debian), then one line per
# package, `deb NAME PATH DEB_BYTES STRIPPED_BINARY_BYTES`, on stdout (progress goes to stderr).
# --deb-version overrides the package version (e.g. 0.1.0-2, for the upgrade test).
# Packaging: the [package.metadata.deb] sections of store-node/Cargo.toml and cloud-hub/Cargo.toml, and
# provisioning/debian/ (units, sysusers files, maintainer scripts, default configuration).
set -euo pipefail

CARGO_DEB_VERSION=3.8.0
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

log() { printf '[build-debs %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
since() { echo "$(($(date +%s) - $1)) s"; }

deb_version=""
out=""
packages=()
web_rebuild=0
build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --deb-version) deb_version="${2:?--deb-version needs a version}"; shift 2 ;;
    --out) out="${2:?--out needs a directory}"; shift 2 ;;
    --package) packages+=("${2:?--package needs store-node or cloud-hub}"); shift 2 ;;
    --web-rebuild) web_rebuild=1; shift ;;
    --no-build) build=0; shift ;;
    -h | --help) sed -n '2,20p' "$0"; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
[ ${#packages[@]} -gt 0 ] || packages=(store-node cloud-hub)
for p in "${packages[@]}"; do
  case "$p" in store-node | cloud-hub) ;; *) die "unknown package $p (store-node or cloud-hub)" ;; esac
done
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
out="${out:-$target_dir/debian}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

# 1. cargo-deb, pinned so every machine makes the same maintainer scripts.
if ! cargo deb --version 2>/dev/null | grep -qF "$CARGO_DEB_VERSION"; then
  t=$(date +%s)
  log "installing cargo-deb $CARGO_DEB_VERSION"
  cargo install cargo-deb --locked --version "$CARGO_DEB_VERSION" >&2
  log "cargo-deb installed in $(since "$t")"
fi

# 2. The release binaries.
if [ "$build" = 1 ]; then
  t=$(date +%s)
  pflags=()
  for p in "${packages[@]}"; do pflags+=(-p "$p"); done
  log "cargo build --release --locked ${pflags[*]} (target dir $target_dir)"
  cargo build --release --locked "${pflags[@]}" >&2
  log "release build done in $(since "$t")"
fi
for p in "${packages[@]}"; do
  [ -x "$target_dir/release/$p" ] || die "$target_dir/release/$p is missing (build it, or drop --no-build)"
done

# 3. The web apps each package serves.
web_apps() {
  case "$1" in
    store-node) echo pos kds kiosk ;;
    cloud-hub) echo customer dashboard ;;
  esac
}
missing=()
for p in "${packages[@]}"; do
  for app in $(web_apps "$p"); do
    [ -f "apps/$app/dist/index.html" ] || missing+=("$app")
  done
done
if [ "$web_rebuild" = 1 ] || [ ${#missing[@]} -gt 0 ]; then
  t=$(date +%s)
  command -v npm >/dev/null || die "npm is needed to build the web apps (missing: ${missing[*]})"
  if [ ! -d node_modules ]; then
    log "npm ci"
    npm ci --no-audit --no-fund >&2
  fi
  log "building the web apps (npm run -s build)${missing[*]:+; missing: ${missing[*]}}"
  npm run -s build >&2
  log "web apps built in $(since "$t")"
else
  log "web apps: using the existing apps/*/dist (--web-rebuild to rebuild)"
fi

# 4. The packages.
version_flags=()
[ -z "$deb_version" ] || version_flags=(--deb-version "$deb_version")
for p in "${packages[@]}"; do
  t=$(date +%s)
  # cargo-deb prints the path of the package it wrote as its last line.
  deb="$(cargo deb -p "$p" --no-build --strip --output "$out" "${version_flags[@]}" | tail -n 1)"
  [ -f "$deb" ] || die "cargo deb -p $p did not say where the package is (got: $deb)"
  deb_bytes=$(stat -c %s "$deb")
  bin="$(mktemp)"
  dpkg-deb --fsys-tarfile "$deb" | tar -xOf - "./usr/bin/$p" >"$bin"
  bin_bytes=$(stat -c %s "$bin")
  # Stripped: no symbol table and no debug info left (.debug_gdb_scripts is loaded data, not debug info).
  if readelf -SW "$bin" | grep -qE '\.symtab|\.debug_(info|line)'; then
    rm -f "$bin"
    die "$p in $deb is not stripped"
  fi
  rm -f "$bin"
  log "$p: $(basename "$deb"), $((deb_bytes / 1024)) KiB; binary $((bin_bytes / 1024)) KiB stripped ($(since "$t"))"
  echo "deb $p $deb $deb_bytes $bin_bytes"
done
