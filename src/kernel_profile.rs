//! Which GPU kernels a piece of work launches, how often, and for how long (`--features gpu`).
//!
//! [`KernelProfile::record`] runs a closure with a launch observer of cubecl (the runtime under
//! burn's wgpu backend) installed: every kernel the closure issues, on any GPU, is counted by
//! name and, when asked, timed on its own (each launch is waited for, so the times are each
//! kernel's own cost and their sum is more than the pass takes when kernels overlap). The
//! table serves the per-kernel profile of `bench/gpu_profile.rs` and the tests that a training
//! step contains no serial kernel.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cubecl_runtime::config::{TypeNameFormatLevel, type_name_format};
use cubecl_runtime::logging::{LaunchObservation, LaunchObserver, TimingMethod, TimingRequest};

/// One kernel of a profile: its short name, the launches and their summed time.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct KernelRow {
    /// The kernel's name without module path and generic arguments, as cubecl's log writes it.
    pub name: String,
    /// How many times it was launched.
    pub launches: usize,
    /// The summed time of its launches (zero when the profile was not timed).
    pub time: Duration,
    /// Launches whose time is the host's clock around a blocking submit, not the device's
    /// (wgpu falls back to it when it runs out of timestamp queries): compilation included.
    pub host_timed: usize,
}

/// The kernels launched while [`KernelProfile::record`] ran, by name.
#[derive(Debug, Clone, Default)]
pub struct KernelProfile {
    rows: Vec<KernelRow>,
}

#[derive(Default)]
struct Tally {
    timed: bool,
    kernels: Mutex<BTreeMap<&'static str, KernelRow>>,
}

impl Tally {
    fn row(&self, kernel: &'static str, f: impl FnOnce(&mut KernelRow)) {
        let mut kernels = self.kernels.lock().unwrap_or_else(|e| e.into_inner());
        let row = kernels.entry(kernel).or_insert_with(|| KernelRow {
            name: type_name_format(kernel, TypeNameFormatLevel::Short),
            ..KernelRow::default()
        });
        f(row);
    }
}

impl LaunchObserver for Tally {
    fn launched(&self, kernel: &'static str) {
        self.row(kernel, |row| row.launches += 1);
    }

    fn timing(&self) -> TimingRequest {
        if self.timed {
            TimingRequest::Resolved
        } else {
            TimingRequest::None
        }
    }

    fn timed(&self, kernel: &'static str, duration: Duration, method: TimingMethod) {
        self.row(kernel, |row| {
            row.time += duration;
            if matches!(method, TimingMethod::System) {
                row.host_timed += 1;
            }
        });
    }
}

impl KernelProfile {
    /// Runs `work` and returns its result with the kernels it launched; `timed` also times each
    /// launch on its own (slower: every kernel is waited for).
    pub fn record<T>(timed: bool, work: impl FnOnce() -> T) -> (T, KernelProfile) {
        let tally = Arc::new(Tally {
            timed,
            ..Tally::default()
        });
        let watching = LaunchObservation::new(tally.clone());
        let out = work();
        drop(watching);
        let kernels = std::mem::take(&mut *tally.kernels.lock().unwrap_or_else(|e| e.into_inner()));
        // Kernels of the same short name (different generic arguments) are one row.
        let mut rows: BTreeMap<String, KernelRow> = BTreeMap::new();
        for row in kernels.into_values() {
            let merged = rows.entry(row.name.clone()).or_insert_with(|| KernelRow {
                name: row.name.clone(),
                ..KernelRow::default()
            });
            merged.launches += row.launches;
            merged.time += row.time;
            merged.host_timed += row.host_timed;
        }
        let mut rows: Vec<KernelRow> = rows.into_values().collect();
        rows.sort_by(|a, b| b.time.cmp(&a.time).then(b.launches.cmp(&a.launches)));
        (out, KernelProfile { rows })
    }

    /// The kernels, the most time first (then the most launches).
    pub fn rows(&self) -> &[KernelRow] {
        &self.rows
    }

    /// All launches.
    pub fn launches(&self) -> usize {
        self.rows.iter().map(|r| r.launches).sum()
    }

    /// The launches of kernels whose name contains `part` (case-insensitive).
    pub fn launches_of(&self, part: &str) -> usize {
        let part = part.to_lowercase();
        self.rows
            .iter()
            .filter(|r| r.name.to_lowercase().contains(&part))
            .map(|r| r.launches)
            .sum()
    }

    /// The profile as a Markdown table: kernel, launches, total ms, share of the total time.
    pub fn table(&self) -> String {
        let total: Duration = self.rows.iter().map(|r| r.time).sum();
        let mut out = String::from("| kernel | launches | ms | share |\n|---|---:|---:|---:|\n");
        for r in &self.rows {
            let share = if total.is_zero() {
                0.0
            } else {
                100.0 * r.time.as_secs_f64() / total.as_secs_f64()
            };
            let host = if r.host_timed > 0 {
                format!(" ({} host-timed)", r.host_timed)
            } else {
                String::new()
            };
            out += &format!(
                "| {}{host} | {} | {:.3} | {share:.1}% |\n",
                r.name,
                r.launches,
                r.time.as_secs_f64() * 1e3
            );
        }
        out += &format!(
            "| **all** | {} | {:.3} | 100% |\n",
            self.launches(),
            total.as_secs_f64() * 1e3
        );
        out
    }
}
