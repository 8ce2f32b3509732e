#!/usr/bin/env bash
# Side by side: this server's WebDAV vs nginx's dav module, same curl client, loopback,
# files on tmpfs, over clear-text HTTP and HTTPS. Prints a markdown table with ratios
# ours/nginx (see perf/README.md).
#
# Usage: bash perf/dav-compare.sh [SIZE_MB] [RUNS]       (root: it installs nginx)
# Environment:
#   OUR_PORT, NGINX_PORT           HTTP ports (default 2431, 2432)
#   OUR_TLS_PORT, NGINX_TLS_PORT   HTTPS ports (default 2433, 2434)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

SIZE_MB=${1:-1024}
RUNS=${2:-3}
OUR_PORT=${OUR_PORT:-2431}
NGINX_PORT=${NGINX_PORT:-2432}
OUR_TLS_PORT=${OUR_TLS_PORT:-2433}
NGINX_TLS_PORT=${NGINX_TLS_PORT:-2434}

# --- dependencies (idempotent) -------------------------------------------------------
need=()
command -v /usr/sbin/nginx >/dev/null || need+=(nginx)
command -v curl >/dev/null || need+=(curl)
command -v openssl >/dev/null || need+=(openssl)
if [ "${#need[@]}" -gt 0 ]; then
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# shellcheck source=perf/guest-memory.sh
. perf/guest-memory.sh
work=$(mktemp -d /dev/shm/sftpgo-dav-perf.XXXXXX)
chmod 755 "$work"
our_pid=
ng_pid=
cleanup() {
    kill ${our_pid:+"$our_pid"} ${ng_pid:+"$ng_pid"} 2>/dev/null || true
    rm -rf "$work"
    resume_page_reporting
}
trap cleanup EXIT
pause_page_reporting

target_dir="${CARGO_TARGET_DIR:-target}"
cargo build --release --bin sftpgo -q
bin="$target_dir/release/sftpgo"

mkdir -p "$work/ours" "$work/nginx" "$work/nginx-tmp" "$work/cfg" "$work/local"
head -c "$((SIZE_MB * 1024 * 1024))" /dev/urandom > "$work/local/big.bin"
want=$(sha256sum < "$work/local/big.bin" | cut -d' ' -f1)
cp "$work/local/big.bin" "$work/ours/big.bin"
cp "$work/local/big.bin" "$work/nginx/big.bin"
chmod -R a+rwX "$work/nginx" "$work/nginx-tmp"
# One self-signed P-256 certificate for both servers' HTTPS ports.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -keyout "$work/cfg/key.pem" -out "$work/cfg/cert.pem" -subj /CN=127.0.0.1 2>/dev/null

# --- servers ----------------------------------------------------------------------------
# nginx: two workers (one per core, like ours), sendfile on, no authentication (ours
# checks a password on every request: nginx is favoured). HTTPS: nginx's defaults
# (OpenSSL, TLS 1.2 and 1.3), sendfile does not apply.
cat > "$work/nginx.conf" <<CFG
worker_processes 2;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx.err;
events { worker_connections 64; }
http {
    access_log off;
    sendfile on;
    client_max_body_size 0;
    client_body_temp_path $work/nginx-tmp;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        listen 127.0.0.1:$NGINX_TLS_PORT ssl;
        ssl_certificate $work/cfg/cert.pem;
        ssl_certificate_key $work/cfg/key.pem;
        root $work/nginx;
        dav_methods PUT DELETE MKCOL COPY MOVE;
    }
}
CFG
/usr/sbin/nginx -c "$work/nginx.conf" &
ng_pid=$!

cat > "$work/dump.json" <<JSON
{"users":[{"status":1,"username":"bench","password":"bench-pass-1",
"home_dir":"$work/ours","permissions":{"/":["*"]}}],"version":17}
JSON
SFTPGO_WEBDAVD__BINDINGS__0__PORT=$OUR_PORT SFTPGO_WEBDAVD__BINDINGS__0__ADDRESS=127.0.0.1 \
SFTPGO_WEBDAVD__BINDINGS__1__PORT=$OUR_TLS_PORT SFTPGO_WEBDAVD__BINDINGS__1__ADDRESS=127.0.0.1 \
SFTPGO_WEBDAVD__BINDINGS__1__ENABLE_HTTPS=true \
SFTPGO_WEBDAVD__CERTIFICATE_FILE=cert.pem SFTPGO_WEBDAVD__CERTIFICATE_KEY_FILE=key.pem \
SFTPGO_SFTPD__BINDINGS__0__PORT=0 SFTPGO_HTTPD__BINDINGS__0__PORT=0 \
    "$bin" serve -c "$work/cfg" -l "$work/sftpgo.log" --log-level warn --loaddata-from "$work/dump.json" &
