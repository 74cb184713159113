#!/usr/bin/env python3
"""Replication over TLS, cachet against redis-server, in the same run.

For each server: a primary pinned to core 0 and a replica pinned to core 1, linked over TLS
(`tls-replication yes`, verified, same certificates). redis-benchmark (core 1, beside the
replica) writes SETs over TLS to the primary as fast as it can (-P 16, 50 connections). While
it runs, the primary's master_repl_offset and the replica's acknowledged offset are sampled
every 50 ms: the difference is the replica's lag in bytes. After the load, the time the replica
needs to catch up is measured. Reported per server:

- writes/s the primary took, and writes/s the replica applied (writes / (load + catch-up));
- lag during the load (median and max, bytes) and the catch-up time;
- CPU time per replicated write on the replica and on the primary (utime+stime from /proc).

Bounded: a fixed request count, timeouts on every wait; stops only what it started.
Usage: scripts/repl_bench.py [-n REQUESTS]
"""
import argparse, os, shutil, signal, socket, statistics, subprocess, sys, tempfile, time

import redis

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TICK = os.sysconf("SC_CLK_TCK")
RATE = 20_000


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def cpu(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / TICK


def client(port, certs):
    return redis.Redis(host="localhost", port=port, ssl=True, ssl_ca_certs=f"{certs}/ca.crt",
                       ssl_certfile=f"{certs}/client.crt", ssl_keyfile=f"{certs}/client.key")


def wait_for(what, f, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        try:
            if f():
                return
        except (redis.exceptions.ConnectionError, redis.exceptions.BusyLoadingError, OSError):
            pass
        time.sleep(0.05)
    raise SystemExit(f"timed out waiting for {what}")


def start(kind, core, port, certs, work, replicaof=None):
    tls = ["--tls-cert-file", f"{certs}/server.crt", "--tls-key-file", f"{certs}/server.key",
           "--tls-ca-cert-file", f"{certs}/ca.crt"]
    if kind == "cachet":
        cmd = [f"{ROOT}/target/release/cachet", "serve", "--port", str(port), "--workers", "1",
               "--transit-encryption-mode", "required", "--tls-auth-clients", "yes", *tls]
    else:
        cmd = ["redis-server", "--port", "0", "--tls-port", str(port), "--save", "", "--appendonly", "no",
               "--dir", work, "--tls-auth-clients", "yes", *tls]
    if replicaof:
        cmd += ["--tls-replication", "yes", "--tls-client-cert-file", f"{certs}/client.crt",
                "--tls-client-key-file", f"{certs}/client.key", "--replicaof", f"127.0.0.1 {replicaof}"]
        if kind == "redis":
            cmd[-1:] = ["127.0.0.1", str(replicaof)]
    log = open(f"{work}/{kind}-{port}.log", "w")
    return subprocess.Popen(["taskset", "-c", str(core), *cmd], stdout=log, stderr=log)


def run(kind, n, certs, work):
    pp, rp = free_port(), free_port()
    procs = [start(kind, 0, pp, certs, work)]
    try:
        pc = client(pp, certs)
        wait_for("primary", pc.ping)
        procs.append(start(kind, 1, rp, certs, work, replicaof=pp))
        rc = client(rp, certs)
        wait_for("replica link", lambda: rc.info("replication")["master_link_status"] == "up")
        offset = lambda: pc.info("replication")["master_repl_offset"]
        acked = lambda: rc.info("replication")["slave_repl_offset"]
        cpu0 = [cpu(p.pid) for p in procs]
        bench = subprocess.Popen(
            ["taskset", "-c", "1", "redis-benchmark", "--tls", "--cacert", f"{certs}/ca.crt",
             "--cert", f"{certs}/client.crt", "--key", f"{certs}/client.key", "-h", "localhost",
             "-p", str(pp), "-t", "set", "-n", str(n), "-c", "50", "-P", "16", "-d", "32",
             "-r", "100000", "-q"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        t0 = time.time()
        lags = []
        while bench.poll() is None and time.time() - t0 < 300:
            lags.append(max(0, offset() - acked()))
            time.sleep(0.05)
        out = bench.communicate(timeout=60)[0]
        t_load = time.time() - t0
        target = offset()
        t1 = time.time()
        wait_for("replica catch-up", lambda: acked() >= target, timeout=120)
        t_catch = time.time() - t1
        cpu1 = [cpu(p.pid) for p in procs]
        if "requests per second" not in out:
            raise SystemExit(f"redis-benchmark failed: {out}")
        # Fixed rate: RATE writes/s for 3 s in batches every 10 ms, paced from the intended
        # start of each batch; the lag is sampled after each batch.
        per_batch = RATE // 100
        fixed = []
        start_t = time.time()
        for b in range(300):
            due = start_t + b * 0.01
            now = time.time()
            if due > now:
                time.sleep(due - now)
            p = pc.pipeline(transaction=False)
            for i in range(per_batch):
                p.set(f"rate:{i}", b)
            p.execute()
            fixed.append(max(0, offset() - acked()))
        achieved = 300 * per_batch / (time.time() - start_t)
        return {
            "rate_achieved": achieved,
            "rate_lag_median": statistics.median(fixed),
            "rate_lag_p99": sorted(fixed)[int(len(fixed) * 0.99) - 1],
            "primary_wps": n / t_load,
            "replica_wps": n / (t_load + t_catch),
            "lag_median": statistics.median(lags) if lags else 0,
            "lag_max": max(lags) if lags else 0,
            "catch_up_ms": t_catch * 1000,
            "primary_us": (cpu1[0] - cpu0[0]) / n * 1e6,
            "replica_us": (cpu1[1] - cpu0[1]) / n * 1e6,
        }
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=1_000_000)
    args = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "-q"], cwd=ROOT, check=True)
    work = tempfile.mkdtemp()
    try:
        certs = f"{work}/certs"
        subprocess.run([f"{ROOT}/target/release/cachet", "certs", "--out", certs], check=True,
                       stdout=subprocess.DEVNULL)
        kinds = ["cachet"] + (["redis"] if shutil.which("redis-server") else [])
        res = {k: run(k, args.n, certs, work) for k in kinds}
        print(f"replication over TLS, {args.n} SETs (32 B values, -P 16, 50 connections); "
              f"primary on core 0, replica and load on core 1")
        print(f"{'':24}" + "".join(f"{k:>14}" for k in kinds) + ("   cachet/redis" if len(kinds) == 2 else ""))
        rows = [("primary writes/s", "primary_wps", "{:14.0f}"), ("replica writes/s", "replica_wps", "{:14.0f}"),
                ("lag median (bytes)", "lag_median", "{:14.0f}"), ("lag max (bytes)", "lag_max", "{:14.0f}"),
                ("catch-up after load ms", "catch_up_ms", "{:14.1f}"),
                ("primary CPU us/write", "primary_us", "{:14.3f}"), ("replica CPU us/write", "replica_us", "{:14.3f}"),
                (f"fixed rate, writes/s", "rate_achieved", "{:14.0f}"),
                ("  lag median (bytes)", "rate_lag_median", "{:14.0f}"), ("  lag p99 (bytes)", "rate_lag_p99", "{:14.0f}")]
        for name, key, fmt in rows:
            line = f"{name:24}" + "".join(fmt.format(res[k][key]) for k in kinds)
            if len(kinds) == 2 and res["redis"][key]:
                line += f"{res['cachet'][key] / res['redis'][key]:15.2f}"
            print(line)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
