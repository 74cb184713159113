//! Set values in Redis 7.0's two encodings: a sorted vector of integers while every member is
//! a canonical integer and there are few of them (`intset`, so members come back in ascending
//! order as Redis's do), a hash set otherwise (`hashtable`). Like Redis, a set never goes back
//! to the integer form.

use indexmap::IndexSet;

type Table = IndexSet<Box<[u8]>, foldhash::fast::FixedState>;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Set {
    Ints(Vec<i64>),
    Table(Table),
}

impl Default for Set {
    fn default() -> Self {
        Set::Ints(Vec::new())
    }
}

/// A member's integer value when it is the canonical text of an i64 (what intset stores).
fn as_int(m: &[u8]) -> Option<i64> {
    match crate::Value::string(m) {
        crate::Value::Int(i) => Some(i),
        _ => None,
    }
}

impl Set {
    pub fn len(&self) -> usize {
        match self {
            Set::Ints(v) => v.len(),
            Set::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            Set::Ints(_) => "intset",
            Set::Table(_) => "hashtable",
        }
    }

    pub fn contains(&self, m: &[u8]) -> bool {
        match self {
            Set::Ints(v) => as_int(m).is_some_and(|i| v.binary_search(&i).is_ok()),
            Set::Table(t) => t.contains(m),
        }
    }

    /// Adds `m`; returns whether it is new. `max_ints` is `set-max-intset-entries`.
    pub fn add(&mut self, m: &[u8], max_ints: usize) -> bool {
        if let Set::Ints(v) = self {
            match as_int(m) {
                Some(i) => match v.binary_search(&i) {
                    Ok(_) => return false,
                    Err(pos) => {
                        v.insert(pos, i);
                        if v.len() > max_ints {
                            self.convert();
                        }
                        return true;
                    }
                },
                None => self.convert(),
            }
        }
        match self {
            Set::Table(t) => t.insert(m.into()),
            Set::Ints(_) => unreachable!("converted above"),
        }
    }

    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self {
            Set::Ints(v) => match as_int(m).map(|i| v.binary_search(&i)) {
                Some(Ok(pos)) => {
                    v.remove(pos);
                    true
                }
                _ => false,
            },
            Set::Table(t) => t.swap_remove(m),
        }
    }

    /// Members in the set's order (ascending for integer sets).
    pub fn members(&self) -> Vec<Vec<u8>> {
        match self {
            Set::Ints(v) => v.iter().map(|i| i.to_string().into_bytes()).collect(),
            Set::Table(t) => t.iter().map(|m| m.to_vec()).collect(),
        }
    }

    /// The member at position `i` (for random sampling).
    pub fn get_index(&self, i: usize) -> Option<Vec<u8>> {
        match self {
            Set::Ints(v) => v.get(i).map(|n| n.to_string().into_bytes()),
            Set::Table(t) => t.get_index(i).map(|m| m.to_vec()),
        }
    }

    fn convert(&mut self) {
        if let Set::Ints(v) = self {
            let t: Table = v.iter().map(|i| i.to_string().into_bytes().into_boxed_slice()).collect();
            *self = Set::Table(t);
        }
    }

    pub(crate) fn heap_size(&self) -> usize {
        match self {
            Set::Ints(v) => v.len() * 8,
            Set::Table(t) => t.iter().map(|m| m.len() + 40).sum(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_sets_stay_sorted_and_convert_on_a_string_or_past_the_limit() {
        let mut s = Set::default();
        for m in [&b"3"[..], b"1", b"2", b"1"] {
            s.add(m, 4);
        }
        assert_eq!(s.members(), vec![b"1".to_vec(), b"2".to_vec(), b"3".to_vec()]);
        assert_eq!(s.encoding(), "intset");
        assert!(s.contains(b"2") && !s.contains(b"02"));
        s.add(b"4", 4);
        assert_eq!(s.encoding(), "intset");
        s.add(b"5", 4);
        assert_eq!(s.encoding(), "hashtable");
        let mut t = Set::default();
        t.add(b"1", 512);
        t.add(b"a", 512);
        assert_eq!(t.encoding(), "hashtable");
        assert!(t.contains(b"1") && t.remove(b"1") && !t.contains(b"1"));
    }
}
