//! Choosing a node's tuning profile and applying it under the explicit directives.

use crate::config::Config;
use cachet_tls::TlsMode;
use cachet_tuning::{derive, select, Catalogue, Host, NodeProfile, Selection, Subject};

/// The host as this process may use it.
pub fn detect_host() -> Host {
    let allowed: Vec<usize> =
        core_affinity::get_core_ids().unwrap_or_default().iter().map(|c| c.id).collect();
    Host::detect(&allowed)
}

/// A host shaped like `cfg.node-type`'s own instance: its vCPUs (paired into physical cores
/// on SMT families, as Linux numbers siblings on EC2: cpu i and i + vcpus/2) and its memory.
/// For planning and docs: what the profile derives where it is meant to run.
pub fn instance_host(cfg: &Config) -> Result<Host, String> {
    let cat = catalogue(cfg)?;
    let (f, s) = cat
        .find(&cachet_tuning::canonical(&cfg.node_type))
        .ok_or_else(|| format!("--on-instance needs a catalogue node type, not '{}'", cfg.node_type))?;
    let half = (s.vcpus / f.smt.max(1)).max(1);
    let cpus = (0..s.vcpus)
        .map(|id| cachet_tuning::LogicalCpu { id, package: 0, core: if f.smt > 1 { id % half } else { id } })
        .collect();
    Ok(Host { cpus, memory_bytes: s.maxmemory_bytes, product_name: None })
}

/// The catalogue: edited copies from `tuning-dir`, else the embedded one.
pub fn catalogue(cfg: &Config) -> Result<Catalogue, String> {
    match &cfg.tuning_dir {
        Some(dir) => Catalogue::from_dir(dir),
        None => Ok(Catalogue::embedded()),
    }
}

/// Derives the profile for `cfg.node-type` on `host`. The second value explains a generic
/// profile, for the log.
pub fn resolve(cfg: &Config, host: &Host) -> Result<(NodeProfile, Option<String>), String> {
    let cat = catalogue(cfg)?;
    let encryption_on = cfg.transit_encryption_mode != TlsMode::Disabled || cfg.tls_port != 0;
    let selection = select(&cat, &cfg.node_type, host, encryption_on).map_err(|e| e.to_string())?;
    let (subject, why) = match selection {
        Selection::Known(f, s) => (Subject { node_type: s.name.clone(), family: Some((f, s)) }, None),
        Selection::Generic(why) => (Subject { node_type: "generic".into(), family: None }, Some(why)),
    };
    Ok((derive(subject, host, cfg.reserved_memory_percent), why))
}

/// Resolves the profile and writes its settings into every directive the operator did not set;
/// logs what it did. Returns the profile.
pub fn apply(cfg: &mut Config, host: &Host) -> Result<NodeProfile, String> {
    let (profile, why) = resolve(cfg, host)?;
    if let Some(why) = why {
        tracing::info!("{why}");
    }
    for w in &profile.warnings {
        tracing::warn!("{w}");
    }
    let applied = cfg.apply_profile(&profile.settings);
    cfg.node_type = profile.node_type.clone();
    cfg.tuning_profile = profile.tuning_profile.clone();
    tracing::info!(
        node_type = %profile.node_type,
        tuning_profile = %profile.tuning_profile,
        applied = %applied.join(","),
        "tuning profile applied (explicit directives kept)"
    );
    Ok(profile)
}
