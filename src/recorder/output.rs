//! The trace directory on disk: staged while recording, renamed into place at the end.
//!
//! Files are written into a staging directory created next to the target (same parent,
//! so the final `rename` is atomic), with an unguessable name, created exclusively with
//! mode 0700; files inside are created exclusively with mode 0600. On success the staging
//! directory is renamed to the target, replacing an older trace there; on failure it is
//! removed, so nothing that looks like a complete trace is ever left behind.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::errors::{ErrorCode, RecorderError, RecorderResult};

/// The file every trace directory has; its presence marks a directory as a trace.
pub const METADATA_FILE: &str = "trace_metadata.json";
pub const PATHS_FILE: &str = "trace_paths.json";

pub struct TraceOutput {
    target: PathBuf,
    staging: PathBuf,
}

impl TraceOutput {
    /// Checks the target and creates the staging directory beside it.
    pub fn prepare(target: &Path) -> RecorderResult<Self> {
        let target = absolute(target)?;
        check_replaceable(&target)?;
        let parent = target.parent().unwrap_or(Path::new("/")).to_path_buf();
        let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let dir_error = |err: std::io::Error, path: &Path| {
            RecorderError::new(ErrorCode::TraceDirCreateFailed, format!("cannot create {}: {err}", path.display()))
                .with("path", path.display())
                .with("os_error", err)
        };
        DirBuilder::new().recursive(true).mode(0o700).create(&parent).map_err(|e| dir_error(e, &parent))?;
        let staging = parent.join(format!(".{name}.staging-{}", random_hex(8)?));
        DirBuilder::new().mode(0o700).create(&staging).map_err(|e| dir_error(e, &staging))?;
        Ok(TraceOutput { target, staging })
    }

    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Path of a file inside the staging directory.
    pub fn staged(&self, file: &str) -> PathBuf {
        self.staging.join(file)
    }

    /// Writes one JSON file into the staging directory.
    pub fn write_json(&self, file: &str, value: &impl Serialize) -> RecorderResult<()> {
        let path = self.staged(file);
        let mut out = create_private_file(&path)?;
        let text = serde_json::to_vec_pretty(value)
            .map_err(|err| RecorderError::new(ErrorCode::Io, format!("cannot encode {file}: {err}")))?;
        out.write_all(&text).and_then(|()| out.write_all(b"\n")).and_then(|()| out.sync_all())
            .map_err(|err| RecorderError::io("cannot write", &path, &err))
    }

    /// Renames the staging directory into place, replacing an older trace.
    pub fn commit(self) -> RecorderResult<PathBuf> {
        check_replaceable(&self.target)?;
        let old = if self.target.exists() {
            let parent = self.target.parent().unwrap_or(Path::new("/"));
            let old = parent.join(format!(".{}.old-{}", self.target.file_name().unwrap_or_default().to_string_lossy(), random_hex(8)?));
            std::fs::rename(&self.target, &old).map_err(|err| RecorderError::io("cannot move aside", &self.target, &err))?;
            Some(old)
        } else {
            None
        };
        if let Err(err) = std::fs::rename(&self.staging, &self.target) {
            if let Some(old) = &old {
                let _ = std::fs::rename(old, &self.target);
            }
            return Err(RecorderError::io("cannot move the trace into", &self.target, &err));
        }
        if let Some(old) = old {
            let _ = std::fs::remove_dir_all(old);
        }
        Ok(self.target.clone())
    }

    /// Removes the staging directory and everything in it.
    pub fn discard(self) {
        let _ = std::fs::remove_dir_all(&self.staging);
    }
}

/// Creates a new file with mode 0600, failing if anything already exists there
/// (so a planted file or symlink is never written through).
pub fn create_private_file(path: &Path) -> RecorderResult<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|err| RecorderError::io("cannot create", path, &err))
}

/// The target may be absent, an empty directory, or an earlier trace; anything else
/// (a file, a directory with other content) is not ours to replace.
fn check_replaceable(target: &Path) -> RecorderResult<()> {
    let conflict = |why: &str| {
        Err(RecorderError::new(ErrorCode::TraceDirConflict, format!("trace directory {} {why}", target.display()))
            .with("path", target.display()))
    };
    match std::fs::symlink_metadata(target) {
        Err(_) => Ok(()),
        Ok(meta) if meta.is_dir() => {
            let empty = std::fs::read_dir(target).map(|mut d| d.next().is_none()).unwrap_or(false);
            if empty || target.join(METADATA_FILE).is_file() {
                Ok(())
            } else {
                conflict("exists and is not a trace directory; choose another path or remove it")
            }
        }
        Ok(_) => conflict("exists and is not a directory"),
    }
}

fn absolute(path: &Path) -> RecorderResult<PathBuf> {
    std::path::absolute(path).map_err(|err| {
        RecorderError::new(ErrorCode::TraceDirCreateFailed, format!("cannot resolve trace directory {}: {err}", path.display()))
            .with("path", path.display())
    })
}

/// `n` random bytes as lowercase hex, from the OS's generator.
pub fn random_hex(n: usize) -> RecorderResult<String> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes)
        .map_err(|err| RecorderError::new(ErrorCode::Io, format!("no randomness from the OS: {err}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn a_committed_trace_replaces_an_older_one() -> TestResult {
        let tmp = tempfile::tempdir()?;
        let target = tmp.path().join("trace");
        for round in ["first", "second"] {
            let out = TraceOutput::prepare(&target)?;
            out.write_json(METADATA_FILE, &round)?;
            assert!(!target.join(METADATA_FILE).exists() || round == "second");
            out.commit()?;
            assert_eq!(std::fs::read_to_string(target.join(METADATA_FILE))?.trim(), format!("\"{round}\""));
        }
        assert_eq!(std::fs::read_dir(tmp.path())?.count(), 1, "no staging or old directory is left");
        Ok(())
    }

    #[test]
    fn a_file_or_foreign_directory_is_a_conflict() -> TestResult {
        let tmp = tempfile::tempdir()?;
        let file = tmp.path().join("file");
        std::fs::write(&file, "x")?;
        let foreign = tmp.path().join("foreign");
        std::fs::create_dir(&foreign)?;
        std::fs::write(foreign.join("notes.txt"), "mine")?;
        for target in [&file, &foreign] {
            let err = TraceOutput::prepare(target).err().ok_or("accepted")?;
            assert_eq!(err.code, ErrorCode::TraceDirConflict);
        }
        Ok(())
    }

    #[test]
    fn discard_leaves_nothing() -> TestResult {
        let tmp = tempfile::tempdir()?;
        let out = TraceOutput::prepare(&tmp.path().join("trace"))?;
        out.write_json(METADATA_FILE, &1)?;
        out.discard();
        assert_eq!(std::fs::read_dir(tmp.path())?.count(), 0);
        Ok(())
    }

    #[test]
    fn staged_files_are_private() -> TestResult {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir()?;
        let out = TraceOutput::prepare(&tmp.path().join("trace"))?;
        out.write_json(METADATA_FILE, &1)?;
        assert_eq!(std::fs::metadata(out.staged(METADATA_FILE))?.permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::metadata(out.staged(""))?.permissions().mode() & 0o777, 0o700);
        out.discard();
        Ok(())
    }
}
