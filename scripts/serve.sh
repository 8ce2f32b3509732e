#!/usr/bin/env bash
# Builds the release binary and runs `sftpgo serve` on the embedded default (SQLite in
# ./data), SFTP on 127.0.0.1:2022 and the REST API on 127.0.0.1:8080 unless
# SFTPGO_SFTPD__BINDINGS__0__* / SFTPGO_HTTPD__BINDINGS__0__* say otherwise.
# Extra arguments go to `sftpgo serve`, e.g.:
#   bash scripts/serve.sh --loaddata-from docs/examples/dump.json
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo is required: install Rust with rustup (https://rustup.rs)" >&2
    exit 1
fi
if ! command -v cc >/dev/null 2>&1; then
    echo "installing a C compiler (needed by aws-lc-sys and libsqlite3-sys)" >&2
    if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq gcc >/dev/null; else sudo apt-get update -qq && sudo apt-get install -y -qq gcc >/dev/null; fi
fi

cargo build --release --bin sftpgo
target_dir="${CARGO_TARGET_DIR:-target}"
mkdir -p data
export SFTPGO_SFTPD__BINDINGS__0__ADDRESS="${SFTPGO_SFTPD__BINDINGS__0__ADDRESS:-127.0.0.1}"
export SFTPGO_HTTPD__BINDINGS__0__ADDRESS="${SFTPGO_HTTPD__BINDINGS__0__ADDRESS:-127.0.0.1}"
exec "$target_dir/release/sftpgo" serve --config-dir data --log-file-path "" --log-level info "$@"
