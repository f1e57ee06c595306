#!/usr/bin/env bash
# Runs every test of the project:
#   1. Rust: unit, property, integration (real node on port 0 over HTTP and
#      WebSocket), the SIGKILL crash test, architecture rules, OpenAPI staleness;
#   2. the APIs as an outside client sees them: schemathesis from the store
#      node's and the cloud hub's OpenAPI documents;
#   3. the web apps: generated API types current, typecheck, build, then browser
#      tests in Debian's chromium against a real node;
#   4. installers' parts (as root): the .debs installed, upgraded, removed and purged
#      in a Debian chroot, then the store-node image built, flashed with store-flash
#      and booted under qemu (UEFI), enrolling with a real hub over TLS, power-cut
#      and booted again (provisioning/boot-test.sh). SKIP_IMAGE_TESTS=1 skips 4.
# Installs what is missing first (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
# Builds are reused across runs and clones from a target dir outside the clone.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/edge-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
scripts/setup.sh
echo "==> cargo test"
cargo fetch --locked -q
cargo test --workspace --locked
echo "==> API fuzzing"
scripts/api-fuzz.sh
scripts/api-fuzz-hub.sh
echo "==> web apps"
npm run -s check:api
npm run -s typecheck
npm run -s build
# The browser tests run the node, the hub and the device simulators (debug builds; cargo test built them already).
cargo build --locked -q -p store-node -p drivers -p cloud-hub --bins
npm run -s test:e2e
if [ "${SKIP_IMAGE_TESTS:-0}" = 1 ]; then
  echo "==> SKIP_IMAGE_TESTS=1: packages and the image boot test skipped"
  exit 0
fi
echo "==> Debian packages (release build, then install, upgrade, remove, purge in a chroot)"
cargo build --release --locked -q -p store-node -p cloud-hub
DEB_FAST=1 provisioning/tests/deb-chroot.sh --no-build
echo "==> store-node image: build, flash, boot under qemu, enroll, power cut, boot again"
# The package of the release binary just built (a build of store-node alone would resolve features
# differently and build everything again).
node_deb="$(DEB_FAST=1 provisioning/build-debs.sh --no-build --package store-node | awk '$1 == "deb" && $2 == "store-node" { print $3 }')"
STORE_NODE_DEB="$node_deb" provisioning/boot-test.sh
