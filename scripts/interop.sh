#!/usr/bin/env bash
# Interoperability checks with real Redis clients against a real cachet node over TLS:
# redis-cli, redis-py (server authentication on, right and wrong CA) and a bounded
# redis-benchmark run. Installs what it needs (Debian's redis-tools, PyPI's redis).
# Prints "N passed, M failed" and exits non-zero on any failure. Stops only what it started.
set -uo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v redis-cli >/dev/null || need_apt+=(redis-tools)
command -v redis-server >/dev/null || need_apt+=(redis-server)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing ${need_apt[*]}"
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
python3 -c 'import redis' 2>/dev/null || python3 -m pip install -q redis

cargo build --release -q
BIN=target/release/cachet
. scripts/lib.sh

passed=0
failed=0
check() { # check NAME COMMAND...: runs the command, counts the result
  local name=$1; shift
  if "$@" >"$WORK/out" 2>&1; then
    passed=$((passed + 1)); echo "ok   $name"
  else
    failed=$((failed + 1)); echo "FAIL $name"; sed 's/^/     /' "$WORK/out" | head -20
  fi
}

# start_node NAME ARGS...: starts cachet on a free port; sets PORT and CERTS.
start_node() {
  local name=$1; shift
  CERTS="$WORK/$name-certs"
  "$BIN" serve --port 0 --tls-dev-dir "$CERTS" "$@" 2>"$WORK/$name.log" &
  PIDS+=($!)
  NODE_PID=$!
  for _ in $(seq 1 100); do
    PORT=$(grep -o 'ready to accept connections port=[0-9]*' "$WORK/$name.log" | grep -o '[0-9]*$' || true)
    [ -n "$PORT" ] && return 0
    sleep 0.1
  done
  echo "node $name did not start:"; cat "$WORK/$name.log"; exit 1
}

expect_eq() { # expect_eq WANT COMMAND...
  local want=$1; shift
  local got; got=$("$@" 2>&1)
  [ "$got" = "$want" ] || { echo "want: $want"; echo "got:  $got"; return 1; }
}

for backend in uring epoll; do
  start_node "$backend" --io-backend "$backend"
  CLI=(redis-cli --tls --cacert "$CERTS/ca.crt" -h localhost -p "$PORT")
  check "[$backend] redis-cli --tls SET" expect_eq OK "${CLI[@]}" SET interop:key "hello tls"
  check "[$backend] redis-cli --tls GET" expect_eq "hello tls" "${CLI[@]}" GET interop:key
  check "[$backend] redis-cli --tls INCR" expect_eq 1 "${CLI[@]}" INCR interop:n
  check "[$backend] redis-cli plaintext is refused" bash -c \
    "redis-cli -p $PORT PING 2>&1 | grep -q 'TLS is required'"
  check "[$backend] redis-py ssl round trip" python3 - "$PORT" "$CERTS/ca.crt" <<'PY'
import sys, redis
port, ca = int(sys.argv[1]), sys.argv[2]
r = redis.Redis(host="localhost", port=port, ssl=True, ssl_ca_certs=ca, ssl_cert_reqs="required")
assert r.set("py:key", b"\x00\x01binary\xff") is True
assert r.get("py:key") == b"\x00\x01binary\xff"
assert r.incrby("py:n", 41) == 41
assert r.mget("py:key", "py:missing") == [b"\x00\x01binary\xff", None]
p = r.pipeline(transaction=False)
for i in range(100):
    p.set(f"py:{i}", i)
assert all(p.execute())
assert r.dbsize() >= 101
# redis-py pipelines are transactions (MULTI/EXEC) by default.
with r.pipeline() as p:
    p.set("py:tx", 1).incr("py:tx").get("py:tx")
    assert p.execute() == [True, 2, b"2"]
# The WATCH/retry idiom.
def add_one(pipe):
    v = int(pipe.get("py:tx"))
    pipe.multi()
    pipe.set("py:tx", v + 1)
r.transaction(add_one, "py:tx")
assert r.get("py:tx") == b"3"
# Pub/sub through redis-py's API, over TLS.
ps = r.pubsub()
ps.subscribe("py:chan")
assert ps.get_message(timeout=5)["type"] == "subscribe"
assert r.publish("py:chan", b"hello") == 1
msg = ps.get_message(timeout=5)
assert msg and msg["type"] == "message" and msg["data"] == b"hello", msg
ps.close()
PY
  check "[$backend] redis-py refuses a server from another CA" python3 - "$PORT" "$WORK" "$BIN" <<'PY'
