//! Which code is recorded. Decided once per code object, at its first `PY_START`;
//! code that is skipped is then switched off with `sys.monitoring.DISABLE`.
//!
//! The rule, in order:
//! 0. the recorder's own code and OpenTelemetry's (`never_prefixes`) are never recorded;
//! 1. synthetic code (`<string>`, `<frozen importlib._bootstrap>`, …) and code with no
//!    file name are skipped: they have no source file a replay could show;
//! 2. code whose module name or file path matches an `exclude` glob is skipped;
//! 3. if `include` globs were given, code is recorded only when one matches;
//! 4. otherwise code under a default skip prefix (the standard library, the recorder,
//!    OpenTelemetry) is skipped and everything else is recorded.
//!
//! Globs use `*` for any run of characters (dots and slashes included), `?` for one,
//! and `[...]` for a class; they are matched against the whole module name
//! (`mypkg.*`) and the whole file path (`*/vendor/*`).

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use crate::errors::{ErrorCode, RecorderError, RecorderResult};
use crate::metrics::DropReason;

/// Why a code object is not recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    Internal,
    /// `<string>`, `<frozen …>`: no file on disk.
    Synthetic,
    /// No file name at all.
    Unreadable,
    Excluded,
    NotIncluded,
    DefaultSkip,
}

impl Skip {
    /// The `dropped_events` reason of this skip (none for the recorder's own code).
    fn metric_reason(self) -> Option<DropReason> {
        match self {
            Skip::Internal => None,
            Skip::Synthetic => Some(DropReason::SyntheticFilename),
            Skip::Unreadable => Some(DropReason::UnreadableFilename),
            Skip::Excluded => Some(DropReason::Excluded),
            Skip::NotIncluded => Some(DropReason::NotIncluded),
            Skip::DefaultSkip => Some(DropReason::DefaultSkip),
        }
    }
}

pub struct Filters {
    include: Option<GlobSet>,
    exclude: Option<GlobSet>,
    skip_prefixes: Vec<String>,
    never_prefixes: Vec<String>,
}

impl Filters {
    pub fn new(include: &[String], exclude: &[String], skip_prefixes: &[String], never_prefixes: &[String]) -> RecorderResult<Self> {
        let non_empty = |prefixes: &[String]| prefixes.iter().filter(|p| !p.is_empty()).cloned().collect();
        Ok(Filters {
            include: build_set("include", include)?,
            exclude: build_set("exclude", exclude)?,
            skip_prefixes: non_empty(skip_prefixes),
            never_prefixes: non_empty(never_prefixes),
        })
    }

    /// `None` when the code is recorded, otherwise why it is skipped. Called once per code
    /// object (at its first `PY_START`), so a skip is counted once per code object
    /// (`metrics::record_dropped_event`); the recorder's own code is not counted.
    pub fn skip(&self, module: &str, path: &str) -> Option<Skip> {
        let skip = self.classify(module, path);
        if let Some(reason) = skip.and_then(Skip::metric_reason) {
            crate::metrics::record_dropped_event(reason);
        }
        skip
    }

    fn classify(&self, module: &str, path: &str) -> Option<Skip> {
        if self.never_prefixes.iter().any(|prefix| under(path, prefix)) {
            return Some(Skip::Internal);
        }
        if path.is_empty() {
            return Some(Skip::Unreadable);
        }
        if is_synthetic(path) {
            return Some(Skip::Synthetic);
        }
        let matches = |set: &GlobSet| set.is_match(module) || set.is_match(path);
        if self.exclude.as_ref().is_some_and(matches) {
            return Some(Skip::Excluded);
        }
        match &self.include {
            Some(include) if matches(include) => None,
            Some(_) => Some(Skip::NotIncluded),
            None if self.skip_prefixes.iter().any(|prefix| under(path, prefix)) => Some(Skip::DefaultSkip),
            None => None,
        }
    }
}

/// `<string>`, `<stdin>`, `<frozen …>` and the like name no file on disk.
pub fn is_synthetic(path: &str) -> bool {
    path.is_empty() || (path.starts_with('<') && path.ends_with('>'))
}

/// True when `path` is `prefix` itself or inside the directory `prefix`.
fn under(path: &str, prefix: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    path.strip_prefix(prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

fn build_set(option: &str, globs: &[String]) -> RecorderResult<Option<GlobSet>> {
    if globs.is_empty() {
        return Ok(None);
    }
    let mut builder = GlobSetBuilder::new();
    for glob in globs {
        let parsed = GlobBuilder::new(glob).literal_separator(false).build().map_err(|err| {
            RecorderError::new(ErrorCode::InvalidPolicyValue, format!("invalid {option} glob {glob:?}: {err}"))
                .with("option", option)
                .with("value", glob)
        })?;
        builder.add(parsed);
    }
    builder
        .build()
        .map(Some)
        .map_err(|err| RecorderError::new(ErrorCode::InvalidPolicyValue, format!("invalid {option} globs: {err}")).with("option", option))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn own(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn filters(include: &[&str], exclude: &[&str]) -> Filters {
        match Filters::new(&own(include), &own(exclude), &own(&["/usr/lib/python3.12"]), &own(&["/site/codetracer_recorder/"])) {
            Ok(f) => f,
            Err(err) => panic!("valid globs rejected: {err}"), // allow-panic: test helper
        }
    }

    #[test]
    fn synthetic_code_is_always_skipped() {
        let f = filters(&["*"], &[]);
        assert_eq!(f.skip("__main__", "<string>"), Some(Skip::Synthetic));
        assert_eq!(f.skip("importlib._bootstrap", "<frozen importlib._bootstrap>"), Some(Skip::Synthetic));
        assert_eq!(f.skip("m", ""), Some(Skip::Unreadable));
    }

    #[test]
    fn the_recorder_itself_is_never_recorded_even_when_included() {
        let f = filters(&["*"], &[]);
        assert_eq!(f.skip("codetracer_recorder.cli", "/site/codetracer_recorder/cli.py"), Some(Skip::Internal));
    }

    #[test]
    fn default_skip_prefix_matches_whole_directories_only() {
        let f = filters(&[], &[]);
        assert_eq!(f.skip("json", "/usr/lib/python3.12/json/__init__.py"), Some(Skip::DefaultSkip));
        assert_eq!(f.skip("x", "/usr/lib/python3.12x/x.py"), None);
        assert_eq!(f.skip("__main__", "/home/me/app.py"), None);
    }

    #[test]
    fn include_overrides_default_skips_and_restricts_the_rest() {
        let f = filters(&["json*"], &[]);
        assert_eq!(f.skip("json.encoder", "/usr/lib/python3.12/json/encoder.py"), None);
        assert_eq!(f.skip("__main__", "/home/me/app.py"), Some(Skip::NotIncluded));
    }

    #[test]
    fn exclude_matches_module_or_path() {
        let f = filters(&[], &["helpers", "*/vendor/*"]);
        assert_eq!(f.skip("helpers", "/home/me/helpers.py"), Some(Skip::Excluded));
        assert_eq!(f.skip("lib", "/home/me/vendor/lib.py"), Some(Skip::Excluded));
        assert_eq!(f.skip("app", "/home/me/app.py"), None);
    }

    #[test]
    fn bad_glob_is_a_usage_error_naming_the_option() {
        let Err(err) = Filters::new(&own(&["["]), &[], &[], &[]) else { panic!("'[' accepted") }; // allow-panic: test
        assert_eq!(err.code, ErrorCode::InvalidPolicyValue);
        assert_eq!(err.context["option"], "include");
    }
}
