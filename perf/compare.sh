#!/usr/bin/env bash
# Side by side: this server vs OpenSSH's sshd + sftp-server, same OpenSSH client, loopback,
# files on tmpfs. Prints markdown tables with ratios ours/OpenSSH (see perf/README.md).
#
# Usage: bash perf/compare.sh [SIZE_MB] [RUNS]          (root: it starts sshd)
# Environment:
#   SECTIONS      which parts to run (default "bulk small parallel idle")
#   CIPHERS       default "aes128-gcm@openssh.com aes256-gcm@openssh.com chacha20-poly1305@openssh.com"
#   TOOLS         bulk tools (default "sftp scp-O scp-s")
#   SMALL_FILES   files of 4 KiB for put -r / get -r (default 2000)
#   PAR_MB        file size per connection in the parallel test (default 256)
#   IDLE_OURS     idle sessions opened against this server (default 1000)
#   IDLE_OPENSSH  idle sessions opened against OpenSSH (default 200: ~2 processes each)
#   OUR_PORT, SSHD_PORT   loopback ports (default 2398, 2399)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

SIZE_MB=${1:-1024}
RUNS=${2:-3}
SECTIONS=${SECTIONS:-bulk small parallel idle}
CIPHERS=${CIPHERS:-aes128-gcm@openssh.com aes256-gcm@openssh.com chacha20-poly1305@openssh.com}
TOOLS=${TOOLS:-sftp scp-O scp-s}
SMALL_FILES=${SMALL_FILES:-2000}
PAR_MB=${PAR_MB:-256}
IDLE_OURS=${IDLE_OURS:-1000}
IDLE_OPENSSH=${IDLE_OPENSSH:-200}
OUR_PORT=${OUR_PORT:-2398}
SSHD_PORT=${SSHD_PORT:-2399}
me=$(id -un)

# --- dependencies (idempotent) -------------------------------------------------------
if ! command -v /usr/sbin/sshd >/dev/null || ! command -v sftp >/dev/null; then
    apt-get update -qq && apt-get install -y -qq openssh-server openssh-client >/dev/null
fi
python3 -c 'import asyncssh' 2>/dev/null || python3 -m pip install -q asyncssh >/dev/null

# shellcheck source=perf/guest-memory.sh
. perf/guest-memory.sh
work=$(mktemp -d /dev/shm/sftpgo-perf.XXXXXX)
our_pid=
cleanup() {
    kill "$(cat "$work/sshd.pid" 2>/dev/null)" ${our_pid:+"$our_pid"} 2>/dev/null || true
    rm -rf "$work"
    resume_page_reporting
}
trap cleanup EXIT
pause_page_reporting

target_dir="${CARGO_TARGET_DIR:-target}"
cargo build --release --bin sftpgo -q
bin="$target_dir/release/sftpgo"

# --- servers ---------------------------------------------------------------------------
ssh-keygen -q -t ed25519 -N "" -f "$work/hostkey"
ssh-keygen -q -t ed25519 -N "" -f "$work/ck"
cp "$work/ck.pub" "$work/authorized_keys"
mkdir -p /run/sshd "$work/home" "$work/cfg" "$work/local"
cat > "$work/sshd_config" <<CFG
Port $SSHD_PORT
ListenAddress 127.0.0.1
HostKey $work/hostkey
AuthorizedKeysFile $work/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
MaxStartups 200
PidFile $work/sshd.pid
Subsystem sftp /usr/lib/openssh/sftp-server
CFG
/usr/sbin/sshd -f "$work/sshd_config" -E "$work/sshd.log"
cat > "$work/dump.json" <<JSON
{"users":[{"status":1,"username":"$me","public_keys":["$(cat "$work/ck.pub")"],
"home_dir":"$work/home","permissions":{"/":["*"]}}],"version":17}
JSON
SFTPGO_SFTPD__BINDINGS__0__PORT=$OUR_PORT SFTPGO_SFTPD__BINDINGS__0__ADDRESS=127.0.0.1 \
SFTPGO_COMMON__MAX_PER_HOST_CONNECTIONS=0 SFTPGO_HTTPD__BINDINGS__0__PORT=0 \
    "$bin" serve -c "$work/cfg" -l "$work/sftpgo.log" --log-level warn --loaddata-from "$work/dump.json" &
our_pid=$!
for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$OUR_PORT") 2>/dev/null && break
    sleep 0.1
done

opts=(-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes
      -o LogLevel=ERROR -o IdentitiesOnly=yes -i "$work/ck")
