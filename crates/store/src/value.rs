//! Values and their entries in a stripe.

use crate::hash::Hash;
use crate::set::Set;
use crate::zset::ZSet;

/// Bytes of a string kept inline in [`Str`].
pub const INLINE: usize = 22;

/// A string's bytes: up to [`INLINE`] in place, longer ones boxed. 24 bytes either way, and
/// `Value` stays 24 bytes as well: the compiler keeps `Value`'s own variant in the values
/// `Str`'s tag byte never takes. So a short string costs no allocation, and a GET copies it
/// from the entry its lookup has just loaded instead of taking a cache miss on a separate
/// allocation, without growing any entry. (smallvec's and similar crates' inline vectors have
/// no spare tag values, which makes `Value` 8 bytes larger for every key.)
#[derive(Clone)]
pub enum Str {
    Inline { len: u8, buf: [u8; INLINE] },
    Heap(Box<[u8]>),
}

impl Str {
    /// Takes a vector's bytes, without copying when they go on the heap.
    pub fn from_vec(v: Vec<u8>) -> Str {
        if v.len() <= INLINE {
            Str::from(&v[..])
        } else {
            Str::Heap(v.into_boxed_slice())
        }
    }

    pub fn is_inline(&self) -> bool {
        matches!(self, Str::Inline { .. })
    }
}

impl From<&[u8]> for Str {
    fn from(b: &[u8]) -> Str {
        if b.len() <= INLINE {
            let mut buf = [0u8; INLINE];
            buf[..b.len()].copy_from_slice(b);
            Str::Inline { len: b.len() as u8, buf }
        } else {
            Str::Heap(b.into())
        }
    }
}

impl std::ops::Deref for Str {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Str::Inline { len, buf } => &buf[..*len as usize],
            Str::Heap(b) => b,
        }
    }
}

impl PartialEq for Str {
    fn eq(&self, other: &Str) -> bool {
        **self == **other
    }
}

impl Eq for Str {}

impl std::fmt::Debug for Str {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
}

/// A stored value. Each command checks the variant and answers `-WRONGTYPE` for the others,
/// as Redis does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// A string that is the canonical text of an i64 (Redis's `int` encoding): INCR works on it
    /// without parsing, and it costs no heap.
    Int(i64),
    /// Any other string.
    Raw(Str),
    /// A hash (boxed: keeps `Value` two words, the size strings need).
    Hash(Box<Hash>),
    Set(Box<Set>),
    ZSet(Box<ZSet>),
    /// A list (Redis 7.0 reports its encoding as `quicklist`).
    List(Box<std::collections::VecDeque<Box<[u8]>>>),
}

impl Value {
    /// Builds a string value, choosing the integer encoding when the bytes are exactly an i64's
    /// canonical decimal text (so `GET` returns the same bytes).
    pub fn string(bytes: &[u8]) -> Value {
        if bytes.len() <= 20 {
            if let Some(v) = cachet_parse_i64(bytes) {
                return Value::Int(v);
            }
        }
        Value::Raw(Str::from(bytes))
    }

    pub(crate) fn heap_size(&self) -> usize {
        match self {
            Value::Int(_) => 0,
            Value::Raw(b) => b.len(),
            Value::Hash(h) => h.heap_size(),
            Value::Set(s) => s.heap_size(),
            Value::List(l) => l.iter().map(|e| e.len() + 16).sum(),
            Value::ZSet(z) => z.heap_size(),
        }
    }

    /// A collection with nothing left in it, which Redis deletes.
    pub fn is_empty_collection(&self) -> bool {
        match self {
            Value::Hash(h) => h.is_empty(),
            Value::Set(s) => s.is_empty(),
            Value::List(l) => l.is_empty(),
            Value::ZSet(z) => z.is_empty(),
            _ => false,
        }
    }

    pub fn is_string(&self) -> bool {
        matches!(self, Value::Int(_) | Value::Raw(_))
    }

