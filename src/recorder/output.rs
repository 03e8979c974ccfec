//! The trace directory on disk: staged while recording, renamed into place at the end.
//!
//! Files are written into a staging directory created next to the target (same parent,
//! so the final `rename` is atomic), with an unguessable name, created exclusively with
//! mode 0700; files inside are created exclusively with mode 0600. On success the staging
//! directory is renamed to the target, replacing an older trace there; on failure it is
//! removed, so nothing that looks like a complete trace is ever left behind.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::errors::{ErrorCode, ErrorKind, RecorderError, RecorderResult};

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

    /// Renames the staging directory into place, replacing an older trace. If that
    /// fails (the target became a file meanwhile, the disk went away), the staging
    /// directory is removed, so nothing half-done is left behind.
    pub fn commit(self) -> RecorderResult<PathBuf> {
        let moved = self.move_into_place();
        if moved.is_err() {
            let _ = std::fs::remove_dir_all(&self.staging);
        }
        moved
    }

    fn move_into_place(&self) -> RecorderResult<PathBuf> {
        check_replaceable(&self.target).map_err(|mut err| {
            // `prepare` checked the path: what stands there now was put there meanwhile,
            // by something other than the caller (who gave a good path).
            err.kind = ErrorKind::Environment;
            err
        })?;
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

/// What closes one open frame of a cut JSON events file: a Return of `None` (type 0,
/// interned first in every trace).
const CLOSING_RETURN: &[u8] = b",\n{\"Return\":{\"return_value\":{\"kind\":\"None\",\"type_id\":0}}}";
const CLOSING_BRACKET: &[u8] = b"\n]\n";

/// Closes a JSON events file that writing left cut (disk full, file size limit), for a
/// partial trace that loads like any other: cuts it back to the last whole event after
/// which it can be closed within the size it reached (a size limit allows no more), and
/// appends a Return for each frame still open there and the closing bracket. Returns the
/// paths the kept events define (for `trace_paths.json`), or `None` when it cannot be
/// closed (then it is left as it is).
///
/// It reads the framing of `writer.rs` (`[\n`, events separated by `,\n`, one per line,
/// `\n]\n` at the end) and checks it line by line: anything else leaves the file alone.
pub fn close_cut_json_events(path: &Path) -> Option<Vec<String>> {
    let file = OpenOptions::new().read(true).write(true).open(path).ok()?;
    let reached = file.metadata().ok()?.len();
    let mut reader = BufReader::new(&file);
    let mut line = Vec::new();
    if reader.read_until(b'\n', &mut line).ok()? != 2 || line != b"[\n" {
        return None;
    }
    let (mut offset, mut depth) = (2u64, 0u64);
    let mut paths: Vec<String> = Vec::new();
    // The last place to cut: (end of its event, frames open there, paths defined by then).
    let mut cut: Option<(u64, u64, usize)> = None;
    loop {
        line.clear();
        let read = reader.read_until(b'\n', &mut line).ok()?;
        if read == 0 || line.last() != Some(&b'\n') {
            break; // the end, or the event being written when writing failed
        }
        let event = line.strip_suffix(b",\n")?;
        let kind = event.strip_prefix(b"{\"")?.split(|&b| b == b'"').next()?;
        match kind {
            b"Call" => depth += 1,
            b"Return" => depth = depth.checked_sub(1)?,
            b"Path" => match serde_json::from_slice::<runtime_tracing::TraceLowLevelEvent>(event).ok()? {
                runtime_tracing::TraceLowLevelEvent::Path(p) => paths.push(p.to_string_lossy().into_owned()),
                _ => return None,
            },
            _ => {}
        }
        let end = offset + event.len() as u64;
        let closed = end + depth * CLOSING_RETURN.len() as u64 + CLOSING_BRACKET.len() as u64;
        if depth > 0 && closed <= reached {
            cut = Some((end, depth, paths.len()));
        }
        offset += read as u64;
    }
    let (end, open, defined) = cut?;
    drop(reader);
    let mut file = file;
    file.set_len(end).ok()?;
    let mut tail = Vec::with_capacity(open as usize * CLOSING_RETURN.len() + CLOSING_BRACKET.len());
    for _ in 0..open {
        tail.extend_from_slice(CLOSING_RETURN);
    }
    tail.extend_from_slice(CLOSING_BRACKET);
    file.seek(SeekFrom::Start(end)).ok()?;
    file.write_all(&tail).and_then(|()| file.sync_all()).ok()?;
    paths.truncate(defined);
    Some(paths)
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

/// A private scratch file in `dir` that no name leads to: created exclusively, then
/// unlinked at once, so it vanishes with its last handle, even if the process dies.
pub fn create_scratch_file(dir: &Path) -> RecorderResult<File> {
    let path = dir.join(format!(".scratch-{}", random_hex(8)?));
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(|err| RecorderError::io("cannot create", &path, &err))?;
    std::fs::remove_file(&path).map_err(|err| RecorderError::io("cannot unlink", &path, &err))?;
    Ok(file)
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

    /// `[`, then each event on its line as `writer.rs` frames them, and `cut_tail` bytes
    /// of one more event (a long string value) where writing failed.
    fn cut_json(events: &[runtime_tracing::TraceLowLevelEvent], cut_tail: usize) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
        let mut text = b"[\n".to_vec();
        for (i, event) in events.iter().enumerate() {
            if i > 0 {
                text.extend_from_slice(b",\n");
            }
            text.extend_from_slice(&serde_json::to_vec(event)?);
        }
        text.extend_from_slice(b",\n");
        let value = format!(r#"{{"Value":{{"variable_id":0,"value":{{"kind":"String","text":"{}"#, "x".repeat(300));
        text.extend_from_slice(&value.as_bytes()[..cut_tail]);
        Ok(text)
    }

    fn sample() -> Vec<runtime_tracing::TraceLowLevelEvent> {
        use runtime_tracing::*;
        let function = |name: &str| TraceLowLevelEvent::Function(FunctionRecord { path_id: PathId(0), line: Line(1), name: name.to_owned() });
        let call = |id| TraceLowLevelEvent::Call(CallRecord { function_id: FunctionId(id), args: Vec::new() });
        vec![
            TraceLowLevelEvent::Path("/p.py".into()),
            function("<toplevel>"),
            call(0),
            TraceLowLevelEvent::Type(TypeRecord { kind: TypeKind::None, lang_type: "None".into(), specific_info: TypeSpecificInfo::None }),
            function("f"),
            TraceLowLevelEvent::Step(StepRecord { path_id: PathId(0), line: Line(2) }),
            call(1),
            TraceLowLevelEvent::Path("/q.py".into()),
            TraceLowLevelEvent::Step(StepRecord { path_id: PathId(1), line: Line(3) }),
        ]
    }

    #[test]
    fn a_cut_json_events_file_is_closed_within_its_size() -> TestResult {
        let tmp = tempfile::tempdir()?;
        let file = tmp.path().join("trace.json");
        // Room for the closing: every whole event is kept.
        std::fs::write(&file, cut_json(&sample(), 200)?)?;
        let size = std::fs::metadata(&file)?.len();
        let paths = close_cut_json_events(&file).ok_or("not closed")?;
        assert_eq!(paths, ["/p.py", "/q.py"]);
        let events: Vec<runtime_tracing::TraceLowLevelEvent> = serde_json::from_slice(&std::fs::read(&file)?)?;
        assert_eq!(events.len(), sample().len() + 2, "two frames closed");
        crate::trace_check::check_events(&events)?;
        assert!(std::fs::metadata(&file)?.len() <= size);
        // No room: events are given back until the closing fits.
        std::fs::write(&file, cut_json(&sample(), 1)?)?;
        let paths = close_cut_json_events(&file).ok_or("not closed")?;
        let events: Vec<runtime_tracing::TraceLowLevelEvent> = serde_json::from_slice(&std::fs::read(&file)?)?;
        assert!(events.len() < sample().len() + 2);
        assert_eq!(paths.len(), events.iter().filter(|e| matches!(e, runtime_tracing::TraceLowLevelEvent::Path(_))).count());
        crate::trace_check::check_events(&events)?;
        Ok(())
    }

    #[test]
    fn a_file_not_framed_as_the_writer_frames_it_is_left_alone() -> TestResult {
        let tmp = tempfile::tempdir()?;
        let file = tmp.path().join("trace.json");
        for text in [&b"[{\"Call\":{}},\n"[..], b"[\n{\"Return\":{}},\n", b"not json"] {
            std::fs::write(&file, text)?;
            assert!(close_cut_json_events(&file).is_none());
            assert_eq!(std::fs::read(&file)?, text);
        }
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
