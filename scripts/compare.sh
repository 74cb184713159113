#!/usr/bin/env bash
# Side-by-side: cachet against redis-server (and valkey-server when installed) on the same
# workloads, same certificates, same machine, in one run.
#
# Each server is pinned to core 0 and the load generator (redis-benchmark) to core 1. The figure
# that compares servers is server CPU time per request: utime+stime of the server process, read
# from /proc/PID/stat before and after each workload, divided by the requests served. ops/s is
# printed beside it, but at pipeline 1 the one-core client usually saturates first.
#
# Usage: scripts/compare.sh [-n REQUESTS_P16] [-m REQUESTS_P1]
# Bounded: every workload has a request count and a timeout; every process it starts is
# stopped by PID on exit.
set -uo pipefail
cd "$(dirname "$0")/.."

N16=2000000
N1=300000
while getopts "n:m:" o; do
  case $o in
    n) N16=$OPTARG ;;
    m) N1=$OPTARG ;;
    *) echo "usage: $0 [-n requests_at_p16] [-m requests_at_p1]"; exit 2 ;;
  esac
done

command -v redis-benchmark >/dev/null || { echo "needs redis-benchmark (Debian: redis-tools)"; exit 1; }
command -v taskset >/dev/null || { echo "needs taskset (util-linux)"; exit 1; }
cargo build --release -q || exit 1
BIN=$PWD/target/release/cachet
. scripts/lib.sh
"$BIN" certs --out "$WORK/certs" >/dev/null
CA=$WORK/certs/ca.crt
TICK=$(getconf CLK_TCK)


cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

wait_port() {
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# Starts each server with a plaintext port and a TLS port; sets <name>_PID, _PORT, _TLS_PORT.
declare -A PID PLAIN TLS
start_cachet() {
  local p t; p=$(free_port); t=$(free_port)
  taskset -c 0 "$BIN" serve --port "$p" --tls-port "$t" --transit-encryption-mode disabled \
    --workers 1 --tls-cert-file "$WORK/certs/server.crt" --tls-key-file "$WORK/certs/server.key" \
    --tls-ca-cert-file "$CA" 2>"$WORK/cachet.log" &
  PID[cachet]=$!; PIDS+=($!); PLAIN[cachet]=$p; TLS[cachet]=$t
  wait_port "$t"
}
start_redislike() { # name binary
  local p t; p=$(free_port); t=$(free_port)
  taskset -c 0 "$2" --port "$p" --tls-port "$t" --tls-cert-file "$WORK/certs/server.crt" \
    --tls-key-file "$WORK/certs/server.key" --tls-ca-cert-file "$CA" --tls-auth-clients no \
    --save "" --appendonly no --daemonize no --logfile "$WORK/$1.log" &
  PID[$1]=$!; PIDS+=($!); PLAIN[$1]=$p; TLS[$1]=$t
  wait_port "$t"
}

SERVERS=(cachet)
start_cachet
if command -v redis-server >/dev/null; then start_redislike redis redis-server; SERVERS+=(redis); fi
if command -v valkey-server >/dev/null; then start_redislike valkey valkey-server; SERVERS+=(valkey); fi

# run SERVER TLS(yes|no) TEST(set|get) PIPELINE REQUESTS -> prints "ops cpu_us_per_req"
run() {
  local s=$1 tls=$2 test=$3 pipe=$4 n=$5 port args=()
  if [ "$tls" = yes ]; then port=${TLS[$s]}; args=(--tls --cacert "$CA"); else port=${PLAIN[$s]}; fi
  local before after out ops
  before=$(cpu_ticks "${PID[$s]}")
  out=$(timeout 300 taskset -c 1 redis-benchmark "${args[@]}" -h localhost -p "$port" -t "$test" \
        -n "$n" -c 50 -P "$pipe" -d 32 -r 100000 -q 2>&1 | tr '\r' '\n' | grep 'requests per second' | tail -1)
  after=$(cpu_ticks "${PID[$s]}")
  ops=$(echo "$out" | awk '{print $2}')
  awk -v b="$before" -v a="$after" -v n="$n" -v t="$TICK" -v ops="$ops" \
    'BEGIN { printf "%s %.3f\n", ops, (a - b) / t * 1e6 / n }'
}

printf '%-26s' "workload"
for s in "${SERVERS[@]}"; do printf '%22s' "$s ops/s | us/req"; done
[ ${#SERVERS[@]} -gt 1 ] && printf '%18s' "cachet/redis CPU"
echo
for tls in yes no; do
  for pipe in 1 16; do
    for test in set get; do
      n=$N16; [ "$pipe" = 1 ] && n=$N1
      label="$( [ $tls = yes ] && echo TLS || echo plain ) ${test^^} P$pipe"
      printf '%-26s' "$label"
      declare -A CPU=()
      for s in "${SERVERS[@]}"; do
        read -r ops cpu < <(run "$s" "$tls" "$test" "$pipe" "$n")
        CPU[$s]=$cpu
        printf '%12s | %7s' "${ops%.*}" "$cpu"
      done
      if [ -n "${CPU[redis]:-}" ]; then
        awk -v c="${CPU[cachet]}" -v r="${CPU[redis]}" 'BEGIN { printf "%18.2f", (r > 0 ? c / r : 0) }'
      fi
      echo
    done
  done
done
echo "(server pinned to core 0, redis-benchmark to core 1; 50 connections, 32-byte values;"
echo " us/req = server utime+stime per request from /proc; ratio < 1 means cachet uses less CPU)"
