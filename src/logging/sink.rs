//! Where log lines go: stderr, or the policy's `log_file` (never stdout).
//!
//! The file is opened on the first line written after it was configured: appending,
//! created with mode 0600, and with `O_NOFOLLOW`, so a symlink planted at that path is
//! refused rather than followed. A file that cannot be opened or written is reported to
//! the caller (`mod.rs` then writes a warning and the line to stderr, so no record is
//! lost) and not retried until the destination is configured again.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Why the file destination failed; the line was not written.
pub struct FileFailure {
    pub path: PathBuf,
    /// `open` or `write`.
    pub action: &'static str,
    pub error: std::io::Error,
}

pub struct Sink {
    path: Option<PathBuf>,
    file: Option<File>,
    /// The file failed; lines go to stderr until the next `set_file`.
    broken: bool,
}

impl Sink {
    pub const fn stderr() -> Self {
        Sink { path: None, file: None, broken: false }
    }

    /// Sends the following lines to `path` (`None`: stderr). Setting the same path again
    /// keeps the open file, and a failed one stays on stderr.
    pub fn set_file(&mut self, path: Option<&Path>) {
        if self.path.as_deref() != path {
            self.path = path.map(Path::to_path_buf);
            self.file = None;
            self.broken = false;
        }
    }

    /// Writes one whole line. `Err` only for the file destination, with nothing written.
    pub fn write(&mut self, line: &[u8]) -> Result<(), FileFailure> {
        let Some(path) = self.path.as_ref().filter(|_| !self.broken) else {
            write_stderr(line);
            return Ok(());
        };
        let fail = |action, error| FileFailure { path: path.clone(), action, error };
        let file = match self.file.as_mut() {
            Some(file) => file,
            None => match open_log_file(path) {
                Ok(file) => self.file.insert(file),
                Err(error) => {
                    let failure = fail("open", error);
                    self.broken = true;
                    return Err(failure);
                }
            },
        };
        if let Err(error) = write_whole(file, line) {
            let failure = fail("write", error);
            self.file = None;
            self.broken = true;
            return Err(failure);
        }
        Ok(())
    }
}

/// Writes all of `line`, or, when the file takes only part of it (a full disk), takes
/// that part back, so the file holds whole records only (one JSON object per line).
fn write_whole(file: &mut File, line: &[u8]) -> std::io::Result<()> {
    let mut written = 0;
    while written < line.len() {
        match file.write(&line[written..]) {
            Ok(0) => return Err(take_back(file, written, std::io::ErrorKind::WriteZero.into())),
            Ok(n) => written += n,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return Err(take_back(file, written, error)),
        }
    }
    Ok(())
}

/// Cuts the `written` bytes of an unfinished line off the end of `file`; returns `error`.
fn take_back(file: &File, written: usize, error: std::io::Error) -> std::io::Error {
    if written > 0 {
        if let Ok(metadata) = file.metadata() {
            let _ = file.set_len(metadata.len().saturating_sub(written as u64));
        }
    }
    error
}

/// Appending, created 0600, never through a symlink, not inherited by `exec`.
fn open_log_file(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
}

/// One whole line on stderr (unbuffered, locked so lines of threads do not interleave).
/// A failing stderr is ignored: nothing may stop the program.
pub fn write_stderr(line: &[u8]) {
    let _ = std::io::stderr().lock().write_all(line);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn the_log_file_is_appended_and_private() -> TestResult {
        let tmp = tempfile::tempdir()?;
        let path = tmp.path().join("r.log");
        std::fs::write(&path, "old\n")?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        let mut sink = Sink::stderr();
        sink.set_file(Some(&path));
        assert!(sink.write(b"new\n").is_ok());
        assert_eq!(std::fs::read_to_string(&path)?, "old\nnew\n");
        let fresh = tmp.path().join("fresh.log");
        sink.set_file(Some(&fresh));
        assert!(sink.write(b"x\n").is_ok());
        assert_eq!(std::fs::metadata(&fresh)?.permissions().mode() & 0o777, 0o600);
        Ok(())
    }

    #[test]
    fn a_symlink_is_not_followed() -> TestResult {
        let tmp = tempfile::tempdir()?;
        let target = tmp.path().join("target");
        std::fs::write(&target, "")?;
        let link = tmp.path().join("link.log");
        std::os::unix::fs::symlink(&target, &link)?;
        let mut sink = Sink::stderr();
        sink.set_file(Some(&link));
        let failure = sink.write(b"x\n").err();
        assert!(failure.is_some_and(|f| f.action == "open"));
        assert_eq!(std::fs::read_to_string(&target)?, "");
        Ok(())
    }
}
