//! Health counters: events the recorder drops, detaches, caught panics.
//!
//! Two layers. Exact totals are always kept here in plain atomics (`snapshot`), so an
//! exporter (the OpenTelemetry bridge's observable counters) reads them without any call
//! per event. And a host may install a [`RecorderMetrics`] sink that is told of each
//! occurrence: Rust embedders with [`install`], Python hosts with
//! `codetracer_recorder.install_metrics(sink)` (adapted in `api.rs`). The default sink is
//! a no-op.
//!
//! Where the hooks are called, and how often:
//! - `record_dropped_event`: once per code object that a filter skips, at its first
//!   `PY_START` (`recorder/filters.rs`); values redacted are counted in the totals only
//!   (they happen per event, where no sink may run);
//! - `record_detach`: once per session that stops recording after a failure
//!   (`Session::detach`), with the policy that decided and the failure's code;
//! - `record_panic`: each panic caught by a guard (`ffi::guard`, `monitoring::dispatch`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use crate::errors::ErrorCode;

/// Why an event was not recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// Code with no source file (`<string>` from `exec`, `<frozen …>`).
    SyntheticFilename,
    /// Code whose file name is empty.
    UnreadableFilename,
    /// Matched an `exclude` glob.
    Excluded,
    /// `include` globs were given and none matched.
    NotIncluded,
    /// Skipped by default (the standard library).
    DefaultSkip,
    /// A value of a secret-looking name, recorded as `<redacted>`.
    Redacted,
}

impl DropReason {
    pub const ALL: [DropReason; 6] = [
        DropReason::SyntheticFilename,
        DropReason::UnreadableFilename,
        DropReason::Excluded,
        DropReason::NotIncluded,
        DropReason::DefaultSkip,
        DropReason::Redacted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::SyntheticFilename => "synthetic_filename",
            DropReason::UnreadableFilename => "unreadable_filename",
            DropReason::Excluded => "excluded",
            DropReason::NotIncluded => "not_included",
            DropReason::DefaultSkip => "default_skip",
            DropReason::Redacted => "redacted",
        }
    }
}

/// The policy (`on_recorder_error`) under which recording stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DetachReason {
    Abort,
    Disable,
}

impl DetachReason {
    pub const ALL: [DetachReason; 2] = [DetachReason::Abort, DetachReason::Disable];

    pub fn as_str(self) -> &'static str {
        match self {
            DetachReason::Abort => "abort",
            DetachReason::Disable => "disable",
        }
    }
}

/// A host's metrics sink. Every method defaults to doing nothing. Calls come from the
/// thread where the event happened, often inside a `sys.monitoring` callback with the GIL
/// held: a sink must be quick, must not block and must not panic.
pub trait RecorderMetrics: Send + Sync {
    fn record_dropped_event(&self, _reason: DropReason) {}
    fn record_detach(&self, _reason: DetachReason, _error_code: ErrorCode) {}
    fn record_panic(&self, _site: &str) {}
}

/// The default sink.
pub struct NoopMetrics;

impl RecorderMetrics for NoopMetrics {}

static HAS_SINK: AtomicBool = AtomicBool::new(false);
static SINK: RwLock<Option<Arc<dyn RecorderMetrics>>> = RwLock::new(None);

/// Installs `sink` (replacing any other); [`uninstall`] goes back to the no-op default.
pub fn install(sink: Arc<dyn RecorderMetrics>) {
    *SINK.write().unwrap_or_else(PoisonError::into_inner) = Some(sink);
    HAS_SINK.store(true, Ordering::SeqCst);
}

pub fn uninstall() {
    HAS_SINK.store(false, Ordering::SeqCst);
    let old = SINK.write().unwrap_or_else(PoisonError::into_inner).take();
    drop(old);
}

/// The installed sink, if any (cloned out, so the lock is not held while it runs).
fn sink() -> Option<Arc<dyn RecorderMetrics>> {
    if !HAS_SINK.load(Ordering::Relaxed) {
        return None;
    }
    SINK.read().unwrap_or_else(PoisonError::into_inner).clone()
}

static DROPPED: [AtomicU64; DropReason::ALL.len()] = [const { AtomicU64::new(0) }; DropReason::ALL.len()];
static DETACHES: [[AtomicU64; ErrorCode::ALL.len()]; DetachReason::ALL.len()] =
    [const { [const { AtomicU64::new(0) }; ErrorCode::ALL.len()] }; DetachReason::ALL.len()];