import subprocess, sys, redis
port, work, binary = int(sys.argv[1]), sys.argv[2], sys.argv[3]
subprocess.run([binary, "certs", "--out", f"{work}/other"], check=True, capture_output=True)
r = redis.Redis(host="localhost", port=port, ssl=True, ssl_ca_certs=f"{work}/other/ca.crt")
try:
    r.ping()
except redis.exceptions.ConnectionError as e:
    assert "certificate verify failed" in str(e), e
else:
    raise SystemExit("connected to a server signed by an untrusted CA")
PY
  check "[$backend] redis-benchmark --tls -P 16 completes without errors" bash -c "
    out=\$(timeout 120 redis-benchmark --tls --cacert '$CERTS/ca.crt' -h localhost -p $PORT \
            -t set,get -n 200000 -c 50 -P 16 -d 32 -q 2>&1)
    echo \"\$out\"
    echo \"\$out\" | grep -q 'SET: [0-9.]* requests per second' &&
    echo \"\$out\" | grep -q 'GET: [0-9.]* requests per second' &&
    ! echo \"\$out\" | grep -qiE 'error|warning'"
  kill "$NODE_PID"; wait "$NODE_PID"; status=$?
  check "[$backend] SIGTERM stops the node with exit 0" test "$status" -eq 0
done

# Mutual TLS with redis-cli's client certificate options.
start_node mtls --tls-auth-clients yes
check "[mtls] redis-cli with the client certificate" expect_eq PONG \
  redis-cli --tls --cacert "$CERTS/ca.crt" --cert "$CERTS/client.crt" --key "$CERTS/client.key" -h localhost -p "$PORT" PING
check "[mtls] redis-cli without a certificate is refused" bash -c \
  "! redis-cli --tls --cacert '$CERTS/ca.crt' -h localhost -p $PORT PING 2>/dev/null | grep -q PONG"

# Differential conformance: the same commands to cachet and to redis-server, bytes compared.
RPORT=$(free_port)
redis-server --port "$RPORT" --save "" --appendonly no --daemonize no --logfile "$WORK/redis.log" --dir "$WORK" \
  --enable-debug-command yes &
PIDS+=($!)
start_node diff --transit-encryption-mode disabled --enable-debug-command yes
for _ in $(seq 1 50); do redis-cli -p "$RPORT" PING >/dev/null 2>&1 && break; sleep 0.1; done
check "replies byte for byte equal to redis-server $(redis-server --version | grep -o 'v=[0-9.]*')" \
  python3 scripts/differential.py "$PORT" "$RPORT"

# A backup with redis-cli --tls --rdb: redis-check-rdb accepts the file, and a real
# redis-server that loads it holds the same data (DEBUG DIGEST equal to the node's).
start_node rdb --enable-debug-command yes
python3 - "$PORT" "$CERTS" <<'PY'
import sys, redis
r = redis.Redis(host="localhost", port=int(sys.argv[1]), ssl=True, ssl_ca_certs=f"{sys.argv[2]}/ca.crt")
r.set("s", "hello"); r.set("n", 12345); r.set("ttl", "v", ex=100000)
r.rpush("l", *[f"i{i}" for i in range(1000)]); r.sadd("si", 1, 2, 3); r.sadd("ss", "a", "b")
r.zadd("z", {"a": 1.5, "b": 2}); r.zadd("bz", {f"m{i}": i / 3 for i in range(300)})
r.hset("h", mapping={"f": "v"}); r.hset("bh", mapping={f"f{i}": "x" * i for i in range(200)})
r.execute_command("SELECT", 4); r.set("other", "db4")
PY
check "[rdb] redis-cli --tls --rdb takes a backup of a cachet node" \
  redis-cli --tls --cacert "$CERTS/ca.crt" -h localhost -p "$PORT" --rdb "$WORK/backup.rdb"
check "[rdb] redis-check-rdb accepts cachet's snapshot" redis-check-rdb "$WORK/backup.rdb"
mkdir -p "$WORK/rload" && cp "$WORK/backup.rdb" "$WORK/rload/dump.rdb"
LPORT=$(free_port)
redis-server --port "$LPORT" --dir "$WORK/rload" --dbfilename dump.rdb --appendonly no --daemonize no \
  --enable-debug-command yes --logfile "$WORK/rload.log" &
