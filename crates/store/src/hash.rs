//! Hash values in Redis's two encodings: a packed vector of field/value pairs in insertion
//! order while small (Redis's `listpack`), a hash table once a limit is passed (`hashtable`).
//! Like Redis, a hash never goes back to the packed form.

use indexmap::IndexMap;

type Table = IndexMap<Box<[u8]>, Box<[u8]>, foldhash::fast::FixedState>;

/// The packed form: field/value pairs in insertion order.
type Packed = Vec<(Box<[u8]>, Box<[u8]>)>;

/// The size limits of the packed encoding (`hash-max-listpack-entries`/`-value`).
#[derive(Clone, Copy, Debug)]
pub struct PackLimits {
    pub entries: usize,
    pub value: usize,
}

impl Default for PackLimits {
    fn default() -> Self {
        PackLimits { entries: 128, value: 64 }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Hash {
    Pack(Packed),
    Table(Table),
}

impl Default for Hash {
    fn default() -> Self {
        Hash::Pack(Vec::new())
    }
}

impl Hash {
    pub fn len(&self) -> usize {
        match self {
            Hash::Pack(v) => v.len(),
            Hash::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// OBJECT ENCODING's name for the current form.
    pub fn encoding(&self) -> &'static str {
        match self {
            Hash::Pack(_) => "listpack",
            Hash::Table(_) => "hashtable",
        }
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match self {
            Hash::Pack(v) => v.iter().find(|(f, _)| &**f == field).map(|(_, val)| &**val),
            Hash::Table(t) => t.get(field).map(|v| &**v),
        }
    }

    /// Sets `field`; returns whether it is new. Converts to a table when the pair or the count
    /// passes `limits`.
    pub fn set(&mut self, field: &[u8], value: &[u8], limits: PackLimits) -> bool {
        if let Hash::Pack(v) = self {
            if field.len() > limits.value || value.len() > limits.value {
                self.convert();
            } else if let Some(slot) = v.iter_mut().find(|(f, _)| &**f == field) {
                slot.1 = value.into();
                return false;
            } else {
                v.push((field.into(), value.into()));
                if v.len() > limits.entries {
                    self.convert();
                }
                return true;
            }
        }
        match self {
            Hash::Table(t) => t.insert(field.into(), value.into()).is_none(),
            Hash::Pack(_) => unreachable!("converted above"),
        }
    }

    /// Removes `field`; returns whether it was there. The packed form keeps the order of the
    /// rest, as a listpack does.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            Hash::Pack(v) => match v.iter().position(|(f, _)| &**f == field) {
                Some(i) => {
                    v.remove(i);
                    true
                }
                None => false,
            },
            Hash::Table(t) => t.swap_remove(field).is_some(),
        }
    }

    pub fn iter(&self) -> Box<dyn Iterator<Item = (&[u8], &[u8])> + '_> {
        match self {
            Hash::Pack(v) => Box::new(v.iter().map(|(f, val)| (&**f, &**val))),
            Hash::Table(t) => Box::new(t.iter().map(|(f, val)| (&**f, &**val))),
        }
    }

    /// The pair at position `i` (for random sampling).
    pub fn get_index(&self, i: usize) -> Option<(&[u8], &[u8])> {
        match self {
            Hash::Pack(v) => v.get(i).map(|(f, val)| (&**f, &**val)),
            Hash::Table(t) => t.get_index(i).map(|(f, val)| (&**f, &**val)),
        }
    }

    fn convert(&mut self) {
        if let Hash::Pack(v) = self {
            let t: Table = std::mem::take(v).into_iter().collect();
            *self = Hash::Table(t);
        }
    }

    pub(crate) fn heap_size(&self) -> usize {
        // Each pair: its bytes plus two boxed-slice headers; the table adds its index.
        let per = match self {
            Hash::Pack(_) => 32,
            Hash::Table(_) => 48,
        };
        self.iter().map(|(f, v)| f.len() + v.len() + per).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_hashes_stay_packed_in_insertion_order_and_convert_past_the_limits() {
        let limits = PackLimits { entries: 3, value: 8 };
        let mut h = Hash::default();
        assert!(h.set(b"b", b"1", limits));
        assert!(h.set(b"a", b"2", limits));
        assert!(!h.set(b"b", b"3", limits));
        assert_eq!(h.iter().map(|(f, _)| f.to_vec()).collect::<Vec<_>>(), vec![b"b".to_vec(), b"a".to_vec()]);
        assert_eq!(h.encoding(), "listpack");
        h.set(b"c", b"x", limits);
        assert_eq!(h.encoding(), "listpack");
        h.set(b"d", b"x", limits);
        assert_eq!(h.encoding(), "hashtable");
        assert!(h.remove(b"d") && h.remove(b"c"));
        assert_eq!(h.encoding(), "hashtable", "never converts back");
        let mut long = Hash::default();
        long.set(b"f", b"123456789", limits);
        assert_eq!(long.encoding(), "hashtable");
        assert_eq!(long.get(b"f"), Some(&b"123456789"[..]));
    }
}
