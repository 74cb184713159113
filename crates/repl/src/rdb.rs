//! Values in RDB version 10 (Redis 7.0), and the DUMP payload around them:
//! `<type><value><rdb version: u16 LE><crc64: u64 LE>`.
//!
//! Written: strings (integers in Redis's short integer forms), lists as quicklist nodes of
//! listpacks, small hashes and sorted sets as listpacks and larger ones as plain pairs (binary
//! scores), integer sets as intsets, other sets as plain members. Read: all of those plus what
//! Redis 7 itself writes (LZF-compressed strings, plain quicklist nodes, every integer width).

use crate::{crc64, listpack, lzf};
use cachet_store::{Hash, PackLimits, Set, Value, ZSet};

pub const RDB_VERSION: u16 = 10;

const T_STRING: u8 = 0;
const T_LIST: u8 = 1;
const T_SET: u8 = 2;
const T_ZSET: u8 = 3;
const T_HASH: u8 = 4;
const T_ZSET_2: u8 = 5;
const T_SET_INTSET: u8 = 11;
const T_HASH_LISTPACK: u8 = 16;
const T_ZSET_LISTPACK: u8 = 17;
const T_LIST_QUICKLIST_2: u8 = 18;

/// Quicklist node containers.
const QL_PLAIN: u64 = 1;
const QL_PACKED: u64 = 2;

/// Bytes of elements per list node, like Redis's default `list-max-listpack-size -2` (8 KiB).
const LIST_NODE_BYTES: usize = 8 * 1024;

#[derive(Debug, PartialEq, Eq)]
pub enum RdbError {
    /// Wrong RDB version or checksum (RESTORE's "DUMP payload version or checksum are wrong").
    Checksum,
    /// The data does not parse ("Bad data format").
    Format,
}

/// Sizes that decide the encodings a restored value gets (the node's `*-max-*` settings).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub hash: PackLimits,
    pub set_max_intset: usize,
    pub zset: (usize, usize),
}

impl Default for Limits {
    fn default() -> Self {
        Limits { hash: PackLimits::default(), set_max_intset: 512, zset: (128, 64) }
    }
}

// ---- writing

