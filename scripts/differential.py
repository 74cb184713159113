#!/usr/bin/env python3
"""Differential conformance: the same commands to cachet and to a real redis-server, raw reply
bytes compared. Usage: differential.py CACHET_PORT REDIS_PORT. Prints "differential: N passed,
M failed" and exits non-zero on any difference.

Only deterministic commands are listed (no RANDOMKEY, SCAN cursors, INFO, CLIENT ID, TIME, and
no PTTL of a live key: a millisecond may pass between the two servers' replies);
KEYS replies are compared as sets."""
import socket
import sys


def encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line + b"\r\n"

    def _exact(self, n):
        while len(self.buf) < n:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def reply(self):
        """One whole reply, as raw bytes."""
        line = self._line()
        kind, rest = line[:1], line[1:-2]
        if kind in b"+-:_#,(":
            return line
        if kind in b"$=!":
            n = int(rest)
            return line if n < 0 else line + self._exact(n + 2)
        if kind in b"*~>%":
            n = int(rest)
            if kind == b"%":
                n *= 2
            return line + b"".join(self.reply() for _ in range(max(n, 0)))
        raise ValueError(f"unexpected reply {line!r}")

    def call(self, *args):
        self.s.sendall(encode(args))
        return self.reply()


def pairs(raw):
    """A flat array reply of name/value pairs (CONFIG GET), as a sorted list of pairs: Redis
    orders them by its internal config dictionary, which clients do not rely on."""
    items = raw.split(b"\r\n")[2::2]
    return sorted(zip(items[0::2], items[1::2]))


def split_array(raw):
    """Elements of a flat array reply of bulk strings, for order-free comparison."""
    lines = raw.split(b"\r\n")
    return sorted(lines[2::2])


class U(list):
    """A case whose reply order Redis does not define (hash-table order): compared as the
    multiset of its lines."""


