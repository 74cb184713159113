//! Sorted sets: members ordered by (score, member), with Redis's encodings reported: `listpack`
//! while small, `skiplist` once `zset-max-listpack-entries`/`-value` is passed (and never back).
//! Stored as a member→score map plus an ordered tree; rank lookups walk the tree (O(rank)).

use std::collections::BTreeSet;
use std::collections::HashMap;

/// A score; never NaN (commands refuse NaN before it gets here). Ordered numerically, so -0
/// equals 0 and ties fall to the member, as in Redis.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Score(pub f64);

impl Eq for Score {}

impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Score {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.partial_cmp(&other.0).unwrap_or(std::cmp::Ordering::Equal)
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ZSet {
    scores: HashMap<Box<[u8]>, f64, foldhash::fast::FixedState>,
    order: BTreeSet<(Score, Box<[u8]>)>,
    /// Passed a packed-encoding limit once (OBJECT ENCODING `skiplist`).
    big: bool,
}

impl Eq for ZSet {}

impl ZSet {
    pub fn len(&self) -> usize {
        self.scores.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    pub fn encoding(&self) -> &'static str {
        if self.big {
            "skiplist"
        } else {
            "listpack"
        }
    }

    pub fn score(&self, m: &[u8]) -> Option<f64> {
        self.scores.get(m).copied()
    }

    /// Sets `m`'s score (adding it if new); returns the previous score. `limits` are
    /// (`zset-max-listpack-entries`, `zset-max-listpack-value`).
    pub fn insert(&mut self, m: &[u8], score: f64, limits: (usize, usize)) -> Option<f64> {
        let old = self.scores.insert(m.into(), score);
        if let Some(o) = old {
            self.order.remove(&(Score(o), Box::from(m)));
        }
        self.order.insert((Score(score), m.into()));
        if self.scores.len() > limits.0 || m.len() > limits.1 {
            self.big = true;
        }
        old
    }

    pub fn remove(&mut self, m: &[u8]) -> Option<f64> {
        let s = self.scores.remove(m)?;
        self.order.remove(&(Score(s), Box::from(m)));
        Some(s)
    }

    /// Members with scores, in order (ascending) or reversed.
    pub fn iter(&self, rev: bool) -> Box<dyn Iterator<Item = (&[u8], f64)> + '_> {
        let it = self.order.iter().map(|(s, m)| (&**m, s.0));
        if rev {
            Box::new(it.rev())
        } else {
            Box::new(it)
        }
    }

    /// 0-based rank of `m` in ascending (or descending) order.
    pub fn rank(&self, m: &[u8], rev: bool) -> Option<usize> {
        let s = self.score(m)?;
        let key = (Score(s), Box::from(m));
        let below = self.order.range(..&key).count();
        Some(if rev { self.len() - 1 - below } else { below })
    }

    pub(crate) fn heap_size(&self) -> usize {
        self.scores.keys().map(|m| 2 * m.len() + 64).sum()
    }
}

/// Formats a score as Redis 7.0 does (`%.17g`): `0.10000000000000001`, `1e+20`, `inf`.
pub fn format_score(v: f64) -> String {
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    // 17 significant digits in scientific form tells the exponent %g decides on.
    let sci = format!("{v:.16e}");
    let (mantissa, exp) = sci.split_once('e').expect("scientific form");
    let exp: i32 = exp.parse().expect("exponent");
    if !(-4..17).contains(&exp) {
        let m = mantissa.trim_end_matches('0').trim_end_matches('.');
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{m}e{sign}{:02}", exp.abs())
    } else {
        let decimals = (16 - exp).max(0) as usize;
        let s = format!("{v:.decimals$}");
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_print_like_printf_g17() {
        for (v, want) in [
            (0.1, "0.10000000000000001"),
            (1.0, "1"),
            (1.5, "1.5"),
            (3.0, "3"),
            (1e20, "1e+20"),
            (1e-5, "1.0000000000000001e-05"),
            (0.30000000000000004, "0.30000000000000004"),
            (123456789.0, "123456789"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (-2.5, "-2.5"),
            (1e16, "10000000000000000"),
            (1e17, "1e+17"),
            (0.0001, "0.0001"),
        ] {
            assert_eq!(format_score(v), want, "{v}");
        }
    }

    #[test]
    fn order_is_by_score_then_member_and_ranks_follow_it() {
        let mut z = ZSet::default();
        let l = (128, 64);
        z.insert(b"b", 1.0, l);
        z.insert(b"a", 1.0, l);
        z.insert(b"c", 0.5, l);
        let order: Vec<&[u8]> = z.iter(false).map(|(m, _)| m).collect();
        assert_eq!(order, vec![&b"c"[..], b"a", b"b"]);
        assert_eq!(z.rank(b"b", false), Some(2));
        assert_eq!(z.rank(b"b", true), Some(0));
        assert_eq!(z.insert(b"c", 5.0, l), Some(0.5));
        assert_eq!(z.rank(b"c", false), Some(2));
        assert_eq!(z.remove(b"a"), Some(1.0));
        assert_eq!(z.len(), 2);
        assert_eq!(z.encoding(), "listpack");
        z.insert(&[b'x'; 65], 1.0, l);
        assert_eq!(z.encoding(), "skiplist");
    }
}
