#!/usr/bin/env bash
# Side-by-side throughput: this server vs OpenSSH sshd + sftp-server, same OpenSSH client,
# loopback, files on tmpfs. Prints MB/s (median of RUNS) and the ratio ours/OpenSSH.
# Usage: bash perf/compare.sh [SIZE_MB] [RUNS]      (needs root for sshd; ~1-3 min)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

SIZE_MB=${1:-1024}
RUNS=${2:-3}
OUR_PORT=${OUR_PORT:-2398}
SSHD_PORT=${SSHD_PORT:-2399}
work=$(mktemp -d /dev/shm/sftpgo-perf.XXXXXX)
trap 'kill $(cat "$work/sshd.pid" 2>/dev/null) "$our_pid" 2>/dev/null || true; rm -rf "$work"' EXIT

command -v /usr/sbin/sshd >/dev/null || { apt-get update -qq && apt-get install -y -qq openssh-server >/dev/null; }
target_dir="${CARGO_TARGET_DIR:-target}"
cargo build --release --bin sftpgo -q
bin="$target_dir/release/sftpgo"

ssh-keygen -q -t ed25519 -N "" -f "$work/hostkey"
ssh-keygen -q -t ed25519 -N "" -f "$work/ck"
cp "$work/ck.pub" "$work/authorized_keys"
mkdir -p /run/sshd "$work/home" "$work/cfg"
cat > "$work/sshd_config" <<CFG
Port $SSHD_PORT
ListenAddress 127.0.0.1
HostKey $work/hostkey
AuthorizedKeysFile $work/authorized_keys
PasswordAuthentication no
UsePAM no
StrictModes no
PidFile $work/sshd.pid
Subsystem sftp /usr/lib/openssh/sftp-server
CFG
/usr/sbin/sshd -f "$work/sshd_config" -E "$work/sshd.log"
cat > "$work/dump.json" <<JSON
{"users":[{"status":1,"username":"$(id -un)","public_keys":["$(cat "$work/ck.pub")"],
"home_dir":"$work/home","permissions":{"/":["*"]}}],"version":17}
JSON
SFTPGO_SFTPD__BINDINGS__0__PORT=$OUR_PORT SFTPGO_SFTPD__BINDINGS__0__ADDRESS=127.0.0.1 \
    "$bin" serve -c "$work/cfg" -l "$work/sftpgo.log" --log-level warn --loaddata-from "$work/dump.json" &
our_pid=$!
sleep 3

head -c $((SIZE_MB * 1024 * 1024)) /dev/urandom > "$work/src.bin"
sum=$(sha256sum < "$work/src.bin")
opts=(-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR -o IdentitiesOnly=yes -i "$work/ck")

# run TOOL PORT CIPHER DIRECTION REMOTE_PATH -> seconds
run() {
    local tool=$1 port=$2 cipher=$3 dir=$4 remote=$5 start end
    rm -f "$work/dst.bin"
    start=$(date +%s.%N)
    case "$tool-$dir" in
        sftp-down) echo "get $remote $work/dst.bin" | sftp -q "${opts[@]}" -c "$cipher" -P "$port" -b - "$(id -un)@127.0.0.1" >/dev/null ;;
        sftp-up) echo "put $work/src.bin $remote" | sftp -q "${opts[@]}" -c "$cipher" -P "$port" -b - "$(id -un)@127.0.0.1" >/dev/null ;;
        scp-down) scp -q -O "${opts[@]}" -c "$cipher" -P "$port" "$(id -un)@127.0.0.1:$remote" "$work/dst.bin" ;;
        scp-up) scp -q -O "${opts[@]}" -c "$cipher" -P "$port" "$work/src.bin" "$(id -un)@127.0.0.1:$remote" ;;
    esac
    end=$(date +%s.%N)
    awk -v a="$start" -v b="$end" 'BEGIN { print b - a }'
}

verify() { # file
    [ "$(sha256sum < "$1")" = "$sum" ] || { echo "checksum mismatch on $1" >&2; exit 1; }
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

printf '%-8s %-32s %-5s %10s %10s %7s\n' tool cipher dir ours_MB/s openssh_MB/s ratio
for tool in sftp scp; do
  for cipher in aes128-gcm@openssh.com aes256-gcm@openssh.com chacha20-poly1305@openssh.com; do
    for dir in down up; do
      declare -a ours=() theirs=()
      for _ in $(seq "$RUNS"); do
        if [ "$dir" = down ]; then
          cp "$work/src.bin" "$work/home/f.bin"
          ours+=("$(run "$tool" "$OUR_PORT" "$cipher" down /f.bin)"); verify "$work/dst.bin"
          theirs+=("$(run "$tool" "$SSHD_PORT" "$cipher" down "$work/home/f.bin")"); verify "$work/dst.bin"
        else
          ours+=("$(run "$tool" "$OUR_PORT" "$cipher" up /up.bin)"); verify "$work/home/up.bin"
          theirs+=("$(run "$tool" "$SSHD_PORT" "$cipher" up "$work/home/up2.bin")"); verify "$work/home/up2.bin"
          rm -f "$work/home/up.bin" "$work/home/up2.bin"
        fi
      done
      o=$(printf '%s\n' "${ours[@]}" | median); t=$(printf '%s\n' "${theirs[@]}" | median)
      awk -v s="$SIZE_MB" -v o="$o" -v t="$t" -v tool="$tool" -v c="$cipher" -v d="$dir" \
          'BEGIN { printf "%-8s %-32s %-5s %10.0f %10.0f %7.2f\n", tool, c, d, s / o, s / t, t / o }'
      rm -f "$work/home/f.bin"
    done
  done
done