fn put_len(out: &mut Vec<u8>, n: u64) {
    if n < 64 {
        out.push(n as u8);
    } else if n < 16384 {
        out.extend_from_slice(&[0x40 | (n >> 8) as u8, n as u8]);
    } else if n <= u32::MAX as u64 {
        out.push(0x80);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// A string, in Redis's short integer forms when it is a small canonical integer.
fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    if s.len() <= 11 {
        if let Value::Int(v) = Value::string(s) {
            if let Ok(b) = i8::try_from(v) {
                out.extend_from_slice(&[0xc0, b as u8]);
                return;
            }
            if let Ok(w) = i16::try_from(v) {
                out.push(0xc1);
                out.extend_from_slice(&w.to_le_bytes());
                return;
            }
            if let Ok(d) = i32::try_from(v) {
                out.push(0xc2);
                out.extend_from_slice(&d.to_le_bytes());
                return;
            }
        }
    }
    put_len(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// Appends the RDB type byte and encoding of `v`.
pub fn write_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Int(_) | Value::Raw(_) => {
            out.push(T_STRING);
            put_string(out, &v.to_vec());
        }
        Value::List(l) => {
            out.push(T_LIST_QUICKLIST_2);
            let mut nodes: Vec<Vec<u8>> = Vec::new();
            let mut cur: Vec<&[u8]> = Vec::new();
            let mut bytes = 0;
            for item in l.iter() {
                if !cur.is_empty() && bytes + item.len() > LIST_NODE_BYTES {
                    nodes.push(listpack::encode(cur.drain(..)));
                    bytes = 0;
                }
                bytes += item.len() + 2;
                cur.push(item);
            }
            if !cur.is_empty() {
                nodes.push(listpack::encode(cur));
            }
            put_len(out, nodes.len() as u64);
            for n in nodes {
                put_len(out, QL_PACKED);
                put_len(out, n.len() as u64);
                out.extend_from_slice(&n);
            }
        }
        Value::Set(s) => match &**s {
            Set::Ints(ints) => {
                out.push(T_SET_INTSET);
                let width: usize = if ints.iter().all(|&i| i16::try_from(i).is_ok()) {
                    2
                } else if ints.iter().all(|&i| i32::try_from(i).is_ok()) {
                    4
                } else {
                    8
                };
                let mut is = Vec::with_capacity(8 + ints.len() * width);
                is.extend_from_slice(&(width as u32).to_le_bytes());
                is.extend_from_slice(&(ints.len() as u32).to_le_bytes());
                for &i in ints {
                    is.extend_from_slice(&i.to_le_bytes()[..width]);
                }
                put_len(out, is.len() as u64);
                out.extend_from_slice(&is);
            }
            Set::Table(_) => {
                out.push(T_SET);
                let members = s.members();
                put_len(out, members.len() as u64);
                for m in members {
                    put_string(out, &m);
                }
            }
        },
        Value::Hash(h) => match &**h {
            Hash::Pack(pairs) => {
                out.push(T_HASH_LISTPACK);
                let lp = listpack::encode(pairs.iter().flat_map(|(f, v)| [&**f, &**v]));
                put_len(out, lp.len() as u64);
                out.extend_from_slice(&lp);
            }
            Hash::Table(_) => {
                out.push(T_HASH);
                put_len(out, h.len() as u64);
                for (f, v) in h.iter() {
                    put_string(out, f);
                    put_string(out, v);
                }
            }
        },
        Value::ZSet(z) => {
            if z.encoding() == "listpack" {
                out.push(T_ZSET_LISTPACK);
                let scores: Vec<(Vec<u8>, Vec<u8>)> = z
                    .iter(false)
                    .map(|(m, s)| (m.to_vec(), cachet_store::format_score(s).into_bytes()))
                    .collect();
                let lp = listpack::encode(scores.iter().flat_map(|(m, s)| [m.as_slice(), s.as_slice()]));
                put_len(out, lp.len() as u64);
                out.extend_from_slice(&lp);
            } else {
                out.push(T_ZSET_2);
                put_len(out, z.len() as u64);
                // Redis writes the skiplist from its tail (highest score first).
                for (m, s) in z.iter(true) {
                    put_string(out, m);
                    out.extend_from_slice(&s.to_le_bytes());
                }
            }
        }
    }
}

/// DUMP: the value, the RDB version and the checksum.
pub fn dump_payload(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    write_value(&mut out, v);
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64(0, &out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

// ---- whole RDB files (the snapshot of a full synchronisation, `SYNC`, `redis-cli --rdb`)

const OP_AUX: u8 = 0xfa;
const OP_RESIZEDB: u8 = 0xfb;
const OP_EXPIRETIME_MS: u8 = 0xfc;
const OP_SELECTDB: u8 = 0xfe;
const OP_EOF: u8 = 0xff;

/// Writes an RDB file: header and aux fields, then each database's keys, then EOF and the
/// checksum, as Redis 7.0 writes them (so `redis-check-rdb` and a Redis replica read it).
pub struct RdbWriter {
    out: Vec<u8>,
}

impl RdbWriter {
    /// The header and Redis's aux fields; `extra` are more aux fields (repl-id, repl-offset).
    pub fn new(ctime_secs: u64, used_mem: u64, extra: &[(&str, &[u8])]) -> Self {
        let mut out = b"REDIS0010".to_vec();
        let mut aux = |k: &str, v: &[u8]| {
            out.push(OP_AUX);
            put_string(&mut out, k.as_bytes());
            put_string(&mut out, v);
        };
        aux("redis-ver", b"7.0.0");
        aux("redis-bits", b"64");
        aux("ctime", ctime_secs.to_string().as_bytes());
        aux("used-mem", used_mem.to_string().as_bytes());
        for (k, v) in extra {
            aux(k, v);
        }
        aux("aof-base", b"0");
        RdbWriter { out }
    }

    /// Starts database `db`, which holds `keys` keys of which `expires` have an expiry.
    pub fn select_db(&mut self, db: usize, keys: usize, expires: usize) {
        self.out.push(OP_SELECTDB);
        put_len(&mut self.out, db as u64);
        self.out.push(OP_RESIZEDB);
        put_len(&mut self.out, keys as u64);
        put_len(&mut self.out, expires as u64);
    }

    /// Starts (or returns to) database `db` without a size hint: a snapshot made a stripe at
    /// a time visits each database several times (loaders accept repeated SELECTDB).
    pub fn select_db_only(&mut self, db: usize) {
        self.out.push(OP_SELECTDB);
        put_len(&mut self.out, db as u64);
    }

    /// One key of the current database; `expire_at_ms` 0 = none.
    pub fn key(&mut self, key: &[u8], value: &Value, expire_at_ms: u64) {
        if expire_at_ms != 0 {
            self.out.push(OP_EXPIRETIME_MS);
            self.out.extend_from_slice(&expire_at_ms.to_le_bytes());
        }
        let start = self.out.len();
        write_value(&mut self.out, value);
        // write_value put the type byte first; the key goes between it and the value.
        let kind = self.out[start];
        let body: Vec<u8> = self.out.drain(start + 1..).collect();
        self.out.truncate(start);
        self.out.push(kind);
        put_string(&mut self.out, key);
        self.out.extend_from_slice(&body);
    }

    /// EOF and the CRC-64 of everything before it.
    pub fn finish(mut self) -> Vec<u8> {
        self.out.push(OP_EOF);
        let crc = crc64(0, &self.out);
        self.out.extend_from_slice(&crc.to_le_bytes());
        self.out
    }
}

/// One key read back from an RDB file.
#[derive(Debug, PartialEq)]
pub struct LoadedKey {
    pub db: usize,
    pub key: Vec<u8>,
    pub value: Value,
    pub expire_at_ms: u64,
}

/// An RDB file's aux fields (name, value).
pub type AuxFields = Vec<(Vec<u8>, Vec<u8>)>;

/// Reads a whole RDB file (ours or Redis 7.0's): every key with its database and expiry, and
/// the aux fields. Checks the version and, when present, the checksum.
pub fn load_rdb(data: &[u8], limits: &Limits) -> Result<(Vec<LoadedKey>, AuxFields), RdbError> {
    if data.len() < 9 || &data[..5] != b"REDIS" {
        return Err(RdbError::Format);
    }
    let version: u16 =
        std::str::from_utf8(&data[5..9]).ok().and_then(|v| v.parse().ok()).ok_or(RdbError::Format)?;
    if version > RDB_VERSION {
        return Err(RdbError::Checksum);
    }
    let mut r = Reader::new(data);
    r.take(9)?;
    let (mut keys, mut aux) = (Vec::new(), Vec::new());
    let (mut db, mut expire) = (0usize, 0u64);
    loop {
        let op = r.byte()?;
        match op {
            OP_EOF => break,
            OP_AUX => {
                let k = r.string()?;
                let v = r.string()?;
                aux.push((k, v));
            }
            OP_SELECTDB => db = r.length()? as usize,
            OP_RESIZEDB => {
                r.length()?;
                r.length()?;
            }
            OP_EXPIRETIME_MS => {
                expire = u64::from_le_bytes(r.take(8)?.try_into().map_err(|_| RdbError::Format)?);
            }
            0xfd => {
                // EXPIRETIME in seconds (old files).
                expire =
                    u32::from_le_bytes(r.take(4)?.try_into().map_err(|_| RdbError::Format)?) as u64 * 1000;
            }
            0xf8 => {
                r.length()?; // IDLE
            }
            0xf9 => {
                r.byte()?; // FREQ
            }
            kind => {
                let key = r.string()?;
                let value = read_value(&mut r, kind, limits)?;
                keys.push(LoadedKey { db, key, value, expire_at_ms: std::mem::take(&mut expire) });
            }
        }
    }
    let body_len = r.pos;
    if version >= 5 {
        let crc = u64::from_le_bytes(r.take(8)?.try_into().map_err(|_| RdbError::Format)?);
        if crc != 0 && crc != crc64(0, &data[..body_len]) {
            return Err(RdbError::Checksum);
        }
    }
    Ok((keys, aux))
}

// ---- reading

/// A reader over RDB bytes.
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

// (`load_rdb` reads `pos` to find where the checksummed part ends.)

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data, pos: 0 }
    }

    pub fn at_end(&self) -> bool {
        self.pos == self.data.len()
    }

    pub fn byte(&mut self) -> Result<u8, RdbError> {
        let b = *self.data.get(self.pos).ok_or(RdbError::Format)?;
        self.pos += 1;
        Ok(b)
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8], RdbError> {
        let end = self.pos.checked_add(n).ok_or(RdbError::Format)?;
        let s = self.data.get(self.pos..end).ok_or(RdbError::Format)?;
        self.pos = end;
        Ok(s)
    }

    /// A length, or the special string encoding it announces (Some(kind) with 11xxxxxx).
    fn len_or_special(&mut self) -> Result<(u64, bool), RdbError> {
        let b = self.byte()?;
        Ok(match b >> 6 {
            0 => ((b & 0x3f) as u64, false),
            1 => ((((b & 0x3f) as u64) << 8) | self.byte()? as u64, false),
            2 => match b {
                0x80 => (
                    u32::from_be_bytes(self.take(4)?.try_into().map_err(|_| RdbError::Format)?) as u64,
                    false,
                ),
                0x81 => (u64::from_be_bytes(self.take(8)?.try_into().map_err(|_| RdbError::Format)?), false),
                _ => return Err(RdbError::Format),
            },
            _ => ((b & 0x3f) as u64, true),
        })
    }

    pub fn length(&mut self) -> Result<u64, RdbError> {
        match self.len_or_special()? {
            (n, false) => Ok(n),
            _ => Err(RdbError::Format),
        }
    }

    pub fn string(&mut self) -> Result<Vec<u8>, RdbError> {
        match self.len_or_special()? {
            (n, false) => Ok(self.take(n as usize)?.to_vec()),
            (0, true) => Ok((self.byte()? as i8).to_string().into_bytes()),
            (1, true) => Ok(i16::from_le_bytes(self.take(2)?.try_into().map_err(|_| RdbError::Format)?)
                .to_string()
                .into_bytes()),
            (2, true) => Ok(i32::from_le_bytes(self.take(4)?.try_into().map_err(|_| RdbError::Format)?)
                .to_string()
                .into_bytes()),
            (3, true) => {
                let clen = self.length()? as usize;
                let len = self.length()? as usize;
                let comp = self.take(clen)?;
                lzf::decompress(comp, len).ok_or(RdbError::Format)
            }
            _ => Err(RdbError::Format),
        }
    }

    fn binary_double(&mut self) -> Result<f64, RdbError> {
        Ok(f64::from_le_bytes(self.take(8)?.try_into().map_err(|_| RdbError::Format)?))
    }

    /// Redis's old text score (RDB_TYPE_ZSET): a length byte, or 253/254/255 for nan/+inf/-inf.
    fn text_double(&mut self) -> Result<f64, RdbError> {
        match self.byte()? {
            253 => Err(RdbError::Format),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            n => {
                let s = self.take(n as usize)?;
                std::str::from_utf8(s).ok().and_then(|t| t.parse().ok()).ok_or(RdbError::Format)
            }
        }
    }
}