    /// TYPE's name for the value.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Int(_) | Value::Raw(_) => "string",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::List(_) => "list",
            Value::ZSet(_) => "zset",
        }
    }

    /// The string's bytes (an integer's decimal text), copied; empty for other types (callers
    /// check [`Value::is_string`] first).
    pub fn to_vec(&self) -> Vec<u8> {
        match self {
            Value::Int(i) => i.to_string().into_bytes(),
            Value::Raw(b) => b.to_vec(),
            _ => Vec::new(),
        }
    }

    /// STRLEN: the length of the string form (0 for other types; callers check first).
    pub fn str_len(&self) -> usize {
        match self {
            Value::Int(i) => {
                let mut n = if *i < 0 { 2 } else { 1 };
                let mut v = i.unsigned_abs();
                while v >= 10 {
                    v /= 10;
                    n += 1;
                }
                n
            }
            Value::Raw(b) => b.len(),
            _ => 0,
        }
    }
}

/// Canonical-decimal check, like Redis's `string2ll` (no `+`, no leading zeros, no spaces).
fn cachet_parse_i64(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.first()? {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || (digits[0] == b'0' && (digits.len() > 1 || neg)) {
        return None;
    }
    let mut v: i128 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (c - b'0') as i128;
    }
    let v = if neg { -v } else { v };
    i64::try_from(v).ok()
}

/// A value, its absolute expiry time in Unix milliseconds (0 = never), and when it was last
/// used, as Redis's `lru` bits of an object hold it: under an LRU (or no) policy the access
/// time in milliseconds (wrapping every 49 days; Redis keeps seconds, too coarse to tell keys
/// of the same second apart); under an LFU policy the time in minutes (bits 8..24) and a
/// logarithmic access counter (low 8 bits). The bucket that holds an entry is 64 bytes with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub value: Value,
    pub expire_at_ms: u64,
    pub access: u32,
}

/// Redis's `LFU_INIT_VAL`: a new key's counter, so it is not evicted before it had a chance.
pub const LFU_INIT: u32 = 5;

/// How keys' last use is recorded (the `maxmemory-policy` family), with the LFU knobs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccessPolicy {
    pub lfu: bool,
    /// `lfu-log-factor`
    pub log_factor: u32,
    /// `lfu-decay-time`, minutes
    pub decay_minutes: u32,
}

impl Default for AccessPolicy {
    fn default() -> Self {
        AccessPolicy { lfu: false, log_factor: 10, decay_minutes: 1 }
    }
}

fn lru_clock(now_ms: u64) -> u32 {
    now_ms as u32
}

fn lfu_minutes(now_ms: u64) -> u32 {
    ((now_ms / 60_000) & 0xFFFF) as u32
}

impl AccessPolicy {
    /// The access field of a new key.
    pub fn initial(&self, now_ms: u64) -> u32 {
        if self.lfu {
            (lfu_minutes(now_ms) << 8) | LFU_INIT
        } else {
            lru_clock(now_ms)
        }
    }

    /// The access field after one more use; `random` is a uniformly random u64.
    pub fn touched(&self, access: u32, now_ms: u64, random: u64) -> u32 {
        if !self.lfu {
            return lru_clock(now_ms);
        }
        let mut counter = self.decayed(access, now_ms);
        if counter < 255 {
            let base = counter.saturating_sub(LFU_INIT) as f64;
            let p = 1.0 / (base * self.log_factor as f64 + 1.0);
            let r = (random >> 11) as f64 / (1u64 << 53) as f64;
            if r < p {
                counter += 1;
            }
        }
        (lfu_minutes(now_ms) << 8) | counter
    }

    /// The LFU counter after the decay for the minutes since it was last used (OBJECT FREQ).
    pub fn decayed(&self, access: u32, now_ms: u64) -> u32 {
        let counter = access & 0xFF;
        let last = access >> 8;
        let now = lfu_minutes(now_ms);
        let elapsed = if now >= last { now - last } else { 65_535 - last + now };
        let periods = elapsed.checked_div(self.decay_minutes).unwrap_or(0);
        counter.saturating_sub(periods)
    }