# Remote paths: ours is rooted at the home directory, OpenSSH sees the real path.
rpath() { if [ "$1" = "$OUR_PORT" ]; then echo "/$2"; else echo "$work/home/$2"; fi; }

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { print b - a }'; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { awk -v o="$1" -v t="$2" 'BEGIN { printf "%.2f", o / t }'; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }
sha() { sha256sum < "$1" | cut -d' ' -f1; }
fail() { echo "FAILED: $*" >&2; exit 1; }

# --- bulk: one 1 GiB file per transfer ----------------------------------------------
# transfer TOOL PORT CIPHER DIR REMOTE LOCAL
transfer() {
    local tool=$1 port=$2 cipher=$3 dir=$4 remote=$5 local=$6
    local target="$me@127.0.0.1"
    case "$tool-$dir" in
        sftp-down) echo "get $remote $local" | sftp -q "${opts[@]}" -c "$cipher" -P "$port" -b - "$target" >/dev/null ;;
        sftp-up) echo "put $local $remote" | sftp -q "${opts[@]}" -c "$cipher" -P "$port" -b - "$target" >/dev/null ;;
        scp-O-down) scp -q -O "${opts[@]}" -c "$cipher" -P "$port" "$target:$remote" "$local" ;;
        scp-O-up) scp -q -O "${opts[@]}" -c "$cipher" -P "$port" "$local" "$target:$remote" ;;
        scp-s-down) scp -q -s "${opts[@]}" -c "$cipher" -P "$port" "$target:$remote" "$local" ;;
        scp-s-up) scp -q -s "${opts[@]}" -c "$cipher" -P "$port" "$local" "$target:$remote" ;;
        *) fail "unknown transfer $tool-$dir" ;;
    esac
}

# Downloads are timed into /dev/null where the client allows it (sftp, scp -O): writing
# 1 GiB into tmpfs costs the client more CPU than either server spends, which would
# measure the client. scp in SFTP mode truncates its target, so it writes to tmpfs.
# Every download is also made once into tmpfs and checked; every upload is checked.
bulk() {
    head -c $((SIZE_MB * 1024 * 1024)) /dev/urandom > "$work/src.bin"
    cp "$work/src.bin" "$work/home/big.bin"
    local sum
    sum=$(sha "$work/src.bin")
    echo
    echo "### Bulk: one ${SIZE_MB} MiB file, median of $RUNS (MB/s)"
    echo
    echo "| tool | cipher | dir | written to | ours | OpenSSH | ratio |"
    echo "|---|---|---|---|---:|---:|---:|"
    local tool cipher dir port sink o t
    for tool in $TOOLS; do
      for cipher in $CIPHERS; do
        for dir in down up; do
          declare -A times=()
          for port in $OUR_PORT $SSHD_PORT; do
            local samples=()
            for _ in $(seq "$RUNS"); do
              local start
              if [ "$dir" = down ]; then
                sink=/dev/null; [ "$tool" = scp-s ] && sink="$work/local/dst.bin"
                rm -f "$work/local/dst.bin"
                start=$(now)
                transfer "$tool" "$port" "$cipher" down "$(rpath "$port" big.bin)" "$sink"
                samples+=("$(elapsed "$start")")
                [ "$sink" = /dev/null ] || [ "$(sha "$sink")" = "$sum" ] || fail "$tool $cipher download from port $port differs"
              else
                sink=tmpfs
                rm -f "$work/home/up.bin"
                start=$(now)
                transfer "$tool" "$port" "$cipher" up "$(rpath "$port" up.bin)" "$work/src.bin"
                samples+=("$(elapsed "$start")")
                [ "$(sha "$work/home/up.bin")" = "$sum" ] || fail "$tool $cipher upload to port $port differs"
              fi
            done
            if [ "$dir" = down ] && [ "$sink" = /dev/null ]; then
              rm -f "$work/local/dst.bin"
              transfer "$tool" "$port" "$cipher" down "$(rpath "$port" big.bin)" "$work/local/dst.bin"
              [ "$(sha "$work/local/dst.bin")" = "$sum" ] || fail "$tool $cipher download from port $port differs"
            fi
            times[$port]=$(printf '%s\n' "${samples[@]}" | median)
          done
          o=$(rate "$SIZE_MB" "${times[$OUR_PORT]}"); t=$(rate "$SIZE_MB" "${times[$SSHD_PORT]}")
          [ "${sink#/dev/shm}" = "$sink" ] || sink=tmpfs
          echo "| $tool | ${cipher%@openssh.com} | $dir | $sink | $o | $t | $(ratio "$o" "$t") |"
          unset times
        done
      done
    done
    rm -f "$work/src.bin" "$work/home/big.bin" "$work/home/up.bin" "$work/local/dst.bin"
}

