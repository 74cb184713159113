#!/usr/bin/env bash
# Memory per key, cachet against redis-server in the same run: N keys of 16 bytes with 32-byte
# values (the issue's figure), loaded over plaintext with redis-cli --pipe into each server,
# then each server's RSS (/proc/PID/status VmRSS) and INFO used_memory before and after.
#
# Usage: scripts/memory.sh [-n KEYS] [-d VALUE_BYTES]   (defaults 1000000 and 32; bounded,
# stops what it starts)
set -uo pipefail
cd "$(dirname "$0")/.."

N=1000000
D=32
while getopts "n:d:" o; do
  case $o in
    n) N=$OPTARG ;;
    d) D=$OPTARG ;;
    *) echo "usage: $0 [-n keys] [-d value_bytes]"; exit 2 ;;
  esac
done
command -v redis-server >/dev/null && command -v redis-cli >/dev/null || {
  echo "needs redis-server and redis-cli (Debian: redis-server, redis-tools)"; exit 1; }
cargo build --release -q || exit 1
BIN=$PWD/target/release/cachet
. scripts/lib.sh

rss() { awk '/VmRSS/ {print $2 * 1024}' "/proc/$1/status"; }
used() { redis-cli -p "$1" INFO memory | tr -d '\r' | awk -F: '/^used_memory:/ {print $2}'; }

# The keys: "key:" + 12 digits = 16 bytes; values D bytes (at least 13: "v" + 12 digits).
python3 - "$N" "$D" > "$WORK/load.resp" <<'PY'
import sys
n, d = int(sys.argv[1]), max(13, int(sys.argv[2]))
out = sys.stdout.buffer
for i in range(n):
    k = b"key:%012d" % i
    v = b"v" + b"%0*d" % (d - 1, i)
    out.write(b"*3\r\n$3\r\nSET\r\n$16\r\n" + k + b"\r\n$%d\r\n" % d + v + b"\r\n")
PY

RPORT=$(free_port)
redis-server --port "$RPORT" --save "" --appendonly no --daemonize no --logfile "$WORK/redis.log" &
RPID=$!; PIDS+=($RPID)
"$BIN" serve --port 0 --workers 1 --transit-encryption-mode disabled --tls-dev-dir "$WORK/certs" \
  --maxmemory 0 2>"$WORK/cachet.log" &
CPID=$!; PIDS+=($CPID)
for _ in $(seq 1 100); do
  CPORT=$(grep -o 'ready to accept connections port=[0-9]*' "$WORK/cachet.log" | grep -o '[0-9]*$' || true)
  [ -n "$CPORT" ] && redis-cli -p "$RPORT" PING >/dev/null 2>&1 && break
  sleep 0.1
done

printf '%-14s %14s %14s %14s %14s %10s\n' server rss_before rss_after used_before used_after B/key_rss
for s in "redis $RPORT $RPID" "cachet $CPORT $CPID"; do
  set -- $s
  r0=$(rss "$3"); u0=$(used "$2")
  timeout 300 redis-cli -p "$2" --pipe < "$WORK/load.resp" > "$WORK/$1.pipe" 2>&1
  keys=$(redis-cli -p "$2" DBSIZE)
  [ "$keys" = "$N" ] || { echo "$1: loaded $keys keys of $N"; cat "$WORK/$1.pipe"; exit 1; }
  # Let each allocator settle (mimalloc and jemalloc both return freed pages after a delay).
  sleep 2; redis-cli -p "$2" PING >/dev/null; sleep 1
  r1=$(rss "$3"); u1=$(used "$2")
  printf '%-14s %14s %14s %14s %14s %10.1f\n' "$1" "$r0" "$r1" "$u0" "$u1" "$(echo "($r1 - $r0) / $N" | bc -l)"
  eval "${1}_rss=$((r1 - r0))"
done
echo "RSS growth for $N keys, cachet / redis: $(echo "scale=3; $cachet_rss / $redis_rss" | bc -l)"
