//! The level filter: `RUST_LOG`-style directives (`warn`, `info`,
//! `codetracer_recorder=debug,warn`), as the policy's `log_level` gives them.
//!
//! A bare level sets the default; `target=level` applies to that target and the targets
//! below it (`codetracer_recorder` covers `codetracer_recorder::policy` and, for records
//! written from Python, `codetracer_recorder.session`); the longest matching target wins.
//! `off` silences. [`Filter::max`] is the most verbose level any directive enables, so a
//! call site can skip a disabled record with one comparison, before formatting anything.

use super::record::Level;

/// The default when no filter is configured: warnings and errors.
pub const DEFAULT_LEVEL: Option<Level> = Some(Level::Warn);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// `None` is `off`.
    default: Option<Level>,
    /// `(target, level)`, longest target first.
    directives: Vec<(String, Option<Level>)>,
}

impl Default for Filter {
    fn default() -> Self {
        Filter { default: DEFAULT_LEVEL, directives: Vec::new() }
    }
}

impl Filter {
    /// Parses a filter; `None` when any directive is not valid.
    pub fn parse(text: &str) -> Option<Filter> {
        let mut filter = Filter::default();
        for directive in text.split(',') {
            let directive = directive.trim();
            match directive.split_once('=') {
                None => filter.default = level(directive)?,
                Some((target, name)) => {
                    let target = target.trim();
                    let valid = !target.is_empty()
                        && target.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '.' | '-'));
                    if !valid {
                        return None;
                    }
                    filter.directives.push((target.to_owned(), level(name)?));
                }
            }
        }
        filter.directives.sort_by_key(|(target, _)| std::cmp::Reverse(target.len()));
        Some(filter)
    }

    /// Whether a record of `level` from `target` is written.
    pub fn enabled(&self, level: Level, target: &str) -> bool {
        let limit = self
            .directives
            .iter()
            .find(|(prefix, _)| covers(prefix, target))
            .map_or(self.default, |(_, limit)| *limit);
        limit.is_some_and(|limit| level <= limit)
    }

    /// The most verbose level enabled for any target (0 when everything is off).
    pub fn max(&self) -> u8 {
        let levels = std::iter::once(self.default).chain(self.directives.iter().map(|(_, l)| *l));
        levels.map(|l| l.map_or(0, |l| l as u8)).max().unwrap_or(0)
    }
}

/// `Some(level)`, `Some(None)` for `off`, `None` when not a level.
fn level(name: &str) -> Option<Option<Level>> {
    if name.trim().eq_ignore_ascii_case("off") {
        return Some(None);
    }
    Level::parse(name).map(Some)
}

/// `target` is `prefix` or below it (`prefix::…`, `prefix.…`).
fn covers(prefix: &str, target: &str) -> bool {
    target.strip_prefix(prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with("::") || rest.starts_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Filter {
        Filter::parse(text).unwrap_or_else(|| panic!("{text:?} rejected")) // allow-panic: test helper
    }

    #[test]
    fn a_bare_level_sets_the_default() {
        let f = parsed("info");
        assert!(f.enabled(Level::Info, "anything"));
        assert!(!f.enabled(Level::Debug, "anything"));
        assert_eq!(f.max(), Level::Info as u8);
        assert!(parsed("DEBUG").enabled(Level::Debug, "x"));
    }

    #[test]
    fn the_default_is_warn() {
        let f = Filter::default();
        assert!(f.enabled(Level::Warn, "codetracer_recorder"));
        assert!(!f.enabled(Level::Info, "codetracer_recorder"));
    }

    #[test]
    fn target_directives_cover_their_subtargets_and_the_longest_wins() {
        let f = parsed("codetracer_recorder=debug, codetracer_recorder::policy=error, warn");
        assert!(f.enabled(Level::Debug, "codetracer_recorder"));
        assert!(f.enabled(Level::Debug, "codetracer_recorder.session"));
        assert!(!f.enabled(Level::Warn, "codetracer_recorder::policy"));
        assert!(f.enabled(Level::Error, "codetracer_recorder::policy"));
        assert!(!f.enabled(Level::Info, "other"));
        assert!(!f.enabled(Level::Debug, "codetracer_recorderx"), "a prefix of a name is not a target");
        assert_eq!(f.max(), Level::Debug as u8);
    }

    #[test]
    fn off_silences() {
        let f = parsed("off");
        assert!(!f.enabled(Level::Error, "x"));
        assert_eq!(f.max(), 0);
        let f = parsed("info,noisy=off");
        assert!(!f.enabled(Level::Error, "noisy"));
        assert!(f.enabled(Level::Info, "quiet"));
    }

    #[test]
    fn invalid_filters_are_rejected() {
        for bad in ["", "loud", "a=b", "=info", "info,", "a b=info"] {
            assert!(Filter::parse(bad).is_none(), "{bad:?} accepted");
        }
    }
}
