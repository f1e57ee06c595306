#!/usr/bin/env bash
# Runs every test of the project:
#   1. Rust: unit, property, integration (real node on port 0 over HTTP and
#      WebSocket), the SIGKILL crash test, architecture rules, OpenAPI staleness;
#   2. the APIs as an outside client sees them: schemathesis from the store
#      node's and the cloud hub's OpenAPI documents;
#   3. the web apps: generated API types current, typecheck, build, then browser
#      tests in Debian's chromium against a real node.
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