    /// Milliseconds since last use under LRU.
    pub fn idle_ms(&self, access: u32, now_ms: u64) -> u64 {
        lru_clock(now_ms).wrapping_sub(access) as u64
    }

    /// Seconds since last use under LRU (OBJECT IDLETIME).
    pub fn idle_secs(&self, access: u32, now_ms: u64) -> u64 {
        self.idle_ms(access, now_ms) / 1000
    }

    /// How strongly a key should be kept (higher = keep): eviction drops the lowest sampled.
    pub fn keep_score(&self, access: u32, now_ms: u64) -> u64 {
        if self.lfu {
            self.decayed(access, now_ms) as u64
        } else {
            u64::MAX - self.idle_ms(access, now_ms)
        }
    }
}

impl Entry {
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expire_at_ms != 0 && self.expire_at_ms <= now_ms
    }

    pub(crate) fn heap_size(&self) -> usize {
        self.value.heap_size() + std::mem::size_of::<Entry>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_canonical_integers_take_the_int_encoding() {
        assert_eq!(Value::string(b"123"), Value::Int(123));
        assert_eq!(Value::string(b"-5"), Value::Int(-5));
        assert_eq!(Value::string(b"0"), Value::Int(0));
        assert!(matches!(Value::string(b"007"), Value::Raw(_)));
        assert!(matches!(Value::string(b"-0"), Value::Raw(_)));
        assert!(matches!(Value::string(b"+1"), Value::Raw(_)));
        assert!(matches!(Value::string(b"99999999999999999999"), Value::Raw(_)));
    }

    #[test]
    fn lru_idle_time_counts_seconds_and_lfu_counts_grow_slowly_and_decay() {
        let lru = AccessPolicy::default();
        let a = lru.initial(10_000);
        assert_eq!(lru.idle_secs(a, 15_500), 5);
        let lfu = AccessPolicy { lfu: true, ..AccessPolicy::default() };
        let mut a = lfu.initial(0);
        assert_eq!(lfu.decayed(a, 0), LFU_INIT);
        let mut seed = 0x1234_5678_9abc_def1u64;
        for _ in 0..10_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            a = lfu.touched(a, 0, seed);
        }
        let hot = lfu.decayed(a, 0);
        // Logarithmic: 10 000 uses with log factor 10 land far below 255 but well above 5.
        assert!(hot > 15 && hot < 60, "counter {hot}");
        // One point lost per decay period (a minute) without use.
        assert_eq!(lfu.decayed(a, 3 * 60_000), hot - 3);
        assert!(lfu.keep_score(a, 0) > lfu.keep_score(lfu.initial(0), 0));
    }

    #[test]
    fn string_length_of_integers_counts_their_digits() {
        for v in [0i64, 9, 10, -1, -10, i64::MAX, i64::MIN] {
            assert_eq!(Value::Int(v).str_len(), v.to_string().len(), "{v}");
        }
    }
}

#[cfg(test)]
mod layout {
    use super::*;

    #[test]
    fn short_strings_are_inline_and_cost_no_size() {
        assert_eq!(std::mem::size_of::<Str>(), 24);
        assert_eq!(std::mem::size_of::<Value>(), 24, "Value's variant lives in Str's spare tag values");
        for n in [0, 1, 21, 22, 23, 100] {
            let bytes: Vec<u8> = (0..n as u8).collect();
            let v = Value::string(&bytes);
            let Value::Raw(s) = &v else { panic!("{n} bytes") };
            assert_eq!(s.is_inline(), n <= INLINE, "{n} bytes");
            assert_eq!(&s[..], &bytes[..]);
            assert_eq!(v.to_vec(), bytes);
            assert_eq!(Str::from_vec(bytes.clone()), *s);
        }
        assert_ne!(Str::from(&b"ab"[..]), Str::from(&b"abc"[..]));
    }
}