fn parse_score(s: &[u8]) -> Result<f64, RdbError> {
    let v: f64 = std::str::from_utf8(s).ok().and_then(|t| t.parse().ok()).ok_or(RdbError::Format)?;
    if v.is_nan() {
        return Err(RdbError::Format);
    }
    Ok(v)
}

/// Reads one value of RDB type `kind`. Empty collections are refused, as Redis refuses them.
pub fn read_value(r: &mut Reader, kind: u8, limits: &Limits) -> Result<Value, RdbError> {
    let v = match kind {
        T_STRING => Value::string(&r.string()?),
        T_LIST => {
            let n = r.length()?;
            let mut l = std::collections::VecDeque::new();
            for _ in 0..n {
                l.push_back(r.string()?.into_boxed_slice());
            }
            Value::List(Box::new(l))
        }
        T_LIST_QUICKLIST_2 => {
            let nodes = r.length()?;
            let mut l = std::collections::VecDeque::new();
            for _ in 0..nodes {
                match r.length()? {
                    QL_PLAIN => l.push_back(r.string()?.into_boxed_slice()),
                    QL_PACKED => {
                        let lp = r.string()?;
                        let items = listpack::decode(&lp).ok_or(RdbError::Format)?;
                        if items.is_empty() {
                            return Err(RdbError::Format);
                        }
                        l.extend(items.into_iter().map(Vec::into_boxed_slice));
                    }
                    _ => return Err(RdbError::Format),
                }
            }
            Value::List(Box::new(l))
        }
        T_SET => {
            let n = r.length()?;
            let mut s = Set::default();
            for _ in 0..n {
                s.add(&r.string()?, limits.set_max_intset);
            }
            Value::Set(Box::new(s))
        }
        T_SET_INTSET => {
            let is = r.string()?;
            if is.len() < 8 {
                return Err(RdbError::Format);
            }
            let width = u32::from_le_bytes(is[..4].try_into().map_err(|_| RdbError::Format)?) as usize;
            let n = u32::from_le_bytes(is[4..8].try_into().map_err(|_| RdbError::Format)?) as usize;
            if !matches!(width, 2 | 4 | 8) || is.len() != 8 + n * width {
                return Err(RdbError::Format);
            }
            let mut s = Set::default();
            for c in is[8..].chunks(width) {
                let v = match width {
                    2 => i16::from_le_bytes([c[0], c[1]]) as i64,
                    4 => i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as i64,
                    _ => i64::from_le_bytes(c.try_into().map_err(|_| RdbError::Format)?),
                };
                s.add(v.to_string().as_bytes(), limits.set_max_intset);
            }
            Value::Set(Box::new(s))
        }
        T_HASH => {
            let n = r.length()?;
            let mut h = Hash::default();
            for _ in 0..n {
                let (f, v) = (r.string()?, r.string()?);
                h.set(&f, &v, limits.hash);
            }
            Value::Hash(Box::new(h))
        }
        T_HASH_LISTPACK => {
            let items = listpack::decode(&r.string()?).ok_or(RdbError::Format)?;
            if items.len() % 2 != 0 {
                return Err(RdbError::Format);
            }
            let mut h = Hash::default();
            for p in items.chunks(2) {
                if !h.set(&p[0], &p[1], limits.hash) {
                    return Err(RdbError::Format); // a field twice
                }
            }
            Value::Hash(Box::new(h))
        }
        T_ZSET | T_ZSET_2 => {
            let n = r.length()?;
            let mut z = ZSet::default();
            for _ in 0..n {
                let m = r.string()?;
                let s = if kind == T_ZSET_2 { r.binary_double()? } else { r.text_double()? };
                if s.is_nan() {
                    return Err(RdbError::Format);
                }
                z.insert(&m, s, limits.zset);
            }
            Value::ZSet(Box::new(z))
        }
        T_ZSET_LISTPACK => {
            let items = listpack::decode(&r.string()?).ok_or(RdbError::Format)?;
            if items.len() % 2 != 0 {
                return Err(RdbError::Format);
            }
            let mut z = ZSet::default();
            for p in items.chunks(2) {
                if z.insert(&p[0], parse_score(&p[1])?, limits.zset).is_some() {
                    return Err(RdbError::Format);
                }
            }
            Value::ZSet(Box::new(z))
        }
        _ => return Err(RdbError::Format),
    };
    if v.is_empty_collection() {
        return Err(RdbError::Format);
    }
    Ok(v)
}

