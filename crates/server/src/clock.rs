//! A cheap per-command clock: the CPU's counter (TSC on x86_64, CNTVCT on aarch64), read in a
//! few nanoseconds where `Instant::now()` (a vDSO call) showed up at several percent of CPU at
//! pipeline 16. Ticks become microseconds through a rate measured against `Instant` over the
//! node's whole life, so it grows more exact with uptime and needs no start-up calibration
//! wait. On other architectures ticks are nanoseconds from `Instant`.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::LazyLock;
use std::time::Instant;

/// The counter now.
#[inline]
pub fn ticks() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: RDTSC reads the time-stamp counter; it has no memory effects and every
        // x86_64 CPU has it.
        unsafe { core::arch::x86_64::_rdtsc() }
    }
    #[cfg(target_arch = "aarch64")]
    {
        let v: u64;
        // SAFETY: reads the virtual counter register, which Linux lets user space read on
        // every aarch64 system; no memory is touched.
        unsafe { core::arch::asm!("mrs {}, cntvct_el0", out(reg) v, options(nomem, nostack)) };
        v
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        EPOCH.1.elapsed().as_nanos() as u64
    }
}

/// The first reading of both clocks.
static EPOCH: LazyLock<(u64, Instant)> = LazyLock::new(|| (ticks(), Instant::now()));

/// Ticks per microsecond × 1024, as last measured (0 = not yet).
static RATE: AtomicU64 = AtomicU64::new(0);

/// Measures the rate (call now and then, e.g. from a worker's tick; cheap).
pub fn calibrate() {
    let (t0, i0) = *EPOCH;
    let us = i0.elapsed().as_micros() as u64;
    if us >= 1000 {
        let dt = ticks().wrapping_sub(t0);
        RATE.store(((dt as u128 * 1024) / us as u128).max(1) as u64, Relaxed);
    }
}

/// Starts the measurement (call once at start-up).
pub fn init() {
    LazyLock::force(&EPOCH);
}

fn rate() -> u64 {
    let r = RATE.load(Relaxed);
    if r != 0 {
        return r;
    }
    calibrate();
    RATE.load(Relaxed)
}

/// Ticks to microseconds.
pub fn to_us(ticks: u64) -> u64 {
    match rate() {
        0 => ticks / 1000,
        r => ((ticks as u128 * 1024) / r as u128) as u64,
    }
}

/// Microseconds to ticks (for thresholds such as `slowlog-log-slower-than`).
pub fn from_us(us: u64) -> u64 {
    match rate() {
        0 => us.saturating_mul(1000),
        r => ((us as u128 * r as u128) / 1024).min(u64::MAX as u128) as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_advance_and_convert_to_about_the_elapsed_time() {
        init();
        let (t0, i0) = (ticks(), Instant::now());
        // Spin (not sleep) for 20 ms of real time, then compare the two clocks.
        while i0.elapsed() < std::time::Duration::from_millis(20) {
            std::hint::spin_loop();
        }
        calibrate();
        let us = to_us(ticks() - t0);
        let real = i0.elapsed().as_micros() as u64;
        // Generous bounds: only a wrong unit (ns vs us, or ticks left unconverted) fails.
        assert!(us > real / 4 && us < real * 4, "{us} us measured vs {real} us elapsed");
        assert!(from_us(to_us(1_000_000)) > 0);
    }
}