PIDS+=($!)
for _ in $(seq 1 50); do redis-cli -p "$LPORT" PING >/dev/null 2>&1 && break; sleep 0.1; done
CDIGEST=$(redis-cli --tls --cacert "$CERTS/ca.crt" -h localhost -p "$PORT" DEBUG DIGEST)
check "[rdb] redis-server loading the backup has the node's DEBUG DIGEST ($CDIGEST)" \
  expect_eq "$CDIGEST" redis-cli -p "$LPORT" DEBUG DIGEST

# A real redis-server replicating from a cachet primary over mutual TLS: it loads cachet's
# snapshot, applies the stream under a write load, acknowledges (WAIT), and ends with the
# primary's DEBUG DIGEST.
start_node repl --tls-auth-clients yes --enable-debug-command yes
PRIMARY_PORT=$PORT
RCERTS=$CERTS
ptls=(--tls --cacert "$RCERTS/ca.crt" --cert "$RCERTS/client.crt" --key "$RCERTS/client.key" -h localhost)
python3 - "$PRIMARY_PORT" "$RCERTS" 0 <<'PY'
import sys, redis
port, certs, round_ = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
r = redis.Redis(host="localhost", port=port, ssl=True, ssl_ca_certs=f"{certs}/ca.crt",
                ssl_certfile=f"{certs}/client.crt", ssl_keyfile=f"{certs}/client.key")
r.set("s", "hello"); r.rpush("l", *range(500)); r.sadd("si", 1, 2, 3); r.hset("h", mapping={"f": "v"})
r.zadd("z", {f"m{i}": i / 7 for i in range(200)}); r.set("ttl", "v", ex=100000)
PY
RRPORT=$(free_port)
# --dir: a Redis replica writes the snapshot it receives to disk; keep it out of the checkout.
redis-server --port 0 --tls-port "$RRPORT" --save "" --appendonly no --daemonize no --dir "$WORK" \
  --tls-cert-file "$RCERTS/server.crt" --tls-key-file "$RCERTS/server.key" --tls-ca-cert-file "$RCERTS/ca.crt" \
  --tls-client-cert-file "$RCERTS/client.crt" --tls-client-key-file "$RCERTS/client.key" \
  --tls-replication yes --replicaof 127.0.0.1 "$PRIMARY_PORT" --enable-debug-command yes \
  --logfile "$WORK/redis-replica.log" &
PIDS+=($!)
link_up() {
  for _ in $(seq 1 200); do
    redis-cli "${ptls[@]}" -p "$RRPORT" INFO replication 2>/dev/null | grep -q 'master_link_status:up' && return 0
    sleep 0.1
  done
  cat "$WORK/redis-replica.log"; return 1
}
check "[repl] redis-server --tls-replication yes syncs from a cachet primary over mutual TLS" link_up
python3 - "$PRIMARY_PORT" "$RCERTS" <<'PY'
import sys, redis
port, certs = int(sys.argv[1]), sys.argv[2]
r = redis.Redis(host="localhost", port=port, ssl=True, ssl_ca_certs=f"{certs}/ca.crt",
                ssl_certfile=f"{certs}/client.crt", ssl_keyfile=f"{certs}/client.key")
for round_ in range(20):
    p = r.pipeline(transaction=False)
    for i in range(200):
        p.incr(f"ctr{i % 5}"); p.lpush(f"list{i % 3}", i); p.hincrbyfloat("hf", f"f{i % 4}", 0.1)
        p.incrbyfloat("fl", 1.1); p.sadd("pool", i); p.set(f"k{i % 37}", i, ex=500); p.expire(f"k{i % 37}", 600)
        if i % 10 == 0:
            p.spop("pool"); p.rpop(f"list{i % 3}"); p.delete(f"k{(i + 7) % 37}")
    p.execute()
    t = r.pipeline(transaction=True); t.incr("tx"); t.lpush("txl", round_); t.execute()
PY
check "[repl] WAIT 1 counts the Redis replica's acknowledgement" expect_eq 1 \
  redis-cli "${ptls[@]}" -p "$PRIMARY_PORT" WAIT 1 10000
PDIGEST=$(redis-cli "${ptls[@]}" -p "$PRIMARY_PORT" DEBUG DIGEST)
check "[repl] the Redis replica's DEBUG DIGEST equals the cachet primary's ($PDIGEST)" \
  expect_eq "$PDIGEST" redis-cli "${ptls[@]}" -p "$RRPORT" DEBUG DIGEST

echo "interop: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
