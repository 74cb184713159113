//! Tuning profiles for the node types that support in-transit encryption (R6g, R5, R4, R3,
//! M6g, M5, M4, M3, T4g, T3, T2): the catalogue (`tuning/*.toml`, embedded), host detection,
//! name resolution, and the derived [`NodeProfile`].
//!
//! Selecting: a name such as `cache.r6g.large` (the `cache.` prefix optional), or `auto`: the
//! instance type the hypervisor exposes in DMI, else a `generic` profile from the host's cores
//! and memory.

mod catalogue;
mod host;
mod profile;

pub use catalogue::{Catalogue, Family, Size};
pub use host::{pin_order, Host, LogicalCpu};
pub use profile::{derive, NodeProfile, Setting, Subject};

/// The families that support in-transit encryption, as the managed service names them.
pub const SUPPORTED_FAMILIES: &str = "R6g, R5, R4, R3, M6g, M5, M4, M3, T4g, T3, T2";

/// Why a node type cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectError {
    /// A real node type of a family without in-transit encryption (with encryption on).
    Unsupported(String),
    /// Not a node type we know; with the nearest known names.
    Unknown { name: String, nearest: Vec<String> },
}

impl std::fmt::Display for SelectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SelectError::Unsupported(n) => write!(
                f,
                "node type '{n}' does not support in-transit encryption; supported families: {SUPPORTED_FAMILIES}"
            ),
            SelectError::Unknown { name, nearest } => {
                write!(f, "unknown node type '{name}'; nearest known: {}", nearest.join(", "))
            }
        }
    }
}

/// `cache.` + name, lowercased.
pub fn canonical(name: &str) -> String {
    let n = name.trim().to_ascii_lowercase();
    if n.starts_with("cache.") {
        n
    } else {
        format!("cache.{n}")
    }
}

/// Whether `name` looks like a real instance type (`cache.<family>.<size>`), so that an
/// unlisted one is an unsupported family rather than a typo.
fn looks_like_node_type(name: &str) -> Option<&str> {
    let rest = name.strip_prefix("cache.")?;
    let (family, size) = rest.split_once('.')?;
    let fam_ok = family.len() >= 2
        && family.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && family.chars().any(|c| c.is_ascii_digit())
        && family.chars().all(|c| c.is_ascii_alphanumeric());
    let size_ok = matches!(size, "nano" | "micro" | "small" | "medium" | "large" | "xlarge" | "metal")
        || size
            .strip_suffix("xlarge")
            .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
    (fam_ok && size_ok).then_some(family)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, &cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The result of selecting a node type.
pub enum Selection<'a> {
    Known(&'a Family, &'a Size),
    /// Derive from the host (auto without a recognised instance, or an unsupported family with
    /// transit encryption disabled); the string says why, for the log.
    Generic(String),
}

