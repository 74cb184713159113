//! Which command each request is (the SET:GET ratio) and which key it names (the pattern).

use serde::Serialize;

/// A key pattern, as memtier_benchmark's `--key-pattern` letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Pattern {
    /// `R`: uniform over the range.
    Random,
    /// `S`: each connection walks the range in order, the connections interleaved so together
    /// they cover it key by key.
    Sequential,
    /// `G`: normal around the median, clamped to the range (a hot set in the middle).
    Gaussian,
}

impl Pattern {
    fn parse(s: &str) -> Result<Self, String> {
        match s {
            "R" | "r" => Ok(Pattern::Random),
            "S" | "s" => Ok(Pattern::Sequential),
            "G" | "g" => Ok(Pattern::Gaussian),
            _ => Err(format!("--key-pattern: '{s}' is not R, S or G")),
        }
    }

    /// `R` (both) or `S:R` (SETs, GETs).
    pub fn parse_pair(s: &str) -> Result<(Self, Self), String> {
        match s.split_once(':') {
            Some((a, b)) => Ok((Self::parse(a)?, Self::parse(b)?)),
            None => Self::parse(s).map(|p| (p, p)),
        }
    }
}

/// `--ratio SET:GET`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Ratio {
    pub set: u32,
    pub get: u32,
}

impl Ratio {
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || format!("--ratio: expected SET:GET such as 1:10, got '{s}'");
        let (a, b) = s.split_once(':').ok_or_else(bad)?;
        let r =
            Ratio { set: a.trim().parse().map_err(|_| bad())?, get: b.trim().parse().map_err(|_| bad())? };
        if r.set == 0 && r.get == 0 {
            return Err(bad());
        }
        Ok(r)
    }
}

/// The command of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Set,
    Get,
}

/// Deals out SETs and GETs in the ratio, evenly spread: with 1:10 every eleventh request is a
/// SET. Each connection starts at a different place in the cycle.
#[derive(Debug, Clone)]
pub struct OpCycle {
    ratio: Ratio,
    pos: u32,
}

impl OpCycle {
    pub fn new(ratio: Ratio, start: u32) -> Self {
        OpCycle { ratio, pos: start % (ratio.set + ratio.get) }
    }

    pub fn next_op(&mut self) -> Op {
        let period = self.ratio.set + self.ratio.get;
        // Bresenham: a SET whenever the running share of SETs falls behind the ratio.
        let before = self.pos as u64 * self.ratio.set as u64 / period as u64;
        let after = (self.pos as u64 + 1) * self.ratio.set as u64 / period as u64;
        self.pos = (self.pos + 1) % period;
        if after > before {
            Op::Set
        } else {
            Op::Get
        }
    }
}

/// The key range and patterns of a workload.
#[derive(Debug, Clone, Serialize)]
pub struct KeyRange {
    pub min: u64,
    pub max: u64,
    pub set_pattern: Pattern,
    pub get_pattern: Pattern,
    pub median: f64,
    pub stddev: f64,
}

impl KeyRange {
    pub fn new(
        min: u64,
        max: u64,
        set_pattern: Pattern,
        get_pattern: Pattern,
        median: Option<f64>,
        stddev: Option<f64>,
    ) -> Result<Self, String> {
        if min > max {
            return Err(format!("--key-minimum {min} is above --key-maximum {max}"));
        }
        let span = (max - min) as f64;
        let stddev = stddev.unwrap_or(span / 6.0);
        if !stddev.is_finite() || stddev < 0.0 {
            return Err("--key-stddev must be a non-negative number".into());
        }
        let median = median.unwrap_or(min as f64 + span / 2.0);
        Ok(KeyRange { min, max, set_pattern, get_pattern, median, stddev })
    }
}

/// One connection's key source.
pub struct KeyGen {
    range: KeyRange,
    rng: fastrand::Rng,
    next_seq: [u64; 2],
    stride: u64,
}

impl KeyGen {
    /// Connection `index` of `count`: sequential walks start at `min + index` and step by
    /// `count`.
    pub fn new(range: &KeyRange, index: u64, count: u64, seed: u64) -> Self {
        let span = range.max - range.min + 1;
        let start = range.min + index % span.max(1);
        KeyGen {
            range: range.clone(),
            rng: fastrand::Rng::with_seed(seed),
            next_seq: [start; 2],
            stride: count.max(1),
        }
    }

