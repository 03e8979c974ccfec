//! `RecorderError`: the one error type of the Rust core.
//!
//! Every failure is classified by an [`ErrorKind`] (who is to blame) and a stable
//! [`ErrorCode`] (what happened). The codes are listed here and nowhere else; `ffi.rs`
//! turns a `RecorderError` into the matching Python exception class.

use std::collections::BTreeMap;
use std::fmt;

/// Who is to blame, which decides the Python exception class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The caller asked for something invalid.
    Usage,
    /// The machine got in the way (I/O, a tool id already taken).
    Environment,
    /// The recorded program did something the recorder cannot follow.
    Target,
    /// A bug in the recorder.
    Internal,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Usage => "usage",
            ErrorKind::Environment => "environment",
            ErrorKind::Target => "target",
            ErrorKind::Internal => "internal",
        }
    }
}

/// Stable error codes. The string form (`ERR_*`) is part of the public interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    AlreadyTracing,
    NotTracing,
    TraceDirConflict,
    TraceDirCreateFailed,
    UnsupportedFormat,
    InvalidPolicyValue,
    Io,
    TraceMissing,
    TraceIncomplete,
    TraceInvalid,
    FrameIntrospectionFailed,
    TracerInstallConflict,
    TargetArgs,
    TargetUnreadable,
    Panic,
    OtelExport,
}

impl ErrorCode {
    /// Every code, for the documentation check.
    pub const ALL: [ErrorCode; 16] = [
        ErrorCode::AlreadyTracing,
        ErrorCode::NotTracing,
        ErrorCode::TraceDirConflict,
        ErrorCode::TraceDirCreateFailed,
        ErrorCode::UnsupportedFormat,
        ErrorCode::InvalidPolicyValue,
        ErrorCode::Io,
        ErrorCode::TraceMissing,
        ErrorCode::TraceIncomplete,
        ErrorCode::TraceInvalid,
        ErrorCode::FrameIntrospectionFailed,
        ErrorCode::TracerInstallConflict,
        ErrorCode::TargetArgs,
        ErrorCode::TargetUnreadable,
        ErrorCode::Panic,
        ErrorCode::OtelExport,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::AlreadyTracing => "ERR_ALREADY_TRACING",
            ErrorCode::NotTracing => "ERR_NOT_TRACING",
            ErrorCode::TraceDirConflict => "ERR_TRACE_DIR_CONFLICT",
            ErrorCode::TraceDirCreateFailed => "ERR_TRACE_DIR_CREATE_FAILED",
            ErrorCode::UnsupportedFormat => "ERR_UNSUPPORTED_FORMAT",
            ErrorCode::InvalidPolicyValue => "ERR_INVALID_POLICY_VALUE",
            ErrorCode::Io => "ERR_IO",
            ErrorCode::TraceMissing => "ERR_TRACE_MISSING",
            ErrorCode::TraceIncomplete => "ERR_TRACE_INCOMPLETE",
            ErrorCode::TraceInvalid => "ERR_TRACE_INVALID",
            ErrorCode::FrameIntrospectionFailed => "ERR_FRAME_INTROSPECTION_FAILED",
            ErrorCode::TracerInstallConflict => "ERR_TRACER_INSTALL_CONFLICT",
            ErrorCode::TargetArgs => "ERR_TARGET_ARGS",
            ErrorCode::TargetUnreadable => "ERR_TARGET_UNREADABLE",
            ErrorCode::Panic => "ERR_PANIC",
            ErrorCode::OtelExport => "ERR_OTEL_EXPORT",
        }
    }

    /// The kind an error of this code has unless the raising site says otherwise.
    pub fn default_kind(self) -> ErrorKind {
        match self {
            ErrorCode::AlreadyTracing
            | ErrorCode::NotTracing
            | ErrorCode::TraceDirConflict
            | ErrorCode::UnsupportedFormat
            | ErrorCode::InvalidPolicyValue
            | ErrorCode::TraceInvalid
            | ErrorCode::TargetUnreadable => ErrorKind::Usage,
            ErrorCode::TraceDirCreateFailed
            | ErrorCode::Io
            | ErrorCode::TraceMissing
            | ErrorCode::TraceIncomplete
            | ErrorCode::TracerInstallConflict
            | ErrorCode::OtelExport => ErrorKind::Environment,
            ErrorCode::TargetArgs | ErrorCode::FrameIntrospectionFailed => ErrorKind::Target,
            ErrorCode::Panic => ErrorKind::Internal,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A classified failure with the facts needed to act on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecorderError {
    pub kind: ErrorKind,
    pub code: ErrorCode,
    pub message: String,
    pub context: BTreeMap<String, String>,
}

impl RecorderError {
    /// An error of `code`'s default kind.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        RecorderError { kind: code.default_kind(), code, message: message.into(), context: BTreeMap::new() }
    }

    /// Adds one context entry (`path`, `format`, …).
    pub fn with(mut self, key: &str, value: impl fmt::Display) -> Self {
        self.context.insert(key.to_owned(), value.to_string());
        self
    }

    /// An `ERR_IO` error naming what was being done and the OS error.
    pub fn io(action: &str, path: &std::path::Path, err: &std::io::Error) -> Self {
        RecorderError::new(ErrorCode::Io, format!("{action} {}: {err}", path.display()))
            .with("path", path.display())
            .with("os_error", err)
    }
}

impl fmt::Display for RecorderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.code, self.message)
    }
}

impl std::error::Error for RecorderError {}

pub type RecorderResult<T> = Result<T, RecorderError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_prefixed() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            assert!(code.as_str().starts_with("ERR_"));
            assert!(seen.insert(code.as_str()), "duplicate {code}");
        }
    }

    #[test]
    fn display_shows_the_code_first() {
        let err = RecorderError::new(ErrorCode::UnsupportedFormat, "format 'xml' is not supported")
            .with("format", "xml");
        assert_eq!(err.to_string(), "[ERR_UNSUPPORTED_FORMAT] format 'xml' is not supported");
        assert_eq!(err.kind, ErrorKind::Usage);
        assert_eq!(err.context["format"], "xml");
    }
}
