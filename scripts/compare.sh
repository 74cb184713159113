#!/usr/bin/env bash
# Side by side: cachet against redis-server (and valkey-server when installed) on the same
# workloads, same certificates, same machine, in one run.
#
# Each server is pinned to core 0 (cachet with one worker) and the load to core 1. The figure
# that compares servers is server CPU time per request: utime+stime of the server process from
# /proc/PID/stat over the measured part of each run, divided by the requests served. ops/s and
# p99 are printed beside it; at pipeline 1 the one-core client saturates first.
#
# Load generator: `cachet bench` (one pinned thread, 50 connections, 16-byte keys over 100 000,
# SETs then GETs of the same keys so GETs hit), and redis-benchmark on the same persistent
# workloads when it is on PATH (memtier_benchmark too), so the figures do not rest on our own
# generator alone. Every cachet-bench figure is the median of -r repeats.
#
# Workloads: TLS and plaintext; SET and GET; pipeline 1 and 16 with 32-byte values, pipeline 16
# with 1 KiB values; connection churn (a new TLS connection per request: full TLS 1.3, resumed
# TLS 1.3, resumed TLS 1.2; server CPU per connection); and p99 with TLS GETs paced at 80% of
# the most redis-server reached at pipeline 1, the same rate for every server.
#
# Usage: scripts/compare.sh [-r REPEATS] [-T SECONDS] [-o DIR] [-q]
#   -r  repeats per workload (default 3)   -T  measured seconds per run (default 2; +1 warm-up)
#   -o  keep every run's JSON and the HTML reports here (default: a temporary directory)
#   -q  quick: 1 repeat of 1 second (for a smoke test)
# Bounded: about 8 minutes with the defaults (2 with -q); every run has its own time limit, and every
# process the script starts is stopped by PID on exit.
set -uo pipefail
cd "$(dirname "$0")/.."

REPEATS=3
SECS=2
OUT=
while getopts "r:T:o:q" o; do
  case $o in
    r) REPEATS=$OPTARG ;;
    T) SECS=$OPTARG ;;
    o) OUT=$OPTARG ;;
    q) REPEATS=1; SECS=1 ;;
    *) sed -n '2,26p' "$0"; exit 2 ;;
  esac
done

command -v taskset >/dev/null || { echo "needs taskset (util-linux)"; exit 1; }
cargo build --release -q || exit 1
BIN=$PWD/target/release/cachet
. scripts/lib.sh
[ -n "$OUT" ] || OUT=$WORK/out
mkdir -p "$OUT"
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
  mkdir -p "$WORK/$1"
  taskset -c 0 "$2" --port "$p" --tls-port "$t" --tls-cert-file "$WORK/certs/server.crt" \
    --tls-key-file "$WORK/certs/server.key" --tls-ca-cert-file "$CA" --tls-auth-clients no \
    --save "" --appendonly no --daemonize no --dir "$WORK/$1" --logfile "$WORK/$1.log" &
  PID[$1]=$!; PIDS+=($!); PLAIN[$1]=$p; TLS[$1]=$t
  wait_port "$t"
}

SERVERS=(cachet)
start_cachet
if command -v redis-server >/dev/null; then start_redislike redis redis-server; SERVERS+=(redis); fi
if command -v valkey-server >/dev/null; then start_redislike valkey valkey-server; SERVERS+=(valkey); fi
echo "servers: ${SERVERS[*]} (core 0); load: cachet bench on core 1; $REPEATS x ${SECS}s per workload"

RESULTS=$WORK/results.tsv
: > "$RESULTS"
KEYS=(--key-prefix "memtier:k" --key-minimum 1000000 --key-maximum 1099999)

# endpoint SERVER TLS(yes|no): sets PORT and TLSARGS (the flags every generator here takes).
endpoint() {
  PORT=${PLAIN[$1]}; TLSARGS=()
  if [ "$2" = yes ]; then PORT=${TLS[$1]}; TLSARGS=(--tls --cacert "$CA" --sni localhost); fi
}

# bench SERVER WORKLOAD-NAME TLS(yes|no) REPEAT [cachet bench flags...]: one run, one TSV line.
bench() {
  local s=$1 name=$2 tls=$3 rep=$4; shift 4
  endpoint "$s" "$tls"
  local json="$OUT/$s-${name// /_}-$rep.json"
  timeout $((SECS + 60)) taskset -c 1 "$BIN" bench -s 127.0.0.1 -p "$PORT" "${TLSARGS[@]}" -t 1 -c 50 \
    "${KEYS[@]}" --warmup 1 --test-time "$SECS" --server-pid "${PID[$s]}" --hide-progress \
    --run-label "$s $name" --json-out-file "$json" "$@" >/dev/null 2>"$WORK/bench.err" \
    || { echo "  $s $name: cachet bench failed: $(tail -1 "$WORK/bench.err")"; return 1; }
  python3 - "$json" "$s" "$name" >>"$RESULTS" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["runs"][0]["totals"]
cpu = r.get("server_cpu") or {}
errs = sum(r["errors"].values())
print("\t".join(str(x) for x in [sys.argv[2], sys.argv[3], r["ops_per_sec"], r["latency_ms"]["p99"],
      cpu.get("us_per_request", 0), cpu.get("us_per_connection") or 0, errs]))
PY
}