    pub fn next_key(&mut self, op: Op) -> u64 {
        let (pattern, slot) = match op {
            Op::Set => (self.range.set_pattern, 0),
            Op::Get => (self.range.get_pattern, 1),
        };
        let (min, max) = (self.range.min, self.range.max);
        match pattern {
            Pattern::Random => self.rng.u64(min..=max),
            Pattern::Sequential => {
                let k = self.next_seq[slot];
                let span = max - min + 1;
                self.next_seq[slot] = min + (k - min + self.stride % span.max(1)) % span.max(1);
                k
            }
            Pattern::Gaussian => {
                // Box-Muller; u1 in (0, 1] so ln is finite.
                let u1 = 1.0 - self.rng.f64();
                let u2 = self.rng.f64();
                let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                let v = (self.range.median + z * self.range.stddev).round();
                v.clamp(min as f64, max as f64) as u64
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(min: u64, max: u64, p: Pattern) -> KeyRange {
        KeyRange::new(min, max, p, p, None, None).unwrap()
    }

    #[test]
    fn ratio_is_spread_evenly_and_exactly() {
        let mut c = OpCycle::new(Ratio::parse("1:10").unwrap(), 0);
        let ops: Vec<Op> = (0..22).map(|_| c.next_op()).collect();
        assert_eq!(ops.iter().filter(|o| **o == Op::Set).count(), 2);
        let mut c = OpCycle::new(Ratio::parse("3:1").unwrap(), 2);
        let sets = (0..400).filter(|_| c.next_op() == Op::Set).count();
        assert_eq!(sets, 300);
        let mut only_gets = OpCycle::new(Ratio::parse("0:1").unwrap(), 0);
        assert!((0..10).all(|_| only_gets.next_op() == Op::Get));
        let mut only_sets = OpCycle::new(Ratio::parse("1:0").unwrap(), 0);
        assert!((0..10).all(|_| only_sets.next_op() == Op::Set));
    }

    #[test]
    fn sequential_connections_interleave_to_cover_the_range() {
        let r = range(10, 19, Pattern::Sequential);
        let mut a = KeyGen::new(&r, 0, 2, 1);
        let mut b = KeyGen::new(&r, 1, 2, 2);
        let mut seen: Vec<u64> = (0..5).flat_map(|_| [a.next_key(Op::Set), b.next_key(Op::Set)]).collect();
        assert_eq!(seen[..4], [10, 11, 12, 13]);
        seen.sort();
        assert_eq!(seen, (10..20).collect::<Vec<_>>());
        // and it wraps round
        assert_eq!(a.next_key(Op::Set), 10);
    }

    #[test]
    fn random_stays_in_range_and_reaches_both_ends() {
        let mut g = KeyGen::new(&range(5, 9, Pattern::Random), 0, 1, 42);
        let keys: Vec<u64> = (0..1000).map(|_| g.next_key(Op::Get)).collect();
        assert!(keys.iter().all(|k| (5..=9).contains(k)));
        assert!(keys.contains(&5) && keys.contains(&9));
    }

    #[test]
    fn gaussian_centres_on_the_median_within_the_range() {
        let mut g = KeyGen::new(&range(0, 6000, Pattern::Gaussian), 0, 1, 7);
        let keys: Vec<u64> = (0..20_000).map(|_| g.next_key(Op::Get)).collect();
        assert!(keys.iter().all(|k| *k <= 6000));
        let mean = keys.iter().sum::<u64>() as f64 / keys.len() as f64;
        assert!((mean - 3000.0).abs() < 50.0, "mean {mean}");
        // stddev 1000: about 68% within one of the median
        let within = keys.iter().filter(|k| (2000..=4000).contains(*k)).count() as f64 / 20_000.0;
        assert!((0.64..0.72).contains(&within), "{within}");
    }

    #[test]
    fn single_key_range_works_for_every_pattern() {
        for p in [Pattern::Random, Pattern::Sequential, Pattern::Gaussian] {
            let mut g = KeyGen::new(&range(3, 3, p), 5, 7, 1);
            assert!((0..5).all(|_| g.next_key(Op::Set) == 3), "{p:?}");
        }
    }
}
