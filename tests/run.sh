#!/usr/bin/env bash
# The test command (README and .ci/run both call this): install what the tests need, idempotently,
# then run the whole suite. Safe to re-run; fast when everything is already installed.
set -euo pipefail
cd "$(dirname "$0")/.."

# Later connectors add their real servers here (slapd, the SCIM test server); the policy and
# planner tests need nothing beyond the Rust toolchain.
if ! command -v cargo >/dev/null 2>&1; then
    echo "tests/run.sh: cargo is not installed; install the Rust toolchain (rustup) first" >&2
    exit 1
fi

cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --locked "$@"
