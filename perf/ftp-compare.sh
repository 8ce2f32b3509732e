#!/usr/bin/env bash
# Side by side: this server's FTP/FTPS vs vsftpd, same curl client, loopback, files on
# tmpfs. Prints a markdown table with ratios ours/vsftpd, and ours FTPS/ours FTP
# (see perf/README.md).
#
# Usage: bash perf/ftp-compare.sh [SIZE_MB] [RUNS]       (root: it installs and starts vsftpd)
# Environment:
#   OUR_PORT, VSFTPD_PORT   control ports (default 2421, 2422)
#   SMALL_FILES             files of 4 KiB for the lftp mirror rows (default 1000; 0 skips)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

SIZE_MB=${1:-1024}
RUNS=${2:-3}
OUR_PORT=${OUR_PORT:-2421}
VSFTPD_PORT=${VSFTPD_PORT:-2422}
SMALL_FILES=${SMALL_FILES:-1000}

# --- dependencies (idempotent) -------------------------------------------------------
need=()
command -v /usr/sbin/vsftpd >/dev/null || need+=(vsftpd)
command -v curl >/dev/null || need+=(curl)
command -v openssl >/dev/null || need+=(openssl)
command -v lftp >/dev/null || need+=(lftp)
if [ "${#need[@]}" -gt 0 ]; then
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
id ftp >/dev/null 2>&1 || useradd --system --home-dir /srv/ftp --shell /usr/sbin/nologin ftp

# shellcheck source=perf/guest-memory.sh
. perf/guest-memory.sh
work=$(mktemp -d /dev/shm/sftpgo-ftp-perf.XXXXXX)
chmod 755 "$work"
our_pid=
vs_pid=
cleanup() {
    kill ${our_pid:+"$our_pid"} ${vs_pid:+"$vs_pid"} 2>/dev/null || true
    rm -rf "$work"
    resume_page_reporting
}
trap cleanup EXIT
pause_page_reporting

target_dir="${CARGO_TARGET_DIR:-target}"
cargo build --release --bin sftpgo -q
bin="$target_dir/release/sftpgo"

