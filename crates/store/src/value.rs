//! Values and their entries in a stripe.

use crate::hash::Hash;
use crate::set::Set;
use crate::zset::ZSet;

/// A stored value. Each command checks the variant and answers `-WRONGTYPE` for the others,
/// as Redis does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// A string that is the canonical text of an i64 (Redis's `int` encoding): INCR works on it
    /// without parsing, and it costs no heap.
    Int(i64),
    /// Any other string.
    Raw(Box<[u8]>),
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
        Value::Raw(bytes.into())
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

/// A value and its absolute expiry time in Unix milliseconds (0 = never).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub value: Value,
    pub expire_at_ms: u64,
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
    fn string_length_of_integers_counts_their_digits() {
        for v in [0i64, 9, 10, -1, -10, i64::MAX, i64::MIN] {
            assert_eq!(Value::Int(v).str_len(), v.to_string().len(), "{v}");
        }
    }
}
