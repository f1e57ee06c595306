#!/usr/bin/env bash
# Runs every test of the project: unit, property, integration (real node on
# port 0, over HTTP and WebSocket), the SIGKILL crash test, architecture rules
# and the OpenAPI staleness check, then schemathesis against a running node.
# Needs the Rust toolchain, python3 with pip (schemathesis is installed from
# PyPI when missing) and curl.
set -euo pipefail
cd "$(dirname "$0")/.."
# Builds are reused across runs and clones from a target dir outside the clone.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/edge-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
cargo test --workspace --locked
# Then the API as an outside client sees it: a fuzzer driven by the OpenAPI document.
scripts/api-fuzz.sh
