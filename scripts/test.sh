#!/usr/bin/env bash
# Runs the whole test suite (unit + black-box integration tests).
# Extra arguments are passed to `cargo test`, e.g. `bash scripts/test.sh -- --nocapture`.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/install-test-deps.sh

cargo test --workspace --all-targets "$@"