# Persistent connections.
WORKLOADS=()
for tls in yes no; do
  for wl in "1 32" "16 32" "16 1024"; do
    read -r pipe size <<<"$wl"
    for op in SET GET; do
      WORKLOADS+=("$tls $op $pipe $size")
    done
  done
done
for rep in $(seq 1 "$REPEATS"); do
  for w in "${WORKLOADS[@]}"; do
    read -r tls op pipe size <<<"$w"
    name="$([ "$tls" = yes ] && echo TLS || echo plain) $op P$pipe ${size}B"
    ratio=1:0; [ "$op" = GET ] && ratio=0:1
    for s in "${SERVERS[@]}"; do
      bench "$s" "$name" "$tls" "$rep" --pipeline "$pipe" -d "$size" --ratio "$ratio"
    done
  done
  # Churn: one request per connection. The plaintext row is the connection without TLS
  # (TCP setup and teardown, one GET); TLS rows minus it are the handshake's own CPU.
  for s in "${SERVERS[@]}"; do
    bench "$s" "churn plain TCP" no "$rep" --reconnect-interval 1 --ratio 0:1
  done
  for churn in "full TLS1.3:no:TLSv1.3" "resumed TLS1.3:yes:TLSv1.3" "resumed TLS1.2:yes:TLSv1.2"; do
    IFS=: read -r label resume proto <<<"$churn"
    for s in "${SERVERS[@]}"; do
      bench "$s" "churn $label" yes "$rep" --reconnect-interval 1 --tls-resume "$resume" \
        --tls-protocols "$proto" --ratio 0:1
    done
  done
done

