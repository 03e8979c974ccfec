//! Test-only failure injection: makes one chosen site of the core fail for real, so the
//! tests can prove that failures and panics are contained and reported.
//!
//! Compiled in only with the cargo feature `fault-injection`, which `make test` turns on
//! for the test build and release builds leave off; without it every function here is an
//! empty inline that the compiler removes, so the per-event path pays nothing.
//!
//! `arm_from_env` (called by `start_recording`) reads `CODETRACER_TEST_INJECT` once per
//! session, in the form `KIND:SITE[@N]`:
//! - `KIND` is `panic` (a real Rust panic, unwinding to the nearest guard) or `io` (the
//!   I/O error `EIO`, as a failing disk reports it);
//! - `SITE` is a `sys.monitoring` callback as `monitoring::dispatch` names it
//!   (`on_py_start`, `on_line`, `on_py_return`, …), `start_recording`, or `writer` (the
//!   writer thread, once per batch, see `recorder/writer.rs`);
//! - `N` (default 1): the failure happens the N-th time the site is reached, once.

/// Whether this build has the switch (tests check it, so they cannot pass vacuously).
pub const ENABLED: bool = cfg!(feature = "fault-injection");

pub use imp::{arm_from_env, hit, hit_io};

#[cfg(feature = "fault-injection")]
mod imp {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Mutex, PoisonError};

    use crate::errors::{ErrorCode, RecorderError, RecorderResult};

    /// The variable read at session start.
    pub const ENV_VAR: &str = "CODETRACER_TEST_INJECT";

    #[derive(Clone, Copy)]
    enum Kind {
        Panic,
        Io,
    }

    struct Plan {
        kind: Kind,
        site: String,
        /// Hits left before the failure (1: the next hit fails).
        countdown: u64,
    }

    /// Set while a plan waits, so that sites not named cost one atomic load.
    static ARMED: AtomicBool = AtomicBool::new(false);
    static PLAN: Mutex<Option<Plan>> = Mutex::new(None);

    pub fn arm_from_env() -> RecorderResult<()> {
        let plan = match std::env::var(ENV_VAR) {
            Ok(spec) if !spec.is_empty() => Some(parse(&spec)?),
            _ => None,
        };
        ARMED.store(plan.is_some(), Ordering::SeqCst);
        *PLAN.lock().unwrap_or_else(PoisonError::into_inner) = plan;
        Ok(())
    }

    fn parse(spec: &str) -> RecorderResult<Plan> {
        let bad = || {
            RecorderError::new(
                ErrorCode::InvalidPolicyValue,
                format!("invalid {ENV_VAR} {spec:?}; use KIND:SITE[@N] with KIND panic or io"),
            )
            .with("value", spec)
        };
        let (kind, rest) = spec.split_once(':').ok_or_else(bad)?;
        let kind = match kind {
            "panic" => Kind::Panic,
            "io" => Kind::Io,
            _ => return Err(bad()),
        };
        let (site, countdown) = match rest.split_once('@') {
            Some((site, n)) => (site, n.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(bad)?),
            None => (rest, 1),
        };
        if site.is_empty() {
            return Err(bad());
        }
        Ok(Plan { kind, site: site.to_owned(), countdown })
    }

    /// The failure due at `site` now, if any (it then disarms).
    fn due(site: &str) -> Option<Kind> {
        if !ARMED.load(Ordering::Relaxed) {
            return None;
        }
        let mut slot = PLAN.lock().unwrap_or_else(PoisonError::into_inner);
        let plan = slot.as_mut().filter(|plan| plan.site == site)?;
        plan.countdown -= 1;
        if plan.countdown > 0 {
            return None;
        }
        let kind = plan.kind;
        *slot = None;
        ARMED.store(false, Ordering::SeqCst);
        Some(kind)
    }

    fn injected_panic(site: &str) -> ! {
        std::panic::panic_any(format!("injected panic at {site} ({ENV_VAR})"))
    }

    pub fn hit(site: &'static str) -> RecorderResult<()> {
        match due(site) {
            None => Ok(()),
            Some(Kind::Panic) => injected_panic(site),
            Some(Kind::Io) => Err(RecorderError::new(ErrorCode::Io, format!("injected I/O failure at {site}"))
                .with("site", site)
                .with("os_error", std::io::Error::from_raw_os_error(EIO))),
        }
    }

    pub fn hit_io(site: &'static str) -> std::io::Result<()> {
        match due(site) {
            None => Ok(()),
            Some(Kind::Panic) => injected_panic(site),
            Some(Kind::Io) => Err(std::io::Error::from_raw_os_error(EIO)),
        }
    }

    /// Linux's `EIO`, "Input/output error".
    const EIO: i32 = 5;
}

#[cfg(not(feature = "fault-injection"))]
mod imp {
    use crate::errors::RecorderResult;

    #[inline(always)]
    pub fn arm_from_env() -> RecorderResult<()> {
        Ok(())
    }

    #[inline(always)]
    pub fn hit(_site: &'static str) -> RecorderResult<()> {
        Ok(())
    }

    #[inline(always)]
    pub fn hit_io(_site: &'static str) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(all(test, feature = "fault-injection"))]
mod tests {
    use super::imp::ENV_VAR;
    use super::*;

    // One test: the plan and the variable are process-wide.
    #[test]
    fn a_failure_fires_once_at_the_nth_hit_and_bad_specs_are_refused() {
        std::env::set_var(ENV_VAR, "io:writer@3");
        assert!(arm_from_env().is_ok());
        assert!(hit_io("on_line").is_ok());
        assert!(hit_io("writer").is_ok());
        assert!(hit_io("writer").is_ok());
        assert_eq!(hit_io("writer").unwrap_err().raw_os_error(), Some(5));
        assert!(hit_io("writer").is_ok());
        for spec in ["boom", "panic:", "fire:on_line", "io:writer@0", "io:writer@x"] {
            std::env::set_var(ENV_VAR, spec);
            assert!(arm_from_env().is_err(), "{spec} accepted");
        }
        std::env::remove_var(ENV_VAR);
    }
}