our_pid=$!
for port in "$OUR_PORT" "$NGINX_PORT" "$OUR_TLS_PORT" "$NGINX_TLS_PORT"; do
    for _ in $(seq 50); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        sleep 0.1
    done
done

# url_of SERVER TLS: the server's base URL.
url_of() {
    case "$1/$2" in
        ours/no) echo "http://127.0.0.1:$OUR_PORT" ;;
        nginx/no) echo "http://127.0.0.1:$NGINX_PORT" ;;
        ours/yes) echo "https://127.0.0.1:$OUR_TLS_PORT" ;;
        nginx/yes) echo "https://127.0.0.1:$NGINX_TLS_PORT" ;;
    esac
}
dir_of() { if [ "$1" = ours ]; then echo "$work/ours"; else echo "$work/nginx"; fi; }

# one SERVER DIR TLS: seconds of one transfer (GET into /dev/null, PUT from tmpfs);
# the upload is checked with sha256 after the clock stops.
one() {
    local server=$1 dir=$2 url start end
    url=$(url_of "$server" "$3")
    start=$(date +%s.%N)
    if [ "$dir" = get ]; then
        curl -sSk --fail --user bench:bench-pass-1 -o /dev/null "$url/big.bin"
        end=$(date +%s.%N)
    else
        curl -sSk --fail --user bench:bench-pass-1 -T "$work/local/big.bin" -o /dev/null "$url/up.bin"
        end=$(date +%s.%N)
        [ "$(sha256sum < "$(dir_of "$server")/up.bin" | cut -d' ' -f1)" = "$want" ] \
            || { echo "PUT to $server corrupted" >&2; exit 1; }
        rm -f "$(dir_of "$server")/up.bin"
    fi
    echo "$start $end" | awk '{print $2 - $1}'
}

# median_mbps SECONDS...: MB/s of the median of the given times.
median_mbps() {
    printf '%s\n' "$@" | sort -n | awk -v mb="$SIZE_MB" \
        '{a[NR]=$1} END {m=a[int((NR+1)/2)]; printf "%.0f", mb*1.048576/m}'
}

# A checked GET of each server once (into tmpfs), and one untimed PUT each: the first
# writes of a fresh VM's memory cost the guest several times more (the host backs its
# pages on first touch), which would otherwise land on whichever server is timed first.
for server in ours nginx; do
    for tls in no yes; do
        curl -sSk --fail --user bench:bench-pass-1 -o "$work/local/check.bin" \
            "$(url_of "$server" "$tls")/big.bin"
        [ "$(sha256sum < "$work/local/check.bin" | cut -d' ' -f1)" = "$want" ] \
            || { echo "GET from $server (TLS $tls) corrupted" >&2; exit 1; }
        rm -f "$work/local/check.bin"
    done
    one "$server" put no >/dev/null
done

echo "### WebDAV: one ${SIZE_MB} MiB file, curl, median of $RUNS (MB/s)"
echo
echo "| method | TLS | ours | nginx | ratio |"
echo "|---|---|---:|---:|---:|"
for tls in no yes; do
    for dir in get put; do
        # The servers take turns, so drifts in the machine's state hit both alike.
        o_times=() n_times=()
        for _ in $(seq "$RUNS"); do
            o_times+=("$(one ours "$dir" "$tls")")
            n_times+=("$(one nginx "$dir" "$tls")")
        done
        o=$(median_mbps "${o_times[@]}")
        n=$(median_mbps "${n_times[@]}")
        label=$([ "$tls" = yes ] && echo "HTTPS" || echo "none")
        echo "| ${dir^^} | $label | $o | $n | $(awk -v a="$o" -v b="$n" 'BEGIN{printf "%.2f", a/b}') |"
    done
done