# --- data and certificate ----------------------------------------------------------------
mkdir -p "$work/ours" "$work/vs/pub" "$work/vs/up" "$work/cfg" "$work/local" /var/run/vsftpd/empty
head -c "$((SIZE_MB * 1024 * 1024))" /dev/urandom > "$work/local/big.bin"
want=$(sha256sum < "$work/local/big.bin" | cut -d' ' -f1)
cp "$work/local/big.bin" "$work/ours/big.bin"
cp "$work/local/big.bin" "$work/vs/pub/big.bin"
mkdir -p "$work/local/small"
for i in $(seq "$SMALL_FILES"); do head -c 4096 /dev/urandom > "$work/local/small/f$i"; done
chmod 644 "$work/local/small"/* 2>/dev/null || true
cp -r "$work/local/small" "$work/ours/small"
cp -r "$work/local/small" "$work/vs/pub/small"
chmod 644 "$work/vs/pub/big.bin"
chown ftp "$work/vs/up"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -keyout "$work/cfg/key.pem" -out "$work/cfg/cert.pem" -subj /CN=127.0.0.1 2>/dev/null
cat "$work/cfg/cert.pem" "$work/cfg/key.pem" > "$work/vsftpd.pem"

# --- servers -------------------------------------------------------------------------------
# vsftpd: anonymous (no system account needed), uploads into up/, sendfile on (its default).
cat > "$work/vsftpd.conf" <<CFG
listen=YES
listen_address=127.0.0.1
listen_port=$VSFTPD_PORT
anonymous_enable=YES
no_anon_password=YES
anon_root=$work/vs
write_enable=YES
anon_upload_enable=YES
anon_other_write_enable=YES
anon_mkdir_write_enable=YES
local_enable=NO
pasv_enable=YES
pasv_min_port=51000
pasv_max_port=51100
seccomp_sandbox=NO
ssl_enable=YES
allow_anon_ssl=YES
force_anon_logins_ssl=NO
force_anon_data_ssl=NO
rsa_cert_file=$work/vsftpd.pem
ssl_ciphers=HIGH
require_ssl_reuse=NO
xferlog_enable=NO
background=NO
CFG
/usr/sbin/vsftpd "$work/vsftpd.conf" &
vs_pid=$!

cat > "$work/dump.json" <<JSON
{"users":[{"status":1,"username":"bench","password":"bench-pass-1",
"home_dir":"$work/ours","permissions":{"/":["*"]}}],"version":17}
JSON
SFTPGO_FTPD__BINDINGS__0__PORT=$OUR_PORT SFTPGO_FTPD__BINDINGS__0__ADDRESS=127.0.0.1 \
SFTPGO_FTPD__CERTIFICATE_FILE=cert.pem SFTPGO_FTPD__CERTIFICATE_KEY_FILE=key.pem \
SFTPGO_SFTPD__BINDINGS__0__PORT=0 SFTPGO_HTTPD__BINDINGS__0__PORT=0 \
    "$bin" serve -c "$work/cfg" -l "$work/sftpgo.log" --log-level warn --loaddata-from "$work/dump.json" &
our_pid=$!
for port in "$OUR_PORT" "$VSFTPD_PORT"; do
    for _ in $(seq 50); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        sleep 0.1
    done
done

# --- measurements ------------------------------------------------------------------------------
# url SERVER DIR: base URL and credentials of a server's download or upload directory.
creds() { if [ "$1" = ours ]; then echo "bench:bench-pass-1"; else echo "anonymous:x"; fi; }
port_of() { if [ "$1" = ours ]; then echo "$OUR_PORT"; else echo "$VSFTPD_PORT"; fi; }
down_path() { if [ "$1" = ours ]; then echo "/big.bin"; else echo "/pub/big.bin"; fi; }
up_path() { if [ "$1" = ours ]; then echo "/up.bin"; else echo "/up/up-$RANDOM.bin"; fi; }
up_file() { if [ "$1" = ours ]; then echo "$work/ours/up.bin"; else ls -t "$work"/vs/up/*.bin | head -1; fi; }

# one SERVER DIR TLS: seconds of one transfer (download to /dev/null, upload from tmpfs);
# the upload is checked with sha256 after the clock stops.
one() {
    local server=$1 dir=$2 tls=$3 args=(-sS --fail --user "$(creds "$1")")
    [ "$tls" = yes ] && args+=(--ssl-reqd -k)
    local start end
    start=$(date +%s.%N)
    if [ "$dir" = down ]; then
        curl "${args[@]}" -o /dev/null "ftp://127.0.0.1:$(port_of "$server")$(down_path "$server")"
        end=$(date +%s.%N)
    else
        curl "${args[@]}" -T "$work/local/big.bin" "ftp://127.0.0.1:$(port_of "$server")$(up_path "$server")"
        end=$(date +%s.%N)
        got=$(sha256sum < "$(up_file "$server")" | cut -d' ' -f1)
        [ "$got" = "$want" ] || { echo "upload to $server corrupted" >&2; exit 1; }
        # Every upload makes a new file on both servers (truncating the last one
        # would add freeing its pages to our timing only).
        if [ "$server" = vsftpd ]; then rm -f "$work"/vs/up/*.bin; else rm -f "$work/ours/up.bin"; fi
    fi
    echo "$start $end" | awk '{print $2 - $1}'
}

# median_mbps SECONDS...: MB/s of the median of the given times.
median_mbps() {
    printf '%s\n' "$@" | sort -n | awk -v mb="$SIZE_MB" \
        '{a[NR]=$1} END {m=a[int((NR+1)/2)]; printf "%.0f", mb*1.048576/m}'
}

# A checked download of each server once (into tmpfs), so /dev/null timings are honest,
# and one untimed upload each: the first writes of a fresh VM's memory cost the guest
# several times more (the host backs its pages on first touch), which would otherwise
# land on whichever server is timed first.
for server in ours vsftpd; do
    curl -sS --fail --user "$(creds "$server")" -o "$work/local/check.bin" \
        "ftp://127.0.0.1:$(port_of "$server")$(down_path "$server")"
    [ "$(sha256sum < "$work/local/check.bin" | cut -d' ' -f1)" = "$want" ] \
        || { echo "download from $server corrupted" >&2; exit 1; }
    rm -f "$work/local/check.bin"
    one "$server" up no >/dev/null
done

echo "### FTP: one ${SIZE_MB} MiB file, curl, median of $RUNS (MB/s)"
echo
echo "| transfer | TLS | ours | vsftpd | ratio |"
echo "|---|---|---:|---:|---:|"
declare -A ours_plain tls_ratio
for tls in no yes; do
    for dir in down up; do
        # The servers take turns, so drifts in the machine's state hit both alike.
        o_times=() v_times=()
        for _ in $(seq "$RUNS"); do
            o_times+=("$(one ours "$dir" "$tls")")
            v_times+=("$(one vsftpd "$dir" "$tls")")
        done
        o=$(median_mbps "${o_times[@]}")
        v=$(median_mbps "${v_times[@]}")
        [ "$tls" = no ] && ours_plain[$dir]=$o
        name=$([ "$dir" = down ] && echo "RETR (download)" || echo "STOR (upload)")
        label=$([ "$tls" = yes ] && echo "explicit, PROT P" || echo "none")
        echo "| $name | $label | $o | $v | $(awk -v a="$o" -v b="$v" 'BEGIN{printf "%.2f", a/b}') |"
        if [ "$tls" = yes ]; then
            tls_ratio[$dir]=$(awk -v a="$o" -v b="${ours_plain[$dir]}" 'BEGIN{printf "%.2f", a/b}')
        fi
    done
done
echo
echo "Ours FTPS / ours plain FTP: RETR ${tls_ratio[down]}, STOR ${tls_ratio[up]}."

[ "$SMALL_FILES" -gt 0 ] || exit 0

# mirror SERVER DIR: seconds of one lftp mirror of the small files (down: from the
# server into tmpfs; up: -R into the server's upload directory), checked with diff -r
# after the clock stops. Plain FTP, passive mode, one connection (lftp's default).
mirror() {
    local server=$1 dir=$2 src dst start end
    local cmd="set ftp:ssl-allow no; set net:max-retries 1; set cmd:fail-exit yes;"
    if [ "$dir" = down ]; then
        src=$([ "$server" = ours ] && echo /small || echo /pub/small)
        dst="$work/local/got"
        cmd+=" mirror --no-perms $src $dst; quit"
    else
        dst=$([ "$server" = ours ] && echo /put || echo /up/put)
        cmd+=" mirror -R --no-perms $work/local/small $dst; quit"
    fi
    start=$(date +%s.%N)
    lftp -u "$(creds "$server")" -p "$(port_of "$server")" -e "$cmd" 127.0.0.1 >/dev/null
    end=$(date +%s.%N)
    local landed
    if [ "$dir" = down ]; then
        landed="$work/local/got"
    else
        landed=$([ "$server" = ours ] && echo "$work/ours/put" || echo "$work/vs/up/put")
    fi
    diff -r "$work/local/small" "$landed" >/dev/null \
        || { echo "mirror $dir with $server differs" >&2; exit 1; }
    rm -rf "$landed"
    echo "$start $end" | awk '{print $2 - $1}'
}

# median_fps SECONDS...: files/s of the median of the given times.
median_fps() {
    printf '%s\n' "$@" | sort -n | awk -v n="$SMALL_FILES" \
        '{a[NR]=$1} END {m=a[int((NR+1)/2)]; printf "%.0f", n/m}'
}

# vsftpd's anonymous uploads may create directories under up/.
echo
echo "### FTP: $SMALL_FILES files of 4 KiB, lftp mirror, median of $RUNS (files/s)"
echo
echo "| transfer | ours | vsftpd | ratio |"
echo "|---|---:|---:|---:|"
for dir in up down; do
    o_times=() v_times=()
    for _ in $(seq "$RUNS"); do
        o_times+=("$(mirror ours "$dir")")
        v_times+=("$(mirror vsftpd "$dir")")
    done
    o=$(median_fps "${o_times[@]}")
    v=$(median_fps "${v_times[@]}")
    name=$([ "$dir" = down ] && echo "mirror (download)" || echo "mirror -R (upload)")
    echo "| $name | $o | $v | $(awk -v a="$o" -v b="$v" 'BEGIN{printf "%.2f", a/b}') |"
done