CASES = [
    # strings
    ["SET", "k", "v"], ["GET", "k"], ["GET", "missing"], ["SET", "k", "v", "NX"], ["SET", "k", "w", "XX", "GET"],
    ["SET", "k", "v", "EX", "0"], ["SET", "k", "v", "EX", "x"], ["SET", "k", "v", "NX", "XX"], ["SET", "k", "v", "KEEPTTL", "EX", "1"],
    ["SET", "k", "v", "FOO"], ["SET", "n", "10"], ["INCR", "n"], ["INCRBY", "n", "-20"], ["DECR", "n"], ["DECRBY", "n", "5"],
    ["INCR", "k"], ["INCRBY", "n", "x"], ["SET", "big", "9223372036854775807"], ["INCR", "big"], ["DECRBY", "n", "-9223372036854775808"],
    ["APPEND", "a", "Hello"], ["APPEND", "a", " World"], ["STRLEN", "a"], ["STRLEN", "n"], ["APPEND", "n", "0"], ["GET", "n"],
    ["GETRANGE", "a", "0", "3"], ["GETRANGE", "a", "-3", "-1"], ["GETRANGE", "a", "0", "-1"], ["GETRANGE", "a", "10", "100"],
    ["GETRANGE", "a", "5", "3"], ["GETRANGE", "a", "-1", "-5"], ["GETRANGE", "a", "-100", "2"], ["GETRANGE", "none", "0", "-1"],
    ["GETRANGE", "a", "x", "1"], ["SETRANGE", "a", "6", "Redis"], ["GET", "a"], ["SETRANGE", "s2", "3", "ab"], ["GET", "s2"],
    ["SETRANGE", "s3", "0", ""], ["EXISTS", "s3"], ["SETRANGE", "a", "-1", "x"], ["SETRANGE", "a", "2", ""],
    ["GETSET", "gs", "1"], ["GETSET", "gs", "2"], ["GETDEL", "gs"], ["GETDEL", "gs"], ["SETNX", "nx", "1"], ["SETNX", "nx", "2"],
    ["SETEX", "se", "100", "v"], ["TTL", "se"], ["SETEX", "se", "0", "v"], ["SETEX", "se", "-5", "v"], ["PSETEX", "pe", "100000", "v"],
    ["TTL", "pe"], ["GETEX", "se", "PERSIST"], ["TTL", "se"], ["GETEX", "se", "EX", "50"], ["TTL", "se"], ["GETEX", "se", "EX", "1", "PX", "1"],
    ["GETEX", "se", "FOO"], ["GETEX", "nope"], ["GETEX", "se", "EXAT", "1"], ["EXISTS", "se"],
    ["MSET", "m1", "1", "m2", "2"], ["MGET", "m1", "m2", "m3"], ["MSET", "m1"], ["MSETNX", "m3", "3", "m4", "4"], ["MSETNX", "m4", "5", "m5", "5"],
    ["MGET", "m4", "m5"], ["SET", "f", "10.50"], ["INCRBYFLOAT", "f", "0.1"], ["INCRBYFLOAT", "f", "-5"], ["SET", "f", "5.0e3"],
    ["INCRBYFLOAT", "f", "2.0e2"], ["INCRBYFLOAT", "f", "abc"], ["INCRBYFLOAT", "a", "1"], ["INCRBYFLOAT", "newf", "3"],
    # keys
    ["DEL", "m1", "m2", "nokey"], ["EXISTS", "m3", "m3", "nokey"], ["TYPE", "m3"], ["TYPE", "nokey"], ["RENAME", "m3", "m3b"],
    ["GET", "m3b"], ["RENAME", "nokey", "x"], ["RENAMENX", "m3b", "m4"], ["RENAMENX", "m3b", "m3c"], ["RENAME", "m3c", "m3c"],
    ["EXPIRE", "m3c", "100"], ["TTL", "m3c"], ["EXPIRE", "m3c", "50", "GT"], ["EXPIRE", "m3c", "50", "LT"], ["EXPIRE", "m3c", "50", "NX"],
    ["EXPIRE", "m3c", "50", "XX"], ["EXPIRE", "m3c", "50", "NX", "XX"], ["EXPIRE", "m3c", "50", "GT", "LT"], ["EXPIRE", "m3c", "50", "FOO"],
    ["EXPIRE", "m3c", "x"], ["PERSIST", "m3c"], ["PERSIST", "m3c"], ["TTL", "m3c"], ["PTTL", "nokey"], ["EXPIREAT", "m3c", "4102444800"],
    ["EXPIRETIME", "m3c"], ["PEXPIRETIME", "m3c"], ["EXPIRETIME", "m4"], ["EXPIRETIME", "nokey"], ["PEXPIREAT", "m3c", "1"],
    ["EXISTS", "m3c"], ["EXPIRE", "m4", "-1"], ["EXISTS", "m4"], ["TOUCH", "m5", "nokey", "m5"], ["SET", "dolly", "sheep"],
    ["COPY", "dolly", "clone"], ["COPY", "dolly", "clone"], ["COPY", "dolly", "clone", "REPLACE"], ["COPY", "dolly", "dolly"],
    ["COPY", "dolly", "x", "DB", "99"], ["COPY", "dolly", "x", "FOO"], ["COPY", "nokey", "x"], ["MOVE", "clone", "2"], ["MOVE", "dolly", "0"],
    ["MOVE", "dolly", "99"], ["MOVE", "nokey", "2"], ["SELECT", "2"], ["GET", "clone"], ["SWAPDB", "2", "3"], ["EXISTS", "clone"],
    ["SWAPDB", "x", "1"], ["SWAPDB", "1", "x"], ["SWAPDB", "1", "99"], ["SELECT", "0"], ["SET", "n", "123"], ["OBJECT", "ENCODING", "n"],
    ["OBJECT", "ENCODING", "dolly"], ["SET", "long", "x" * 60], ["OBJECT", "ENCODING", "long"], ["OBJECT", "ENCODING", "nokey"],
    ["OBJECT", "REFCOUNT", "n"], ["OBJECT", "REFCOUNT", "long"], ["SELECT", "16"], ["SELECT", "x"],
    # hashes (small ones keep insertion order, as Redis's listpack does)
    ["HSET", "h", "f1", "v1", "f2", "v2"], ["HSET", "h", "f1", "x", "f3", "v3"], ["HSET", "h", "f1"], ["HGET", "h", "f1"],
    ["HGET", "h", "nope"], ["HGET", "nokey", "f"], ["HMGET", "h", "f1", "nope", "f3"], ["HMGET", "nokey", "a", "b"],
    ["HGETALL", "h"], ["HKEYS", "h"], ["HVALS", "h"], ["HGETALL", "nokey"], ["HLEN", "h"], ["HLEN", "nokey"],
    ["HSTRLEN", "h", "f2"], ["HSTRLEN", "h", "nope"], ["HEXISTS", "h", "f2"], ["HEXISTS", "h", "nope"], ["HSETNX", "h", "f2", "z"],
    ["HSETNX", "h", "f4", "z"], ["HMSET", "h", "f5", "5", "f6", "6"], ["HMSET", "h", "f5"], ["HDEL", "h", "f2", "nope", "f4"],
    ["HGETALL", "h"], ["HINCRBY", "h", "f5", "10"], ["HINCRBY", "h", "f1", "1"], ["HINCRBY", "h", "f5", "x"],
    ["HINCRBY", "h", "f9", "-3"], ["HSET", "h", "big", "9223372036854775807"], ["HINCRBY", "h", "big", "1"],
    ["HINCRBYFLOAT", "h", "fl", "10.5"], ["HINCRBYFLOAT", "h", "fl", "0.1"], ["HINCRBYFLOAT", "h", "f1", "1"],
    ["HINCRBYFLOAT", "h", "fl", "x"], ["HGETALL", "h"], ["TYPE", "h"], ["OBJECT", "ENCODING", "h"],
    ["HRANDFIELD", "nokey"], ["HRANDFIELD", "nokey", "3"], ["HRANDFIELD", "h", "0"], ["HRANDFIELD", "h", "100"],
    ["HRANDFIELD", "h", "100", "WITHVALUES"], ["HRANDFIELD", "h", "1", "FOO"], ["HRANDFIELD", "h", "x"],
    ["HSCAN", "h", "0"], ["HSCAN", "h", "0", "MATCH", "f*"], ["HSCAN", "h", "x"], ["HSCAN", "nokey", "0"],
    ["HDEL", "h", "f1", "f3", "f5", "f6", "f9", "big", "fl"], ["EXISTS", "h"], ["HDEL", "nokey", "f"],
    ["HSET", "hl", "f", "x" * 65], ["OBJECT", "ENCODING", "hl"], ["CONFIG", "SET", "hash-max-listpack-entries", "2"],
    ["HSET", "h2", "a", "1", "b", "2"], ["OBJECT", "ENCODING", "h2"], ["HSET", "h2", "c", "3"], ["OBJECT", "ENCODING", "h2"],
    ["CONFIG", "SET", "hash-max-listpack-entries", "128"],
    # wrong types
    ["SET", "str", "v"], ["HSET", "hh", "f", "v"], ["GET", "hh"], ["HGET", "str", "f"], ["HSET", "str", "f", "v"], ["INCR", "hh"],
    ["APPEND", "hh", "x"], ["STRLEN", "hh"], ["GETRANGE", "hh", "0", "1"], ["SETRANGE", "hh", "0", "x"], ["GETSET", "hh", "x"],
    ["GETDEL", "hh"], ["GETEX", "hh"], ["INCRBYFLOAT", "hh", "1"], ["MGET", "str", "hh"], ["SET", "hh", "v", "GET"],
    ["HLEN", "str"], ["HGETALL", "str"], ["HDEL", "str", "f"], ["HINCRBY", "str", "f", "1"], ["TYPE", "hh"], ["RENAME", "hh", "hh2"],
    ["HGET", "hh2", "f"], ["COPY", "hh2", "hh3"], ["HGETALL", "hh3"], ["SET", "hh3", "plain"], ["GET", "hh3"],
    # sets: integer sets come back sorted (intset), others are compared without order
    ["SADD", "s1", "3", "1", "2", "1"], ["SMEMBERS", "s1"], ["SADD", "s1", "10"], ["SCARD", "s1"], ["SISMEMBER", "s1", "2"],
    ["SISMEMBER", "s1", "02"], ["SMISMEMBER", "s1", "1", "9", "3"], ["SMISMEMBER", "nokey", "1"], ["OBJECT", "ENCODING", "s1"],
    ["SREM", "s1", "10", "99"], ["SMEMBERS", "s1"], ["SADD", "s2", "2", "3", "4"], ["SINTER", "s1", "s2"], ["SUNION", "s1", "s2"],
    ["SDIFF", "s1", "s2"], ["SDIFF", "s2", "s1"], ["SINTER", "s1", "nokey"], ["SUNION", "nokey"], ["SDIFF", "nokey", "s1"],
    ["SINTERSTORE", "s3", "s1", "s2"], ["SMEMBERS", "s3"], ["SUNIONSTORE", "s3", "s1", "s2"], ["SMEMBERS", "s3"],
    ["SDIFFSTORE", "s3", "s1", "s2"], ["SMEMBERS", "s3"], ["SINTERSTORE", "s3", "s1", "nokey"], ["EXISTS", "s3"],
    ["SINTERCARD", "2", "s1", "s2"], ["SINTERCARD", "2", "s1", "s2", "LIMIT", "1"], ["SINTERCARD", "0", "s1"],
    ["SINTERCARD", "x", "s1"], ["SINTERCARD", "3", "s1", "s2"], ["SINTERCARD", "1", "s1", "LIMIT", "-1"], ["SINTERCARD", "1", "s1", "FOO"],
    ["SRANDMEMBER", "nokey"], ["SRANDMEMBER", "nokey", "5"], ["SRANDMEMBER", "s1", "0"], ["SRANDMEMBER", "s1", "100"],
    ["SRANDMEMBER", "s1", "x"], ["SPOP", "nokey"], ["SPOP", "nokey", "3"], ["SPOP", "s2", "0"], ["SPOP", "s2", "-1"], ["SPOP", "s2", "2", "x"], ["SPOP", "s2", "100"],
    ["EXISTS", "s2"], ["SMOVE", "s1", "s4", "1"], ["SMOVE", "s1", "s4", "1"], ["SMOVE", "nokey", "s4", "1"], ["SMEMBERS", "s4"],
    ["SMOVE", "s1", "s1", "2"], ["SMOVE", "s1", "s1", "9"], ["SSCAN", "s1", "0"], ["SSCAN", "s1", "0", "MATCH", "2*"], ["SSCAN", "s1", "x"],
    ["SADD", "w", "apple", "banana", "cherry"], U(["SMEMBERS", "w"]), ["OBJECT", "ENCODING", "w"], ["SADD", "w", "7"],
    U(["SUNION", "w", "s1"]), U(["SINTER", "w", "w"]), U(["SDIFF", "w", "s1"]), U(["SSCAN", "w", "0"]), U(["SRANDMEMBER", "w", "10"]),
    ["SCARD", "w"], ["CONFIG", "SET", "set-max-intset-entries", "2"], ["SADD", "s5", "1", "2"], ["OBJECT", "ENCODING", "s5"],
    ["SADD", "s5", "3"], ["OBJECT", "ENCODING", "s5"], ["CONFIG", "SET", "set-max-intset-entries", "512"],
    ["SADD", "str", "x"], ["SMEMBERS", "str"], ["SINTER", "s1", "str"], ["SMOVE", "s1", "str", "2"], ["SMOVE", "str", "s1", "2"],
    ["GET", "s1"], ["HGET", "s1", "f"], ["TYPE", "s1"], ["SPOP", "s4"], ["EXISTS", "s4"],
    # lists
    ["RPUSH", "l", "a", "b", "c"], ["LPUSH", "l", "z", "y"], ["LRANGE", "l", "0", "-1"], ["LRANGE", "l", "-2", "-1"],
    ["LRANGE", "l", "5", "10"], ["LRANGE", "l", "-100", "1"], ["LRANGE", "l", "2", "1"], ["LRANGE", "nokey", "0", "-1"],
    ["LRANGE", "l", "x", "1"], ["LLEN", "l"], ["LLEN", "nokey"], ["LINDEX", "l", "0"], ["LINDEX", "l", "-1"], ["LINDEX", "l", "99"],
    ["LINDEX", "l", "x"], ["LSET", "l", "0", "Z"], ["LSET", "l", "99", "x"], ["LSET", "nokey", "0", "x"], ["LPUSHX", "nokey", "x"],
    ["RPUSHX", "l", "d"], ["LINSERT", "l", "BEFORE", "b", "B"], ["LINSERT", "l", "AFTER", "b", "C"], ["LINSERT", "l", "AFTER", "nope", "x"],
    ["LINSERT", "nokey", "AFTER", "a", "x"], ["LINSERT", "l", "ASIDE", "a", "x"], ["LRANGE", "l", "0", "-1"],
    ["RPUSH", "r", "a", "b", "a", "c", "a", "b", "a"], ["LREM", "r", "2", "a"], ["LRANGE", "r", "0", "-1"], ["LREM", "r", "-1", "a"],
    ["LRANGE", "r", "0", "-1"], ["LREM", "r", "0", "b"], ["LRANGE", "r", "0", "-1"], ["LREM", "nokey", "0", "a"],
    ["RPUSH", "p", "a", "b", "c", "1", "2", "3", "c", "c"], ["LPOS", "p", "c"], ["LPOS", "p", "c", "RANK", "2"], ["LPOS", "p", "c", "RANK", "-1"],
    ["LPOS", "p", "c", "COUNT", "2"], ["LPOS", "p", "c", "COUNT", "0"], ["LPOS", "p", "c", "RANK", "-1", "COUNT", "2"],
    ["LPOS", "p", "c", "COUNT", "0", "MAXLEN", "4"], ["LPOS", "p", "nope"], ["LPOS", "p", "nope", "COUNT", "1"], ["LPOS", "p", "c", "RANK", "0"],
    ["LPOS", "p", "c", "COUNT", "-1"], ["LPOS", "p", "c", "MAXLEN", "-1"], ["LPOS", "p", "c", "FOO", "1"], ["LPOS", "nokey", "c"],
    ["LTRIM", "p", "1", "-2"], ["LRANGE", "p", "0", "-1"], ["LTRIM", "p", "5", "1"], ["EXISTS", "p"], ["LTRIM", "nokey", "0", "1"],
    ["RPUSH", "q", "1", "2", "3", "4", "5"], ["LPOP", "q"], ["RPOP", "q"], ["LPOP", "q", "2"], ["RPOP", "q", "0"], ["LPOP", "q", "-1"],
    ["LPOP", "q", "10"], ["EXISTS", "q"], ["LPOP", "nokey"], ["LPOP", "nokey", "1"], ["RPOP", "nokey", "0"],
    ["RPUSH", "src", "1", "2", "3"], ["LMOVE", "src", "dst", "LEFT", "RIGHT"], ["LMOVE", "src", "dst", "RIGHT", "LEFT"],
    ["LRANGE", "dst", "0", "-1"], ["LMOVE", "src", "src", "LEFT", "RIGHT"], ["LRANGE", "src", "0", "-1"], ["LMOVE", "src", "dst", "UP", "LEFT"],
    ["RPOPLPUSH", "src", "dst"], ["RPOPLPUSH", "nokey", "dst"], ["LRANGE", "dst", "0", "-1"], ["EXISTS", "src"],
    ["RPUSH", "m1", "a", "b", "c"], ["LMPOP", "2", "nokey", "m1", "LEFT"], ["LMPOP", "2", "nokey", "m1", "RIGHT", "COUNT", "5"],
    ["LMPOP", "1", "nokey", "LEFT"], ["LMPOP", "0", "m1", "LEFT"], ["LMPOP", "1", "m1", "UP"], ["LMPOP", "1", "m1", "LEFT", "COUNT", "0"],
    ["LMPOP", "5", "m1", "LEFT"], ["OBJECT", "ENCODING", "dst"], ["TYPE", "dst"], ["LPUSH", "str", "x"], ["LRANGE", "str", "0", "1"],
    ["LMOVE", "dst", "str", "LEFT", "LEFT"], ["GET", "dst"],
    # sorted sets
    ["ZADD", "z", "1", "one", "2", "two", "3", "three"], ["ZADD", "z", "0.1", "a", "-inf", "ninf", "1e20", "big", "1e-5", "tiny"],
    ["ZRANGE", "z", "0", "-1", "WITHSCORES"], ["ZRANGE", "z", "0", "-1"], ["ZRANGE", "z", "-2", "-1", "WITHSCORES"], ["ZRANGE", "z", "5", "1"],
    ["ZRANGE", "z", "0", "-1", "REV"], ["ZRANGE", "z", "(1", "3", "BYSCORE"], ["ZRANGE", "z", "3", "(1", "BYSCORE", "REV", "WITHSCORES"],
    ["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "1", "2"], ["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "1", "-1"],
    ["ZRANGE", "z", "0", "1", "LIMIT", "0", "1"], ["ZRANGE", "z", "x", "1"], ["ZRANGE", "z", "0", "-1", "FOO"],
    ["ZRANGEBYSCORE", "z", "1", "3"], ["ZRANGEBYSCORE", "z", "(1", "+inf", "WITHSCORES", "LIMIT", "0", "2"], ["ZRANGEBYSCORE", "z", "x", "1"],
    ["ZREVRANGEBYSCORE", "z", "+inf", "-inf", "LIMIT", "0", "3"], ["ZREVRANGE", "z", "0", "2", "WITHSCORES"], ["ZRANGE", "nokey", "0", "-1"],
    ["ZCARD", "z"], ["ZCARD", "nokey"], ["ZSCORE", "z", "a"], ["ZSCORE", "z", "nope"], ["ZMSCORE", "z", "a", "nope", "big"],
    ["ZRANK", "z", "three"], ["ZREVRANK", "z", "three"], ["ZRANK", "z", "nope"], ["ZCOUNT", "z", "1", "3"], ["ZCOUNT", "z", "(1", "(3"],
    ["ZCOUNT", "z", "-inf", "+inf"], ["ZCOUNT", "z", "a", "b"], ["ZINCRBY", "z", "0.2", "a"], ["ZINCRBY", "z", "x", "a"], ["ZINCRBY", "z", "5", "new"],
    ["ZADD", "z", "NX", "10", "one", "10", "fresh"], ["ZADD", "z", "XX", "10", "one", "10", "never"], ["ZADD", "z", "XX", "CH", "11", "one", "2", "two"],
    ["ZADD", "z", "GT", "CH", "1", "one", "20", "two"], ["ZADD", "z", "LT", "CH", "1", "one"], ["ZADD", "z", "INCR", "5", "one"],
    ["ZADD", "z", "NX", "INCR", "5", "one"], ["ZADD", "z", "INCR", "1", "a", "2", "b"], ["ZADD", "z", "NX", "XX", "1", "a"],
    ["ZADD", "z", "GT", "LT", "1", "a"], ["ZADD", "z", "NX", "GT", "1", "a"], ["ZADD", "z", "nan", "x"], ["ZADD", "z", "abc", "x"],
    ["ZADD", "z", "1"], ["ZADD", "z", "1", "a", "2"], ["ZADD", "z", "INCR", "inf", "ninf"], ["ZADD", "z", "inf", "pinf"], ["ZSCORE", "z", "pinf"],
    ["ZINCRBY", "z", "-inf", "pinf"], ["ZRANGE", "z", "0", "-1", "WITHSCORES"], ["ZREM", "z", "one", "nope", "two"], ["ZREM", "nokey", "a"],
    ["ZADD", "lex", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e"], ["ZRANGEBYLEX", "lex", "-", "+"], ["ZRANGEBYLEX", "lex", "[b", "(d"],
    ["ZRANGEBYLEX", "lex", "(a", "+", "LIMIT", "1", "2"], ["ZREVRANGEBYLEX", "lex", "+", "[c"], ["ZRANGE", "lex", "[b", "[d", "BYLEX"],
    ["ZRANGE", "lex", "[d", "[b", "BYLEX", "REV"], ["ZRANGE", "lex", "-", "+", "BYLEX", "WITHSCORES"], ["ZLEXCOUNT", "lex", "[b", "+"],
    ["ZRANGEBYLEX", "lex", "b", "c"], ["ZREMRANGEBYLEX", "lex", "[a", "[b"], ["ZRANGE", "lex", "0", "-1"],
    ["ZRANGESTORE", "dst", "z", "0", "2"], ["ZRANGE", "dst", "0", "-1", "WITHSCORES"], ["ZRANGESTORE", "dst", "z", "(0", "+inf", "BYSCORE", "LIMIT", "0", "2"],
    ["ZRANGE", "dst", "0", "-1", "WITHSCORES"], ["ZRANGESTORE", "dst", "nokey", "0", "-1"], ["EXISTS", "dst"], ["ZRANGESTORE", "dst", "z", "0", "1", "WITHSCORES"],
    ["ZADD", "p", "1", "a", "2", "b", "3", "c", "4", "d"], ["ZPOPMIN", "p"], ["ZPOPMAX", "p"], ["ZPOPMIN", "p", "5"], ["EXISTS", "p"],
    ["ZPOPMIN", "nokey"], ["ZPOPMIN", "nokey", "2"], ["ZPOPMAX", "z", "-1"], ["ZPOPMIN", "z", "0"],
    ["ZADD", "r", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e"], ["ZREMRANGEBYRANK", "r", "0", "1"], ["ZREMRANGEBYSCORE", "r", "(3", "4"],
    ["ZRANGE", "r", "0", "-1", "WITHSCORES"], ["ZREMRANGEBYSCORE", "r", "x", "1"], ["ZRANDMEMBER", "nokey"], ["ZRANDMEMBER", "nokey", "2"],
    ["ZRANDMEMBER", "r", "0"], ["ZRANDMEMBER", "r", "10", "WITHSCORES"], ["ZRANDMEMBER", "r", "1", "FOO"], ["ZSCAN", "r", "0"],
    ["ZSCAN", "z", "0", "MATCH", "t*"], ["OBJECT", "ENCODING", "r"], ["TYPE", "r"], ["ZADD", "zl", "1", "x" * 70], ["OBJECT", "ENCODING", "zl"],
    ["SET", "zs", "1"], ["ZADD", "zs", "1", "a"], ["ZRANGE", "zs", "0", "-1"], ["ZSCORE", "zs", "a"], ["GET", "r"],
    # blocking commands: immediate answers, errors, and short timeouts
    ["RPUSH", "bl", "a", "b"], ["BLPOP", "nokey", "bl", "1"], ["BRPOP", "bl", "1"], ["BLPOP", "bl", "0.05"], ["BLPOP", "bl", "-1"],
    ["BLPOP", "bl", "x"], ["RPUSH", "bl", "c"], ["BLMOVE", "bl", "bl2", "LEFT", "RIGHT", "1"], ["BLMOVE", "nokey", "bl2", "LEFT", "RIGHT", "0.05"],
    ["BLMOVE", "bl2", "bl", "UP", "RIGHT", "1"], ["BRPOPLPUSH", "bl2", "bl", "1"], ["BRPOPLPUSH", "nokey", "bl", "0.05"],
    ["BLMPOP", "1", "2", "nokey", "bl", "LEFT", "COUNT", "5"], ["BLMPOP", "0.05", "1", "bl", "LEFT"], ["BLMPOP", "1", "0", "bl", "LEFT"],
    ["ZADD", "bz", "1", "a", "2", "b"], ["BZPOPMIN", "nokey", "bz", "1"], ["BZPOPMAX", "bz", "1"], ["BZPOPMIN", "bz", "0.05"],
    ["SET", "bs", "x"], ["BLPOP", "bs", "1"], ["BZPOPMIN", "bs", "1"], ["MULTI"], ["BLPOP", "nokey", "0"], ["BZPOPMAX", "nokey", "0"], ["EXEC"],
    # sorted-set algebra
    ["ZADD", "za", "1", "a", "2", "b", "3", "c"], ["ZADD", "zb", "10", "b", "20", "c", "30", "d"], ["SADD", "sa", "a", "d", "e"],
    ["ZUNION", "2", "za", "zb", "WITHSCORES"], ["ZINTER", "2", "za", "zb", "WITHSCORES"], ["ZDIFF", "2", "za", "zb", "WITHSCORES"],
    ["ZUNION", "2", "za", "zb", "WEIGHTS", "2", "0.5", "AGGREGATE", "MAX", "WITHSCORES"], ["ZINTER", "2", "za", "zb", "AGGREGATE", "MIN"],
    ["ZUNION", "3", "za", "zb", "sa", "WITHSCORES"], ["ZINTER", "2", "za", "sa", "WITHSCORES"], ["ZUNION", "2", "za", "nokey"],
    ["ZUNIONSTORE", "zd", "2", "za", "zb"], ["ZRANGE", "zd", "0", "-1", "WITHSCORES"], ["ZINTERSTORE", "zd", "2", "za", "zb", "WEIGHTS", "1", "2"],
    ["ZRANGE", "zd", "0", "-1", "WITHSCORES"], ["ZDIFFSTORE", "zd", "2", "za", "zb"], ["ZRANGE", "zd", "0", "-1", "WITHSCORES"],
    ["ZINTERSTORE", "zd", "2", "za", "nokey"], ["EXISTS", "zd"], ["ZUNION", "0", "za"], ["ZUNION", "x", "za"], ["ZUNION", "3", "za"],
    ["ZUNION", "2", "za", "zb", "WEIGHTS", "1"], ["ZUNION", "2", "za", "zb", "WEIGHTS", "1", "x"], ["ZUNION", "2", "za", "zb", "AGGREGATE", "AVG"],
    ["ZDIFF", "2", "za", "zb", "WEIGHTS", "1", "1"], ["ZUNIONSTORE", "zd", "2", "za", "zb", "WITHSCORES"], ["ZUNIONSTORE", "zd", "0", "za"],
    ["ZUNION", "2", "za", "zb", "WEIGHTS", "inf", "-inf", "WITHSCORES"], ["SET", "zstr", "x"], ["ZUNION", "2", "za", "zstr"],
    ["ZINTERCARD", "2", "za", "zb"], ["ZINTERCARD", "2", "za", "zb", "LIMIT", "1"], ["ZINTERCARD", "0", "za"], ["ZINTERCARD", "3", "za"],
    ["ZINTERCARD", "1", "za", "LIMIT", "-1"], ["ZMPOP", "2", "nokey", "za", "MIN"], ["ZMPOP", "1", "za", "MAX", "COUNT", "5"],
    ["ZMPOP", "1", "za", "MIN"], ["ZMPOP", "0", "za", "MIN"], ["ZMPOP", "1", "za", "LOW"], ["ZMPOP", "1", "zb", "MIN", "COUNT", "0"],
    ["MULTI"], ["ZUNIONSTORE", "zm", "2", "zb", "sa"], ["ZCARD", "zm"], ["EXEC"],
    # transactions
    ["MULTI"], ["SET", "t1", "1"], ["INCR", "t1"], ["LPUSH", "t2", "a"], ["GET", "t2"], ["EXEC"], ["GET", "t1"],
    ["EXEC"], ["DISCARD"], ["MULTI"], ["MULTI"], ["WATCH", "t1"], ["SET", "t1", "5"], ["DISCARD"], ["GET", "t1"],
    ["MULTI"], ["SET", "t1", "6"], ["NOSUCHCMD"], ["GET"], ["EXEC"], ["GET", "t1"],
    ["WATCH", "t1"], ["SET", "t1", "7"], ["MULTI"], ["SET", "t1", "8"], ["EXEC"], ["GET", "t1"],
    ["WATCH", "t1", "t2"], ["UNWATCH"], ["SET", "t1", "9"], ["MULTI"], ["INCR", "t1"], ["EXEC"],
    ["WATCH", "nokey"], ["MULTI"], ["SET", "nokey", "x"], ["EXEC"], ["MULTI"], ["FLUSHDB"], ["DBSIZE"], ["EXEC"],
    ["MULTI"], ["SET", "a", "1"], ["SADD", "a", "x"], ["GET", "a"], ["EXEC"], ["MULTI"], ["EXEC"],
    # server commands (TIME and LASTSAVE differ in value by nature and are not compared)
    ["COMMAND", "GETKEYS", "SET", "k", "v"], ["COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2"], ["COMMAND", "GETKEYS", "PING"], ["COMMAND", "GETKEYS", "PING", "x"], ["COMMAND", "GETKEYS", "GET", "a", "b"],
    ["COMMAND", "GETKEYS", "NOSUCH", "x"], ["COMMAND", "GETKEYS", "GET"], ["COMMAND", "GETKEYS"], ["TIME", "x"], ["LASTSAVE", "x"],
    ["SELECT", "3"], ["MULTI"], ["SET", "rk", "1"], ["RESET"], ["EXEC"], ["GET", "rk"], ["CLIENT", "GETNAME"], ["RESET", "x"],
    # connection and server
    ["PING"], ["PING", "hi"], ["PING", "a", "b"], ["ECHO", "x"], ["ECHO"], ["GET"], ["FOO", "a", "b"], ["AUTH", "x"], ["AUTH", "a", "b"],
    ["HELLO", "4"], ["HELLO", "x"], ["CONFIG", "FOO"], ["CONFIG", "GET", "maxclients", "timeout"], ["CONFIG", "SET", "nope", "1"],
    ["CONFIG", "SET", "maxclients", "lots"], ["CLIENT", "FOO"], ["CLIENT", "SETNAME", "a b"], ["CLIENT", "SETNAME", "ok"],
    ["CLIENT", "GETNAME"], ["DBSIZE"], ["FLUSHDB", "FOO"], ["FLUSHALL", "SYNC"], ["DBSIZE"],
    ["ROLE"], ["ROLE", "x"], ["REPLCONF", "listening-port"],
    # Redis parameters kept for compatibility
    ["CONFIG", "GET", "hz"], ["CONFIG", "SET", "hz", "20"], ["CONFIG", "GET", "hz"], ["CONFIG", "SET", "hz", "10"],
    ["CONFIG", "GET", "client-output-buffer-limit"], ["CONFIG", "SET", "client-output-buffer-limit", "pubsub 1mb 512kb 30"],
    ["CONFIG", "GET", "client-output-buffer-limit"],
    ["CONFIG", "SET", "client-output-buffer-limit", "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"],
    ["CONFIG", "GET", "lazyfree-*"], ["CONFIG", "GET", "maxmemory-policy"], ["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"],
    ["CONFIG", "GET", "maxmemory-policy"], ["CONFIG", "SET", "maxmemory-policy", "noeviction"], ["CONFIG", "GET", "maxmemory-samples"],
    ["CONFIG", "GET", "slowlog-*"], ["CONFIG", "GET", "acllog-max-len"], ["CONFIG", "GET", "lfu-*"],
    # LCS (the command reference's examples and edge cases)
    ["MSET", "key1", "ohmytext", "key2", "mynewtext"], ["LCS", "key1", "key2"], ["LCS", "key1", "key2", "LEN"],
    ["LCS", "key1", "key2", "IDX"], ["LCS", "key1", "key2", "IDX", "MINMATCHLEN", "4"],
    ["LCS", "key1", "key2", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"], ["LCS", "key1", "key2", "IDX", "WITHMATCHLEN"],
    ["LCS", "key1", "key2", "LEN", "IDX"], ["LCS", "key1", "key2", "FOO"], ["LCS", "key1", "key2", "MINMATCHLEN"],
    ["LCS", "key1", "key2", "IDX", "MINMATCHLEN", "x"], ["LCS", "key1", "nokey"], ["LCS", "nokey", "nokey2", "IDX"],
    ["LCS", "key1", "key2", "IDX", "MINMATCHLEN", "-3"], ["RPUSH", "lcslist", "a"], ["LCS", "key1", "lcslist"],
    ["LCS", "lcslist", "key1", "FOO"], ["LCS", "key1"], ["MSET", "la", "abcabcabcxyz", "lb", "xyzabcxabcab"],
    ["LCS", "la", "lb", "IDX", "WITHMATCHLEN"], ["LCS", "la", "lb"],
    # ACL: rules, descriptions, errors, dry runs (each case leaves the same users behind, so
    # the RESP3 pass sees what the RESP2 pass saw)
    ["ACL", "DELUSER", "u1", "u2", "u3"], ["ACL", "SETUSER", "u1"], ["ACL", "LIST"], ["ACL", "GETUSER", "u1"],
    ["ACL", "SETUSER", "u1", "on", ">p1", ">p2", "~foo*", "%R~bar*", "%W~baz*", "&chan*", "+@read", "-get"], ["ACL", "LIST"],
    ["ACL", "GETUSER", "u1"], ["ACL", "SETUSER", "u1", "<p1", "#5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"],
    ["ACL", "GETUSER", "u1"], ["ACL", "SETUSER", "u1", "nopass"], ["ACL", "LIST"], ["ACL", "SETUSER", "u1", "reset"], ["ACL", "LIST"],
    ["ACL", "SETUSER", "u2", "on", "nopass", "~a*", "+get", "(~b*", "+set)", "(%R~c* +@read)"], ["ACL", "LIST"], ["ACL", "GETUSER", "u2"],
    ["ACL", "DRYRUN", "u2", "get", "a1"], ["ACL", "DRYRUN", "u2", "set", "a1", "x"], ["ACL", "DRYRUN", "u2", "set", "b1", "x"],
    ["ACL", "DRYRUN", "u2", "get", "c1"], ["ACL", "DRYRUN", "u2", "set", "c1", "x"], ["ACL", "DRYRUN", "u2", "nosuch"],
    ["ACL", "DRYRUN", "u2", "get"], ["ACL", "DRYRUN", "nouser", "get", "a"], ["ACL", "DRYRUN", "u2", "config", "get", "x"],
    ["ACL", "SETUSER", "u2", "clearselectors", "allchannels", "+@all", "-config|set", "-@dangerous"], ["ACL", "GETUSER", "u2"],
    ["ACL", "DRYRUN", "u2", "publish", "any", "m"], ["ACL", "DRYRUN", "u2", "config", "set", "a", "b"], ["ACL", "DRYRUN", "u2", "flushall"],
    ["ACL", "SETUSER", "u3", "resetchannels", "&news.*", "-@all", "+@pubsub", "+select|0"], ["ACL", "LIST"],
    ["ACL", "DRYRUN", "u3", "publish", "news.x", "m"], ["ACL", "DRYRUN", "u3", "publish", "other", "m"],
    ["ACL", "DRYRUN", "u3", "select", "0"], ["ACL", "DRYRUN", "u3", "select", "1"],
    ["ACL", "SETUSER", "u3", "bogus"], ["ACL", "SETUSER", "u3", "+nosuch"], ["ACL", "SETUSER", "u3", "+@nosuch"],
    ["ACL", "SETUSER", "u3", "#abc"], ["ACL", "SETUSER", "u3", "<nothere"], ["ACL", "SETUSER", "u3", "%X~a"],
    ["ACL", "SETUSER", "u3", "(~a"], ["ACL", "SETUSER", "u3", "-select|0"], ["ACL", "SETUSER", "u3", "+config|get|x"],
    ["ACL", "SETUSER", "u3", "+config|"], ["ACL", "SETUSER", "u3", "allkeys", "~a"], ["ACL", "SETUSER", "u3", "allchannels", "&a"],
    ["ACL", "SETUSER", "u3", "(bogus)"], ["ACL", "SETUSER", "a b"], ["ACL", "SETUSER"], ["ACL", "DELUSER", "default"],
    ["ACL", "GETUSER", "nosuch"], ["ACL", "CAT"], ["ACL", "CAT", "nope"], ["ACL", "CAT", "a", "b"], ["ACL", "WHOAMI"],
    ["ACL", "USERS"], ["ACL", "GENPASS", "0"], ["ACL", "GENPASS", "4097"], ["ACL", "LOG", "foo"], ["ACL", "SAVE"], ["ACL", "LOAD"],
    ["ACL", "NOSUB"], ["ACL"], ["ACL", "DELUSER", "u1", "u2", "u3", "u4"], ["ACL", "LIST"],
    ["AUTH", "nouser", "pw"], ["AUTH", "default", "anything"], ["HELLO", "2", "AUTH", "nouser", "x"],
]


def run(cachet, redis, label):
    passed = failed = 0
    for args in CASES:
        a, b = cachet.call(*args), redis.call(*args)
        if isinstance(args, U):
            same = sorted(a.split(b"\r\n")) == sorted(b.split(b"\r\n"))
        elif args[:2] == ["CONFIG", "GET"] and a[:1] == b[:1] and a[:1] in (b"*", b"%"):
            same = pairs(a) == pairs(b)
        else:
            same = a == b
        if same:
            passed += 1
        else:
            failed += 1
            print(f"DIFF [{label}] {' '.join(map(str, args))}\n  cachet: {a!r}\n  redis:  {b!r}")
    for pattern in ["*", "m*", "?olly", "[cd]*"]:
        a, b = cachet.call("KEYS", pattern), redis.call("KEYS", pattern)
        if split_array(a) == split_array(b):
            passed += 1
        else:
            failed += 1
            print(f"DIFF [{label}] KEYS {pattern}\n  cachet: {a!r}\n  redis:  {b!r}")
    return passed, failed


def watch_across_connections(cport, rport):
    """A WATCHed key changed by another client aborts EXEC; a change to another key does not."""
    outcomes = []
    for port in (cport, rport):
        a, b = Conn(port), Conn(port)
        a.call("SET", "w1", "0")
        a.call("WATCH", "w1")
        b.call("SET", "w1", "changed")
        a.call("MULTI")
        a.call("SET", "w1", "mine")
        aborted = a.call("EXEC")
        a.call("WATCH", "w1")
        b.call("SET", "someone-else", "x")
        a.call("MULTI")
        a.call("INCR", "counter")
        done = a.call("EXEC")
        outcomes.append((aborted, done, a.call("GET", "w1")))
    if outcomes[0] == outcomes[1]:
        return 1, 0
    print(f"DIFF watch across connections\n  cachet: {outcomes[0]!r}\n  redis:  {outcomes[1]!r}")
    return 0, 1


def pubsub_scenario(port, proto):
    """Everything a subscriber and a publisher see, as raw replies."""
    sub, pub = Conn(port), Conn(port)
    seen = []
    if proto == 3:
        sub.call("HELLO", "3")
    seen.append(sub.call("SUBSCRIBE", "a", "b"))
    seen.append(sub.reply())
    seen.append(sub.call("PSUBSCRIBE", "n*"))
    seen.append(sub.call("SUBSCRIBE", "a"))
    seen.append(pub.call("PUBLISH", "a", "hello"))
    seen.append(pub.call("PUBLISH", "news", "x"))
    seen.append(pub.call("PUBLISH", "nobody", "y"))
    seen.append(pub.call("PUBSUB", "NUMSUB", "a", "b", "c"))
    seen.append(pub.call("PUBSUB", "NUMPAT"))
    seen.append(split_array(pub.call("PUBSUB", "CHANNELS")))
    seen.append(pub.call("PUBSUB", "CHANNELS", "a*"))
    seen.append(sub.reply())
    seen.append(sub.reply())
    seen.append(sub.call("GET", "x"))
    seen.append(sub.call("PING"))
    seen.append(sub.call("PING", "hi"))
    seen.append(sub.call("UNSUBSCRIBE", "a"))
    seen.append(sub.call("PUNSUBSCRIBE"))
    seen.append(sub.call("UNSUBSCRIBE"))
    seen.append(sub.call("UNSUBSCRIBE"))
    seen.append(sub.call("GET", "x"))
    seen.append(pub.call("PUBSUB", "FOO"))
    # Shard channels: their own namespace and counts.
    seen.append(sub.call("SSUBSCRIBE", "sa", "sb"))
    seen.append(sub.reply())
    seen.append(pub.call("PUBLISH", "sa", "not for shard subscribers"))
    seen.append(pub.call("SPUBLISH", "sa", "hello shard"))
    seen.append(sub.reply())
    seen.append(split_array(pub.call("PUBSUB", "SHARDCHANNELS")))
    seen.append(pub.call("PUBSUB", "SHARDCHANNELS", "sb*"))
    seen.append(pub.call("PUBSUB", "SHARDNUMSUB", "sa", "zz"))
    seen.append(sub.call("SUBSCRIBE", "plain"))
    seen.append(sub.call("SUNSUBSCRIBE", "sa"))
    seen.append(sub.call("SUNSUBSCRIBE"))
    seen.append(sub.call("SUNSUBSCRIBE"))
    seen.append(sub.call("UNSUBSCRIBE"))
    seen.append(pub.call("SPUBLISH", "sa", "nobody"))
    return seen


def pubsub_across(cport, rport):
    passed = failed = 0
    for proto in (2, 3):
        a, b = pubsub_scenario(cport, proto), pubsub_scenario(rport, proto)
        for i, (x, y) in enumerate(zip(a, b)):
            if x == y:
                passed += 1
            else:
                failed += 1
                print(f"DIFF [pubsub RESP{proto} step {i}]\n  cachet: {x!r}\n  redis:  {y!r}")
    return passed, failed


def digest_scenario(cport, rport):
    """The same data of every type on both servers: DEBUG DIGEST and DIGEST-VALUE agree (how a
    replica of either kind is checked against its primary)."""
    seen = []
    for port in (cport, rport):
        c = Conn(port)
        if not c.call("DEBUG", "HELP").startswith(b"*"):
            print("DEBUG not enabled; start both servers with enable-debug-command yes")
            return 0, 1
        c.call("FLUSHALL")
        steps = [c.call("DEBUG", "DIGEST")]
        c.call("SET", "s", "hello")
        c.call("SET", "n", "12345")
        c.call("SET", "ttl", "v", "EX", "1000")
        c.call("RPUSH", "l", "a", "b", "3")
        c.call("SADD", "si", "1", "2", "3")
        c.call("SADD", "ss", "x", "y", "1")
        c.call("ZADD", "z", "1.5", "a", "2", "b", "0.1", "c", "1e20", "d", "-inf", "e")
        c.call("HSET", "h", "f", "v", "g", "1")
        c.call("HSET", "bigh", *[x for i in range(200) for x in (f"f{i}", "x" * i)])
        c.call("ZADD", "bigz", *[x for i in range(300) for x in (str(i / 7), f"m{i}")])
        c.call("SELECT", "5")
        c.call("SET", "s", "other db")
        steps.append(c.call("DEBUG", "DIGEST"))
        c.call("SELECT", "0")
        steps.append(c.call("DEBUG", "DIGEST-VALUE", "s", "n", "ttl", "l", "si", "ss", "z", "h", "bigh", "bigz", "none"))
        steps.append(c.call("DEBUG", "DIGEST-VALUE"))
        steps.append(c.call("DEBUG", "NOSUCH"))
        steps.append(c.call("DEBUG", "OBJECT", "none"))
        c.call("FLUSHALL")
        seen.append(steps)
    passed = failed = 0
    for i, (x, y) in enumerate(zip(*seen)):
        if x == y:
            passed += 1
        else:
            failed += 1
            print(f"DIFF [digest step {i}]\n  cachet: {x!r}\n  redis:  {y!r}")
    return passed, failed


def fill_types(c):
    """Values of every type and encoding, small and large."""
    c.call("SET", "d:str", "hello")
    c.call("SET", "d:int", "12345")
    c.call("SET", "d:bigint", "-9223372036854775808")
    c.call("SET", "d:long", "abc" * 3000)
    c.call("SET", "d:ttl", "v", "PX", "100000000")
    c.call("RPUSH", "d:list", "a", "b", "3", "-77", "x" * 100)
    c.call("RPUSH", "d:biglist", *[f"item{i}" * (i % 7 + 1) for i in range(2000)])
    c.call("SADD", "d:intset", "1", "-5", "70000", "9223372036854775807")
    c.call("SADD", "d:set", "x", "y", "1")
    c.call("HSET", "d:hash", "f", "v", "g", "1", "h", "-4000")
    c.call("HSET", "d:bighash", *[x for i in range(300) for x in (f"f{i}", "v" * (i % 90))])
    c.call("ZADD", "d:zset", "1.5", "a", "2", "b", "-0.25", "c", "100", "d")
    c.call("ZADD", "d:bigzset", *[x for i in range(300) for x in (str(i / 3), f"m{i}")])


DUMP_KEYS = ["d:str", "d:int", "d:bigint", "d:long", "d:ttl", "d:list", "d:biglist", "d:intset", "d:set",
             "d:hash", "d:bighash", "d:zset", "d:bigzset"]


def dump_restore_scenario(cport, rport):
    """DUMP on one server, RESTORE on the other, both ways: the values' DEBUG DIGEST-VALUE
    agree. Then RESTORE's errors for the same bad requests on both."""
    passed = failed = 0
    c, r = Conn(cport), Conn(rport)
    for src, dst, label in ((r, c, "redis->cachet"), (c, r, "cachet->redis")):
        for conn in (c, r):
            conn.call("FLUSHALL")
        fill_types(src)
        for k in DUMP_KEYS:
            payload = src.call("DUMP", k)
            data = payload.split(b"\r\n", 1)[1][:-2]
            pttl = int(src.call("PTTL", k)[1:-2])
            got = dst.call("RESTORE", k, str(max(pttl, 0)), data)
            a, b = src.call("DEBUG", "DIGEST-VALUE", k), dst.call("DEBUG", "DIGEST-VALUE", k)
            if got == b"+OK\r\n" and a == b:
                passed += 1
            else:
                failed += 1
                print(f"DIFF [dump {label} {k}] restore={got!r}\n  src: {a!r}\n  dst: {b!r}")
    # The same bad requests to both servers.
    outcomes = []
    for conn in (c, r):
        conn.call("FLUSHALL")
        conn.call("SET", "e", "v")
        good = conn.call("DUMP", "e").split(b"\r\n", 1)[1][:-2]
        steps = [
            conn.call("RESTORE", "e", "0", good),
            conn.call("RESTORE", "e2", "-1", good),
            conn.call("RESTORE", "e2", "x", good),
            conn.call("RESTORE", "e2", "0", b"garbage"),
            conn.call("RESTORE", "e2", "0", good[:-1] + bytes([good[-1] ^ 1])),
            conn.call("RESTORE", "e2", "0", good, "FOO"),
            conn.call("RESTORE", "e2", "0", good, "IDLETIME", "-1"),
            conn.call("RESTORE", "e2", "0", good, "FREQ", "300"),
            conn.call("RESTORE", "e2", "0", good, "IDLETIME", "5", "FREQ", "5"),
            conn.call("RESTORE", "e", "0", good, "REPLACE"),
            conn.call("RESTORE", "e3", "1000", good, "ABSTTL"),
            conn.call("EXISTS", "e3"),
            conn.call("RESTORE", "e4", "100000", good),
            conn.call("TTL", "e4"),
            conn.call("DUMP", "nokey"),
            conn.call("DUMP"),
        ]
        outcomes.append(steps)
    for i, (x, y) in enumerate(zip(*outcomes)):
        if x == y:
            passed += 1
        else:
            failed += 1
            print(f"DIFF [restore errors step {i}]\n  cachet: {x!r}\n  redis:  {y!r}")
    for conn in (c, r):
        conn.call("FLUSHALL")
    return passed, failed


def main():
    cport, rport = int(sys.argv[1]), int(sys.argv[2])
    p2, f2 = run(Conn(cport), Conn(rport), "RESP2")
    # RESP3: the same cases after HELLO 3 (its own reply names versions and ids, so it is not
    # compared), starting from an empty keyspace again.
    c3, r3 = Conn(cport), Conn(rport)
    for conn in (c3, r3):
        conn.call("HELLO", "3")
        conn.call("FLUSHALL")
    p3, f3 = run(c3, r3, "RESP3")
    pw, fw = watch_across_connections(cport, rport)
    pp, fp = pubsub_across(cport, rport)
    pd, fd = digest_scenario(cport, rport)
    pr, fr = dump_restore_scenario(cport, rport)
    passed, failed = p2 + p3 + pw + pp + pd + pr, f2 + f3 + fw + fp + fd + fr
    print(f"differential: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