static PANICS: Mutex<BTreeMap<String, u64>> = Mutex::new(BTreeMap::new());

/// One dropped event. `Redacted` happens per recorded value, on the per-event path, so it
/// is one atomic add in the totals and is not passed to the sink.
pub fn record_dropped_event(reason: DropReason) {
    DROPPED[reason as usize].fetch_add(1, Ordering::Relaxed);
    if reason == DropReason::Redacted {
        return;
    }
    if let Some(sink) = sink() {
        sink.record_dropped_event(reason);
    }
}

pub fn record_detach(reason: DetachReason, error_code: ErrorCode) {
    let code_index = ErrorCode::ALL.iter().position(|c| *c == error_code).unwrap_or(0);
    DETACHES[reason as usize][code_index].fetch_add(1, Ordering::Relaxed);
    if let Some(sink) = sink() {
        sink.record_detach(reason, error_code);
    }
}

pub fn record_panic(site: &str) {
    *PANICS.lock().unwrap_or_else(PoisonError::into_inner).entry(site.to_owned()).or_default() += 1;
    if let Some(sink) = sink() {
        sink.record_panic(site);
    }
}

/// The totals since the process started.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Snapshot {
    /// Every reason, zero included.
    pub dropped: Vec<(DropReason, u64)>,
    /// Non-zero counts only.
    pub detaches: Vec<(DetachReason, ErrorCode, u64)>,
    /// By site, non-zero only.
    pub panics: BTreeMap<String, u64>,
}

pub fn snapshot() -> Snapshot {
    let dropped = DropReason::ALL.iter().map(|r| (*r, DROPPED[*r as usize].load(Ordering::Relaxed))).collect();
    let mut detaches = Vec::new();
    for reason in DetachReason::ALL {
        for (index, code) in ErrorCode::ALL.iter().enumerate() {
            let n = DETACHES[reason as usize][index].load(Ordering::Relaxed);
            if n > 0 {
                detaches.push((reason, *code, n));
            }
        }
    }
    let panics = PANICS.lock().unwrap_or_else(PoisonError::into_inner).clone();
    Snapshot { dropped, detaches, panics }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Collect(Mutex<Vec<String>>);

    impl RecorderMetrics for Collect {
        fn record_dropped_event(&self, reason: DropReason) {
            self.0.lock().unwrap_or_else(PoisonError::into_inner).push(format!("dropped {}", reason.as_str()));
        }
        fn record_detach(&self, reason: DetachReason, error_code: ErrorCode) {
            self.0.lock().unwrap_or_else(PoisonError::into_inner).push(format!("detach {} {error_code}", reason.as_str()));
        }
        fn record_panic(&self, site: &str) {
            self.0.lock().unwrap_or_else(PoisonError::into_inner).push(format!("panic {site}"));
        }
    }

    #[test]
    fn totals_are_kept_and_an_installed_sink_sees_each_call() {
        let before = snapshot();
        let sink = Arc::new(Collect::default());
        install(sink.clone());
        record_dropped_event(DropReason::Excluded);
        record_detach(DetachReason::Disable, ErrorCode::TracerInstallConflict);
        record_panic("unit_test_site");
        uninstall();
        record_panic("unit_test_site");
        // Other tests (filters) may report drops meanwhile; these three calls are ours.
        let calls = sink.0.lock().unwrap_or_else(PoisonError::into_inner).clone();
        for call in ["dropped excluded", "detach disable ERR_TRACER_INSTALL_CONFLICT", "panic unit_test_site"] {
            assert_eq!(calls.iter().filter(|c| *c == call).count(), 1, "{call} in {calls:?}");
        }
        let after = snapshot();
        let excluded = |s: &Snapshot| s.dropped.iter().find(|(r, _)| *r == DropReason::Excluded).map_or(0, |(_, n)| *n);
        assert_eq!(excluded(&after), excluded(&before) + 1);
        assert!(after.detaches.iter().any(|(r, c, n)| (*r, *c) == (DetachReason::Disable, ErrorCode::TracerInstallConflict) && *n >= 1));
        assert_eq!(after.panics["unit_test_site"], 2);
    }
}