/// RESTORE: checks the version and checksum, then reads the value; nothing may follow it.
pub fn restore_payload(payload: &[u8], limits: &Limits) -> Result<Value, RdbError> {
    if payload.len() < 10 {
        return Err(RdbError::Checksum);
    }
    let (body, footer) = payload.split_at(payload.len() - 10);
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    let crc = u64::from_le_bytes(footer[2..].try_into().map_err(|_| RdbError::Checksum)?);
    // A zero checksum means "not computed" (rdbchecksum no), which Redis accepts.
    if version > RDB_VERSION || (crc != 0 && crc != crc64(0, &payload[..payload.len() - 8])) {
        return Err(RdbError::Checksum);
    }
    let mut r = Reader::new(body);
    let kind = r.byte().map_err(|_| RdbError::Format)?;
    let v = read_value(&mut r, kind, limits)?;
    if !r.at_end() {
        return Err(RdbError::Format);
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(v: Value) {
        let p = dump_payload(&v);
        assert_eq!(restore_payload(&p, &Limits::default()).unwrap(), v);
    }

    #[test]
    fn every_type_round_trips() {
        round_trip(Value::string(b"hello"));
        round_trip(Value::string(b"12345"));
        round_trip(Value::string(b"-9223372036854775808"));
        round_trip(Value::string(&[b'z'; 20_000]));
        let mut l = std::collections::VecDeque::new();
        for i in 0..3000 {
            l.push_back(format!("item-{i}").into_bytes().into_boxed_slice());
        }
        round_trip(Value::List(Box::new(l)));
        let mut s = Set::default();
        for i in [1i64, -5, 70000, i64::MAX] {
            s.add(i.to_string().as_bytes(), 512);
        }
        round_trip(Value::Set(Box::new(s.clone())));
        s.add(b"not a number", 512);
        round_trip(Value::Set(Box::new(s)));
        let mut h = Hash::default();
        h.set(b"f", b"v", PackLimits::default());
        round_trip(Value::Hash(Box::new(h.clone())));
        for i in 0..200 {
            h.set(format!("f{i}").as_bytes(), b"x", PackLimits::default());
        }
        round_trip(Value::Hash(Box::new(h)));
        let mut z = ZSet::default();
        z.insert(b"a", 1.5, (128, 64));
        z.insert(b"b", f64::INFINITY, (128, 64));
        round_trip(Value::ZSet(Box::new(z.clone())));
        for i in 0..300 {
            z.insert(format!("m{i}").as_bytes(), i as f64 / 7.0, (128, 64));
        }
        round_trip(Value::ZSet(Box::new(z)));
    }

    #[test]
    fn reads_redis_7_payloads() {
        // redis-server 7.0.15: SET s hello; DUMP s.
        let p = b"\x00\x05hello\n\x00cr\xdfve4 \n";
        assert_eq!(restore_payload(p, &Limits::default()).unwrap(), Value::string(b"hello"));
        assert_eq!(dump_payload(&Value::string(b"hello")), p);
        // HSET h f v g 1; DUMP h: a listpack hash, byte for byte what cachet writes.
        let p = b"\x10\x12\x12\x00\x00\x00\x04\x00\x81f\x02\x81v\x02\x81g\x02\x01\x01\xff\n\x00#\xc1\xa5\xe3]\xfa\xe8\x1c";
        let v = restore_payload(p, &Limits::default()).unwrap();
        assert_eq!(dump_payload(&v), p);
    }

    #[test]
    fn random_bodies_with_valid_checksums_never_panic() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..20_000 {
            let len = (next() % 64) as usize;
            let mut body: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            // Steer half of them to real type bytes so the value readers get exercised.
            if len > 0 && next() % 2 == 0 {
                body[0] = [0u8, 1, 2, 3, 4, 5, 11, 16, 17, 18][(next() % 10) as usize];
            }
            body.extend_from_slice(&RDB_VERSION.to_le_bytes());
            let crc = crc64(0, &body);
            body.extend_from_slice(&crc.to_le_bytes());
            let _ = restore_payload(&body, &Limits::default());
            let _ = load_rdb(&body, &Limits::default());
        }
    }

    #[test]
    fn a_whole_file_round_trips() {
        let mut w = RdbWriter::new(1_700_000_000, 12345, &[("repl-id", b"abc")]);
        w.select_db(0, 2, 1);
        w.key(b"s", &Value::string(b"hello"), 0);
        w.key(b"n", &Value::string(b"42"), 1_900_000_000_000);
        w.select_db(3, 1, 0);
        let mut h = Hash::default();
        h.set(b"f", b"v", PackLimits::default());
        w.key(b"h", &Value::Hash(Box::new(h.clone())), 0);
        let file = w.finish();
        assert!(file.starts_with(b"REDIS0010"));
        let (keys, aux) = load_rdb(&file, &Limits::default()).unwrap();
        assert_eq!(keys.len(), 3);
        assert_eq!(
            keys[1],
            LoadedKey { db: 0, key: b"n".to_vec(), value: Value::Int(42), expire_at_ms: 1_900_000_000_000 }
        );
        assert_eq!(keys[2].db, 3);
        assert_eq!(keys[2].value, Value::Hash(Box::new(h)));
        assert!(aux.iter().any(|(k, v)| k == b"repl-id" && v == b"abc"));
        let mut bad = file.clone();
        let n = bad.len();
        bad[n - 9] ^= 1;
        assert!(load_rdb(&bad, &Limits::default()).is_err());
    }

    #[test]
    fn bad_payloads_are_refused_not_panicked_on() {
        let p = dump_payload(&Value::string(b"hello"));
        let mut bad = p.clone();
        bad[3] ^= 1;
        assert_eq!(restore_payload(&bad, &Limits::default()), Err(RdbError::Checksum));
        let mut newer = p.clone();
        newer[p.len() - 10] = 11;
        assert_eq!(restore_payload(&newer, &Limits::default()), Err(RdbError::Checksum));
        assert_eq!(restore_payload(b"short", &Limits::default()), Err(RdbError::Checksum));
        // Every truncation of a valid body with a recomputed checksum: an error, never a panic.
        let mut full = Vec::new();
        let mut h = Hash::default();
        h.set(b"field", b"value", PackLimits::default());
        write_value(&mut full, &Value::Hash(Box::new(h)));
        for cut in 0..full.len() {
            let mut body = full[..cut].to_vec();
            body.extend_from_slice(&RDB_VERSION.to_le_bytes());
            let crc = crc64(0, &body);
            body.extend_from_slice(&crc.to_le_bytes());
            assert!(restore_payload(&body, &Limits::default()).is_err(), "cut at {cut}");
        }
    }
}