/// Resolves `name` (`auto`, `generic`, or a node type). `encryption_on` is whether the node
/// serves TLS (`transit-encryption-mode` other than `disabled`).
pub fn select<'a>(
    catalogue: &'a Catalogue,
    name: &str,
    host: &Host,
    encryption_on: bool,
) -> Result<Selection<'a>, SelectError> {
    let lower = name.trim().to_ascii_lowercase();
    if lower == "generic" {
        return Ok(Selection::Generic("node-type generic".into()));
    }
    if lower == "auto" {
        if let Some(product) = &host.product_name {
            if let Some((f, s)) = catalogue.find(&canonical(product)) {
                return Ok(Selection::Known(f, s));
            }
            return Ok(Selection::Generic(format!(
                "node-type auto: instance type '{product}' is not in the catalogue; using a generic profile from this host"
            )));
        }
        return Ok(Selection::Generic(
            "node-type auto: the hypervisor exposes no instance type; using a generic profile from this host's cores and memory".into(),
        ));
    }
    let canon = canonical(&lower);
    if let Some((f, s)) = catalogue.find(&canon) {
        return Ok(Selection::Known(f, s));
    }
    if let Some(family) = looks_like_node_type(&canon) {
        if !catalogue.families.iter().any(|f| f.family == family) {
            if encryption_on {
                return Err(SelectError::Unsupported(canon));
            }
            return Ok(Selection::Generic(format!(
                "node type '{canon}' has no profile (its family lacks in-transit encryption); transit encryption is disabled, so using a generic profile"
            )));
        }
    }
    let mut names: Vec<(usize, &str)> = catalogue.names().map(|n| (edit_distance(&canon, n), n)).collect();
    names.sort();
    Err(SelectError::Unknown {
        name: name.trim().into(),
        nearest: names.iter().take(3).map(|(_, n)| n.to_string()).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(cores: usize) -> Host {
        Host {
            cpus: (0..cores).map(|id| LogicalCpu { id, package: 0, core: id }).collect(),
            memory_bytes: 8 << 30,
            product_name: None,
        }
    }

    #[test]
    fn the_catalogue_matches_the_published_csv() {
        // tuning/catalogue.csv is the project's catalogue; every row must be in a family file
        // with the same figures, and nothing else.
        let cat = Catalogue::embedded();
        let csv = include_str!("../../../tuning/catalogue.csv");
        let rows: Vec<Vec<&str>> = csv
            .lines()
            .filter(|l| !l.starts_with('#') && !l.starts_with("node_type") && !l.trim().is_empty())
            .map(|l| l.split(',').collect())
            .collect();
        assert_eq!(rows.len(), cat.names().count());
        for r in rows {
            let (f, s) = cat.find(r[0]).unwrap_or_else(|| panic!("{} missing", r[0]));
            assert_eq!(f.family, r[1]);
            assert_eq!(f.arch, r[2]);
            assert_eq!(f.cpu, r[3]);
            assert_eq!(f.smt.to_string(), r[4]);
            assert_eq!(f.burstable, r[5] == "yes");
            assert_eq!(s.vcpus.to_string(), r[6]);
            assert_eq!(s.maxmemory_bytes.to_string(), r[7]);
            assert_eq!(s.maxclients.to_string(), r[8]);
        }
        assert_eq!(cat.families.len(), 11);
    }

    #[test]
    fn every_node_type_derives_a_consistent_profile() {
        let cat = Catalogue::embedded();
        for big_host in [2, 128] {
            let h = host(big_host);
            for name in cat.names() {
                let (f, s) = cat.find(name).unwrap();
                let p = derive(Subject { node_type: name.into(), family: Some((f, s)) }, &h, 25);
                assert!(
                    p.workers >= 1 && p.workers <= s.vcpus && p.workers <= big_host,
                    "{name}: {}",
                    p.workers
                );
                assert_eq!(p.maxmemory, (s.maxmemory_bytes as u128 * 75 / 100) as u64, "{name}");
                assert_eq!(p.maxclients, s.maxclients);
                if f.burstable {
                    assert!(!p.sqpoll, "{name} must never poll");
                }
                assert!(p.recv_buffers.is_power_of_two() && p.ring_entries.is_power_of_two());
                assert!(cachet_settings_present(&p), "{name}");
                if big_host == 2 && s.vcpus > 2 {
                    assert!(!p.warnings.is_empty(), "{name}: capping must be reported");
                }
            }
        }
    }

    fn cachet_settings_present(p: &NodeProfile) -> bool {
        ["workers", "maxmemory", "maxclients", "io-sqpoll", "tls-session-cache-size"]
            .iter()
            .all(|d| p.settings.iter().any(|s| s.directive == *d && !s.reason.is_empty()))
    }

    #[test]
    fn large_sizes_reserve_a_core_and_poll_only_when_not_burstable() {
        let cat = Catalogue::embedded();
        let h = host(128);
        let p = |n: &str| {
            let (f, s) = cat.find(n).unwrap();
            derive(Subject { node_type: n.into(), family: Some((f, s)) }, &h, 25)
        };
        assert_eq!(p("cache.r6g.large").workers, 2);
        assert_eq!(p("cache.r6g.2xlarge").workers, 7);
        assert!(p("cache.r6g.8xlarge").sqpoll);
        assert!(!p("cache.r6g.4xlarge").sqpoll);
        assert!(!p("cache.t3.medium").sqpoll);
        assert_eq!(p("cache.t2.micro").tcp_socket_buffer, 128 * 1024);
        assert_eq!(p("cache.r5.24xlarge").tcp_socket_buffer, 0);
        assert!(p("cache.m3.large").tls_ciphersuites.starts_with("TLS_AES_128"));
    }

    #[test]
    fn names_resolve_with_or_without_the_prefix_and_errors_say_what_to_do() {
        let cat = Catalogue::embedded();
        let h = host(2);
        assert!(
            matches!(select(&cat, "r6g.large", &h, true), Ok(Selection::Known(_, s)) if s.name == "cache.r6g.large")
        );
        assert!(matches!(select(&cat, "CACHE.T3.MICRO", &h, true), Ok(Selection::Known(..))));
        assert!(matches!(select(&cat, "auto", &h, true), Ok(Selection::Generic(_))));
        let e = select(&cat, "cache.m7g.large", &h, true).err().unwrap();
        assert_eq!(
            e.to_string(),
            "node type 'cache.m7g.large' does not support in-transit encryption; supported families: R6g, R5, R4, R3, M6g, M5, M4, M3, T4g, T3, T2"
        );
        assert!(matches!(select(&cat, "cache.m7g.large", &h, false), Ok(Selection::Generic(_))));
        let e = select(&cat, "cache.r6g.larg", &h, true).err().unwrap();
        assert!(
            e.to_string().starts_with("unknown node type 'cache.r6g.larg'; nearest known: cache.r6g.large"),
            "{e}"
        );
        let e = select(&cat, "cache.r6g.24xlarge", &h, true).err().unwrap();
        assert!(matches!(e, SelectError::Unknown { .. }), "a missing size of a supported family is unknown");
    }
}
