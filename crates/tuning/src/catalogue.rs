//! The node-type catalogue: one TOML file per family under `tuning/`, embedded at build time
//! (or read from `--tuning-dir` when an operator edits copies).

use serde::Deserialize;
use std::path::Path;

/// The embedded family files, in the order the catalogue lists families.
pub const EMBEDDED: &[(&str, &str)] = &[
    ("r6g", include_str!("../../../tuning/r6g.toml")),
    ("r5", include_str!("../../../tuning/r5.toml")),
    ("r4", include_str!("../../../tuning/r4.toml")),
    ("r3", include_str!("../../../tuning/r3.toml")),
    ("m6g", include_str!("../../../tuning/m6g.toml")),
    ("m5", include_str!("../../../tuning/m5.toml")),
    ("m4", include_str!("../../../tuning/m4.toml")),
    ("m3", include_str!("../../../tuning/m3.toml")),
    ("t4g", include_str!("../../../tuning/t4g.toml")),
    ("t3", include_str!("../../../tuning/t3.toml")),
    ("t2", include_str!("../../../tuning/t2.toml")),
];

/// Family-wide settings that differ between families (see each file for why).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FamilySettings {
    /// Burstable families set this to false: never poll.
    #[serde(default)]
    pub sqpoll: Option<bool>,
    /// From this many vCPUs on, one SQPOLL thread serves all workers on a spare core.
    #[serde(default)]
    pub sqpoll_from_vcpus: Option<usize>,
    /// From this many vCPUs on, one core is left to interrupts and housekeeping.
    pub reserve_core_from_vcpus: usize,
    pub pin_physical_cores_first: bool,
    pub tls13_ciphersuites: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Size {
    pub name: String,
    pub vcpus: usize,
    pub maxmemory_bytes: u64,
    pub maxclients: u64,
    pub network: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Family {
    pub family: String,
    pub arch: String,
    pub cpu: String,
    pub smt: usize,
    pub burstable: bool,
    pub settings: FamilySettings,
    #[serde(rename = "size")]
    pub sizes: Vec<Size>,
}

/// Every supported family.
#[derive(Clone, Debug)]
pub struct Catalogue {
    pub families: Vec<Family>,
}

impl Catalogue {
    /// The catalogue compiled into the binary.
    pub fn embedded() -> Catalogue {
        let families = EMBEDDED
            .iter()
            .map(|(name, text)| toml::from_str(text).unwrap_or_else(|e| panic!("tuning/{name}.toml: {e}")))
            .collect();
        Catalogue { families }
    }

    /// The catalogue from edited copies in `dir` (the same eleven file names).
    pub fn from_dir(dir: &Path) -> Result<Catalogue, String> {
        let mut families = Vec::new();
        for (name, _) in EMBEDDED {
            let path = dir.join(format!("{name}.toml"));
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("tuning-dir: cannot read '{}': {e}", path.display()))?;
            let fam: Family =
                toml::from_str(&text).map_err(|e| format!("tuning-dir: '{}': {e}", path.display()))?;
            families.push(fam);
        }
        Ok(Catalogue { families })
    }

    /// (family, size) for a canonical name such as `cache.r6g.large`.
    pub fn find(&self, name: &str) -> Option<(&Family, &Size)> {
        self.families.iter().find_map(|f| f.sizes.iter().find(|s| s.name == name).map(|s| (f, s)))
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.families.iter().flat_map(|f| f.sizes.iter().map(|s| s.name.as_str()))
    }
}