# --- small files: put -r / get -r of SMALL_FILES × 4 KiB --------------------------------
small() {
    local src="$work/local/small" n
    mkdir -p "$src"
    for n in $(seq "$SMALL_FILES"); do head -c 4096 /dev/urandom > "$src/f$n"; done
    echo
    echo "### Small files: $SMALL_FILES × 4 KiB with sftp put -r / get -r, median of $RUNS (files/s, connection set-up included)"
    echo
    echo "| dir | ours | OpenSSH | ratio |"
    echo "|---|---:|---:|---:|"
    local dir port o t
    for dir in up down; do
      declare -A times=()
      for port in $OUR_PORT $SSHD_PORT; do
        local samples=()
        for _ in $(seq "$RUNS"); do
          local start cmd
          rm -rf "$work/home/small" "$work/local/got"
          if [ "$dir" = down ]; then
            cp -r "$src" "$work/home/small"; mkdir -p "$work/local/got"
            cmd="get -r $(rpath "$port" small) $work/local/got/"
          else
            cmd="put -r $src $(rpath "$port" small)"
          fi
          start=$(now)
          echo "$cmd" | sftp -q "${opts[@]}" -P "$port" -b - "$me@127.0.0.1" >/dev/null
          samples+=("$(elapsed "$start")")
          if [ "$dir" = down ]; then
            diff -r "$src" "$work/local/got/small" >/dev/null || fail "get -r from port $port differs"
          else
            diff -r "$src" "$work/home/small" >/dev/null || fail "put -r to port $port differs"
          fi
        done
        times[$port]=$(printf '%s\n' "${samples[@]}" | median)
      done
      o=$(rate "$SMALL_FILES" "${times[$OUR_PORT]}"); t=$(rate "$SMALL_FILES" "${times[$SSHD_PORT]}")
      echo "| $dir | $o | $t | $(ratio "$o" "$t") |"
      unset times
    done
    rm -rf "$src" "$work/home/small" "$work/local/got"
}

# --- parallel: N simultaneous sftp downloads --------------------------------------------
parallel() {
    head -c $((PAR_MB * 1024 * 1024)) /dev/urandom > "$work/home/par.bin"
    echo
    echo "### Parallel connections: N × sftp get of ${PAR_MB} MiB (aes128-gcm, into /dev/null), aggregate MB/s, median of $RUNS"
    echo
    echo "| connections | ours | OpenSSH | ratio |"
    echo "|---:|---:|---:|---:|"
    local n port o t i
    for n in 1 2 4 8; do
      declare -A times=()
      for port in $OUR_PORT $SSHD_PORT; do
        local samples=()
        for _ in $(seq "$RUNS"); do
          local start pids=()
          start=$(now)
          for i in $(seq "$n"); do
            echo "get $(rpath "$port" par.bin) /dev/null" |
                sftp -q "${opts[@]}" -c aes128-gcm@openssh.com -P "$port" -b - "$me@127.0.0.1" >/dev/null &
            pids+=($!)
          done
          for i in "${pids[@]}"; do wait "$i" || fail "parallel download from port $port"; done
          samples+=("$(elapsed "$start")")
        done
        times[$port]=$(printf '%s\n' "${samples[@]}" | median)
      done
      o=$(rate $((n * PAR_MB)) "${times[$OUR_PORT]}"); t=$(rate $((n * PAR_MB)) "${times[$SSHD_PORT]}")
      echo "| $n | $o | $t | $(ratio "$o" "$t") |"
      unset times
    done
    rm -f "$work/home/par.bin"
}

# --- idle sessions: memory per authenticated, idle SFTP session -------------------------
idle() {
    echo
    echo "### Idle SFTP sessions (authenticated, SFTP started, then idle): memory growth of the server"
    echo
    echo "| server | sessions | PSS KiB/session | RSS KiB/session | server PSS MiB before → after |"
    echo "|---|---:|---:|---:|---:|"
    python3 perf/idle_sessions.py 127.0.0.1 "$OUR_PORT" "$me" "$work/ck" "$IDLE_OURS" "$our_pid" ours
    python3 perf/idle_sessions.py 127.0.0.1 "$SSHD_PORT" "$me" "$work/ck" "$IDLE_OPENSSH" \
        "$(cat "$work/sshd.pid")" "OpenSSH (sshd + sftp-server)"
}

echo "## perf/compare.sh $(date -u +%Y-%m-%d), $(nproc) cores, $(ssh -V 2>&1 | cut -d, -f1) client and sshd"
for section in $SECTIONS; do
    "$section"
done
