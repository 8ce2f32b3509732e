#!/usr/bin/env bash
# Installs the client tools the black-box integration tests drive: OpenSSH client and
# server, ssh-audit, python3 + paramiko, curl and openssl (REST and FTPS tests), lftp (FTP
# tests), litmus and rclone (WebDAV), haproxy (PROXY protocol), zbarimg (TOTP QR codes),
# chromium (pages in a real browser),
# aiosmtpd (event e-mails),
# schemathesis (the OpenAPI contract fuzzer).
# Idempotent: does nothing when everything is already present. Run as root on Debian 12.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

log() { echo "install-test-deps: $*" >&2; }

# Runs a command silently; shows its output only when it fails.
quiet() {
    local out rc=0
    out="$(mktemp)"
    "$@" >"$out" 2>&1 || rc=$?
    if [ "$rc" -ne 0 ]; then
        log "failed ($rc): $*"
        cat "$out" >&2
    fi
    rm -f "$out"
    return "$rc"
}

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        log "must run as root (or with sudo available)"
        exit 1
    fi
fi

apt_updated=0
apt_update_once() {
    if [ "$apt_updated" -eq 0 ]; then
        log "apt-get update"
        quiet $SUDO apt-get update -qq
        apt_updated=1
    fi
}

# True when the Debian package is installed.
deb_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

apt_install() {
    apt_update_once
    log "apt-get install $*"
    quiet $SUDO apt-get install -y -qq --no-install-recommends "$@"
}

# 1. Debian packages.
missing=()
for pkg in openssh-client openssh-server curl openssl lftp litmus rclone haproxy zbar-tools chromium; do
    if ! deb_installed "$pkg"; then
        missing+=("$pkg")
    fi
done
if [ "${#missing[@]}" -gt 0 ]; then
    apt_install "${missing[@]}"
fi

for tool in ssh sftp scp ssh-keygen lftp litmus rclone zbarimg chromium; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        log "$tool still missing after installing its package"
        exit 1
    fi
done
if ! command -v haproxy >/dev/null 2>&1 && [ ! -x /usr/sbin/haproxy ]; then
    log "haproxy still missing after installing its package"
    exit 1
fi

# 2. python3 + pip.
if ! command -v python3 >/dev/null 2>&1; then
    apt_install python3 python3-pip
fi

pip_install() {
    if ! python3 -m pip --version >/dev/null 2>&1; then
        apt_install python3-pip
    fi
    log "pip install $*"
    if ! python3 -m pip install -q "$@" >/dev/null 2>&1; then
        # Debian's own python3 is "externally managed" (PEP 668).
        quiet python3 -m pip install -q --break-system-packages "$@"
    fi
}

# 3. ssh-audit: Debian package when the archive has it, else PyPI.
if ! command -v ssh-audit >/dev/null 2>&1; then
    if deb_installed ssh-audit; then
        log "ssh-audit package installed but not on PATH"
        exit 1
    fi
    if ! apt-cache show ssh-audit >/dev/null 2>&1; then
        apt_update_once
    fi
    if apt-cache show ssh-audit >/dev/null 2>&1; then
        apt_install ssh-audit
    else
        pip_install ssh-audit
    fi
    if ! command -v ssh-audit >/dev/null 2>&1; then
        log "ssh-audit is not on PATH after installing it"
        exit 1
    fi
fi

# 4. paramiko for the python3 found on PATH (the one the tests run).
if ! python3 -c 'import paramiko' >/dev/null 2>&1; then
    pip_install paramiko
    if ! python3 -c 'import paramiko' >/dev/null 2>&1; then
        log "python3 cannot import paramiko after installing it"
        exit 1
    fi
fi

# 5. aiosmtpd: the SMTP server the event e-mail tests send to.
if ! python3 -c 'import aiosmtpd' >/dev/null 2>&1; then
    pip_install aiosmtpd
    if ! python3 -c 'import aiosmtpd' >/dev/null 2>&1; then
        log "python3 cannot import aiosmtpd after installing it"
        exit 1
    fi
fi

# 6. schemathesis (REST API contract tests), same major version as the tests expect.
if ! command -v schemathesis >/dev/null 2>&1; then
    pip_install "schemathesis>=4,<5"
    if ! command -v schemathesis >/dev/null 2>&1; then
        log "schemathesis is not on PATH after installing it"
        exit 1
    fi
fi

exit 0
