//! What the host is: cores and their topology (sysfs), memory, and the instance type where the
//! hypervisor exposes it.

use std::path::Path;

/// One logical CPU and the physical core it belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogicalCpu {
    pub id: usize,
    pub package: usize,
    pub core: usize,
}

/// The host as seen by this process.
#[derive(Clone, Debug)]
pub struct Host {
    /// CPUs this process may run on, with their topology.
    pub cpus: Vec<LogicalCpu>,
    pub memory_bytes: u64,
    /// `/sys/devices/virtual/dmi/id/product_name`, e.g. `r6g.large` on EC2 (Nitro).
    pub product_name: Option<String>,
}

fn read_num(path: &Path) -> Option<usize> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

impl Host {
    /// Reads the host; `allowed` are the CPU ids the process may use.
    pub fn detect(allowed: &[usize]) -> Host {
        let cpus = allowed
            .iter()
            .map(|&id| {
                let topo = Path::new("/sys/devices/system/cpu").join(format!("cpu{id}/topology"));
                LogicalCpu {
                    id,
                    package: read_num(&topo.join("physical_package_id")).unwrap_or(0),
                    // Without topology, treat every CPU as its own core.
                    core: read_num(&topo.join("core_id")).unwrap_or(id),
                }
            })
            .collect();
        let memory_bytes = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| {
                m.lines()
                    .find_map(|l| l.strip_prefix("MemTotal:"))
                    .and_then(|v| v.split_whitespace().next())
                    .and_then(|kb| kb.parse::<u64>().ok())
            })
            .map(|kb| kb * 1024)
            .unwrap_or(0);
        let product_name = std::fs::read_to_string("/sys/devices/virtual/dmi/id/product_name")
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
        Host { cpus, memory_bytes, product_name }
    }

    pub fn cores(&self) -> usize {
        self.cpus.len().max(1)
    }
}

/// The order in which workers take CPUs. With `physical_first`, the first logical CPU of every
/// physical core comes before any core's second thread, so workers share a core's execution
/// units only once every core has one.
pub fn pin_order(cpus: &[LogicalCpu], physical_first: bool) -> Vec<usize> {
    let mut sorted = cpus.to_vec();
    sorted.sort_by_key(|c| c.id);
    if !physical_first {
        return sorted.iter().map(|c| c.id).collect();
    }
    let mut firsts = Vec::new();
    let mut rest = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for c in sorted {
        if seen.insert((c.package, c.core)) {
            firsts.push(c.id);
        } else {
            rest.push(c.id);
        }
    }
    firsts.extend(rest);
    firsts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn physical_cores_come_before_siblings() {
        // 4 logical CPUs on 2 cores, siblings numbered as Linux does on many Intel hosts
        // (0 and 2 share core 0, 1 and 3 share core 1).
        let cpus = [
            LogicalCpu { id: 0, package: 0, core: 0 },
            LogicalCpu { id: 1, package: 0, core: 1 },
            LogicalCpu { id: 2, package: 0, core: 0 },
            LogicalCpu { id: 3, package: 0, core: 1 },
        ];
        assert_eq!(pin_order(&cpus, true), vec![0, 1, 2, 3]);
        // Siblings numbered adjacently (0 and 1 share a core).
        let cpus = [
            LogicalCpu { id: 0, package: 0, core: 0 },
            LogicalCpu { id: 1, package: 0, core: 0 },
            LogicalCpu { id: 2, package: 0, core: 1 },
            LogicalCpu { id: 3, package: 0, core: 1 },
        ];
        assert_eq!(pin_order(&cpus, true), vec![0, 2, 1, 3]);
        assert_eq!(pin_order(&cpus, false), vec![0, 1, 2, 3]);
    }

    #[test]
    fn this_host_is_readable() {
        let h = Host::detect(&[0]);
        assert!(h.memory_bytes > 0);
        assert_eq!(h.cores(), 1);
    }
}