median() { # SERVER WORKLOAD COLUMN(3=ops 4=p99 5=cpu/req 6=cpu/conn)
  awk -F'\t' -v s="$1" -v w="$2" -v c="$3" '$1 == s && $2 == w {print $c}' "$RESULTS" | sort -g |
    awk '{v[NR] = $1} END {if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}

# Fixed-rate latency: 80% of the most redis-server reached with TLS GETs at pipeline 1.
if [ -n "${PID[redis]:-}" ]; then
  RATE=$(awk -v m="$(median redis "TLS GET P1 32B" 3)" 'BEGIN {printf "%d", m * 0.8}')
  if [ "$RATE" -gt 0 ]; then
    for rep in $(seq 1 "$REPEATS"); do
      for s in "${SERVERS[@]}"; do
        bench "$s" "TLS GET P1 rate ${RATE}" yes "$rep" --ratio 0:1 --rate "$RATE"
      done
    done
  fi
fi

# redis-benchmark on the same persistent workloads, once each (CPU per request by /proc).
RB=$WORK/redis-benchmark.tsv
: > "$RB"
if command -v redis-benchmark >/dev/null; then
  for tls in yes no; do
    for pipe in 1 16; do
      for op in set get; do
        n=$((pipe == 1 ? 200000 : 1500000))
        name="$([ "$tls" = yes ] && echo TLS || echo plain) ${op^^} P$pipe 32B"
        for s in "${SERVERS[@]}"; do
          endpoint "$s" "$tls"
          before=$(cpu_ticks "${PID[$s]}")
          ops=$(timeout 120 taskset -c 1 redis-benchmark "${TLSARGS[@]}" -h localhost -p "$PORT" -t "$op" \
                -n "$n" -c 50 -P "$pipe" -d 32 -r 100000 -q 2>&1 | tr '\r' '\n' |
                awk '/requests per second/ {v = $2} END {print v + 0}')
          after=$(cpu_ticks "${PID[$s]}")
          awk -v s="$s" -v w="$name" -v o="$ops" -v b="$before" -v a="$after" -v n="$n" -v t="$TICK" \
            'BEGIN {printf "%s\t%s\t%s\t%.3f\n", s, w, o, (a - b) / t * 1e6 / n}' >>"$RB"
        done
      done
    done
  done
fi
# memtier_benchmark too when installed (not in Debian 12; cachet bench takes the same flags).
if command -v memtier_benchmark >/dev/null; then
  for tls in yes no; do
    for pipe in 1 16; do
      for op in SET GET; do
        name="$([ "$tls" = yes ] && echo TLS || echo plain) $op P$pipe 32B"
        ratio=1:0; [ "$op" = GET ] && ratio=0:1
        for s in "${SERVERS[@]}"; do
          endpoint "$s" "$tls"
          json=$WORK/memtier.json
          before=$(cpu_ticks "${PID[$s]}")
          timeout $((SECS + 60)) taskset -c 1 memtier_benchmark -s 127.0.0.1 -p "$PORT" "${TLSARGS[@]}" \
            -t 1 -c 50 --pipeline "$pipe" --ratio "$ratio" -d 32 "${KEYS[@]}" --test-time "$SECS" \
            --hide-histogram --json-out-file "$json" >/dev/null 2>&1
          after=$(cpu_ticks "${PID[$s]}")
          python3 - "$json" "$s" "memtier $name" "$before" "$after" "$TICK" "$SECS" >>"$RB" <<'PY'
import json, sys
try:
    t = json.load(open(sys.argv[1]))["ALL STATS"]["Totals"]
except Exception:
    sys.exit(0)
ops = t["Ops/sec"]
n = t.get("Count") or ops * float(sys.argv[7])
cpu = (int(sys.argv[5]) - int(sys.argv[4])) / float(sys.argv[6]) * 1e6 / max(n, 1)
print(f"{sys.argv[2]}\t{sys.argv[3]}\t{ops}\t{cpu:.3f}")
PY
        done
      done
    done
  done
fi

# The table.
ref=${SERVERS[1]:-}
printf '\n%-30s' "cachet bench (median of $REPEATS)"
for s in "${SERVERS[@]}"; do printf '%28s' "$s ops/s  p99ms  us/req"; done
[ -n "$ref" ] && printf '%12s%12s' "CPU c/$ref" "p99 c/$ref"
echo
mapfile -t NAMES < <(awk -F'\t' '!seen[$2]++ {print $2}' "$RESULTS")
for name in "${NAMES[@]}"; do
  printf '%-30s' "$name"
  declare -A CPU=() P99=()
  for s in "${SERVERS[@]}"; do
    ops=$(median "$s" "$name" 3); p99=$(median "$s" "$name" 4)
    if [[ $name == churn* ]]; then cpu=$(median "$s" "$name" 6); else cpu=$(median "$s" "$name" 5); fi
    CPU[$s]=$cpu; P99[$s]=$p99
    printf '%12.0f %6.3f %8.2f' "$ops" "$p99" "$cpu"
  done
  if [ -n "$ref" ]; then
    awk -v c="${CPU[cachet]}" -v r="${CPU[$ref]}" -v pc="${P99[cachet]}" -v pr="${P99[$ref]}" \
      'BEGIN {printf "%12.2f%12.2f", (r > 0 ? c / r : 0), (pr > 0 ? pc / pr : 0)}'
  fi
  echo
done
echo "(churn rows: us/req is server CPU per connection: TCP, handshake and one GET)"
printf '\n%-30s' "handshake CPU (TLS - plain churn)"
for s in "${SERVERS[@]}"; do printf '%14s' "$s us"; done
echo
for label in "full TLS1.3" "resumed TLS1.3" "resumed TLS1.2"; do
  printf '%-30s' "$label"
  for s in "${SERVERS[@]}"; do
    awk -v t="$(median "$s" "churn $label" 6)" -v p="$(median "$s" "churn plain TCP" 6)" 'BEGIN {printf "%14.1f", t - p}'
  done
  echo
done
if [ -s "$RB" ]; then
  printf '\n%-30s' "redis-benchmark/memtier (1 run)"
  for s in "${SERVERS[@]}"; do printf '%22s' "$s ops/s  us/req"; done
  [ -n "$ref" ] && printf '%12s' "CPU c/$ref"
  echo
  mapfile -t RBN < <(awk -F'\t' '!seen[$2]++ {print $2}' "$RB")
  for name in "${RBN[@]}"; do
    printf '%-30s' "$name"
    declare -A C2=()
    for s in "${SERVERS[@]}"; do
      read -r ops cpu < <(awk -F'\t' -v s="$s" -v w="$name" '$1 == s && $2 == w {print $3, $4}' "$RB")
      C2[$s]=$cpu
      printf '%13.0f %8.2f' "$ops" "$cpu"
    done
    [ -n "$ref" ] && awk -v c="${C2[cachet]}" -v r="${C2[$ref]}" 'BEGIN {printf "%12.2f", (r > 0 ? c / r : 0)}'
    echo
  done
fi
errors=$(awk -F'\t' '{e += $7} END {print e + 0}' "$RESULTS")
echo
echo "errors in all cachet bench runs: $errors"
# Reports: the fixed-rate runs (latency curves), and TLS GET P16 32B.
for pat in "TLS_GET_P1_rate" "TLS_GET_P16_32B"; do
  files=("$OUT"/*-"$pat"*-1.json)
  [ -e "${files[0]}" ] && "$BIN" report "${files[@]}" -o "$OUT/report-$pat.html" 2>/dev/null
done
[ "$OUT" != "$WORK/out" ] && echo "JSON and HTML reports in $OUT"
[ "$errors" -eq 0 ]
