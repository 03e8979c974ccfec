//! Loading a trace with `runtime_tracing`'s own reader and checking CodeTracer's rules.
//!
//! The crate's reader only checks shapes, so the ordering rules CodeTracer's backend
//! relies on are checked here: ids are interned before use, the stream opens with the
//! `<toplevel>` Call, a Step comes right before every other Call, no Return without an
//! open frame, and the stream ends with the top-level Return. Used by tests (Rust and
//! Python) on every trace they write, and by `python -m codetracer_recorder.summary`.
//!
//! The crate's reader trusts the file it is given, so a damaged one is checked here first:
//! only regular files are read (a FIFO would block), and a `trace.bin` must have our
//! header, a seek table that fits the file, and zstd frames that decode, checksums and
//! all, to exactly the size that table gives (see [`check_binary`]).

use std::cell::Cell;
use std::fs::OpenOptions;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Once;

use runtime_tracing::{create_trace_reader, TraceEventsFileFormat, TraceLowLevelEvent, TraceMetadata, ValueRecord};
use serde::Serialize;
use zeekstd::{DecodeOptions, SeekTable, Seekable, SEEKABLE_MAGIC_NUMBER, SEEK_TABLE_INTEGRITY_SIZE};

use crate::errors::{ErrorCode, RecorderError, RecorderResult};
use crate::recorder::output::{METADATA_FILE, PATHS_FILE};
use crate::recorder::encoder::BINARY_HEADER;

/// What a valid trace holds.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct TraceSummary {
    pub format: &'static str,
    pub program: String,
    pub events: usize,
    pub calls: usize,
    pub returns: usize,
    pub steps: usize,
    pub values: usize,
    pub functions: usize,
    pub paths: usize,
    pub bytes: u64,
}

fn invalid(dir: &Path, why: impl std::fmt::Display) -> RecorderError {
    RecorderError::new(ErrorCode::TraceInvalid, format!("{} is not a valid trace: {why}", dir.display())).with("path", dir.display())
}

/// The events of the trace in `dir` (json or binary), loaded by the crate's reader.
pub fn load_events(dir: &Path) -> RecorderResult<(Vec<TraceLowLevelEvent>, &'static str, PathBuf)> {
    // Only a regular file (after symlinks) goes to the crate's reader: a FIFO would block it.
    let (format, file, name) = if dir.join("trace.json").is_file() {
        (TraceEventsFileFormat::Json, dir.join("trace.json"), "json")
    } else if dir.join("trace.bin").is_file() {
        let file = dir.join("trace.bin");
        let bytes = read_regular(&file).map_err(|e| invalid(dir, format!("trace.bin: {e}")))?;
        check_binary(&bytes).map_err(|why| invalid(dir, format!("trace.bin: {why}")))?;
        (TraceEventsFileFormat::Binary, file, "binary")
    } else {
        return Err(invalid(dir, "it has no trace.json or trace.bin that is a regular file"));
    };
    match catch_quietly(|| create_trace_reader(format).load_trace_events(&file).map_err(|e| e.to_string())) {
        Ok(Ok(events)) => Ok((events, name, file)),
        Ok(Err(err)) => Err(invalid(dir, err)),
        Err(panic) => Err(invalid(dir, format!("runtime_tracing's reader failed: {panic}"))),
    }
}

/// Loads and checks the trace in `dir`.
pub fn check(dir: &Path) -> RecorderResult<TraceSummary> {
    let (events, format, file) = load_events(dir)?;
    let metadata_text = read_regular(&dir.join(METADATA_FILE)).map_err(|e| invalid(dir, format!("{METADATA_FILE}: {e}")))?;
    let metadata: TraceMetadata = serde_json::from_slice(&metadata_text).map_err(|e| invalid(dir, format!("{METADATA_FILE}: {e}")))?;
    let paths_text = read_regular(&dir.join(PATHS_FILE)).map_err(|e| invalid(dir, format!("{PATHS_FILE}: {e}")))?;
    let paths: Vec<String> = serde_json::from_slice(&paths_text).map_err(|e| invalid(dir, format!("{PATHS_FILE}: {e}")))?;
    let mut summary = check_events(&events).map_err(|why| invalid(dir, why))?;
    if paths.len() != summary.paths {
        return Err(invalid(dir, format!("{PATHS_FILE} lists {} paths, the events define {}", paths.len(), summary.paths)));
    }
    summary.format = format;
    summary.program = metadata.program;
    summary.bytes = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    Ok(summary)
}

/// The contents of `path` if it is a regular file. It is opened without blocking and its
/// type checked on the open file, so a FIFO (or a device) named like a trace file is
/// refused rather than waited on.
fn read_regular(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut file = OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file"));
    }
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// zstd's magic number of the skippable frame that holds a seek table.
const SEEK_TABLE_FRAME_MAGIC: u32 = 0x184D_2A5E;
/// The seek table frame's header: its magic number and its size.
const SEEK_TABLE_FRAME_HEADER: usize = 8;

/// Checks a whole `trace.bin` before the crate's reader is given it. That reader (through
/// zeekstd) trusts the file: it panics on an unknown header and on a seek table that does
/// not fit the file, loops forever when the frames hold fewer bytes than the table says,
/// and stops decoding at the table's size (so a table that says too few gives it a prefix
/// of the events). Here: our header, a seek table that accounts for every byte after it,
/// and frames that decode without error (zstd checks each frame's checksum as it reads
/// it) to exactly the table's size, read to their very end.
fn check_binary(bytes: &[u8]) -> Result<(), String> {
    let stream = bytes
        .strip_prefix(BINARY_HEADER.as_slice())
        .ok_or("it does not start with the header of CodeTracer's binary format v1")?;
    let (frames, table) = seek_table(stream)?;
    check_frames(frames, table)
}

/// The zstd frames of a seekable stream and its seek table, which must describe exactly
/// those frames. The table is zstd's seekable format: a skippable frame at the end of the
/// stream holding one entry per frame (compressed and decompressed size, and a checksum if
/// the descriptor's top bit says so), closed by a footer (entry count, descriptor, magic).
fn seek_table(stream: &[u8]) -> Result<(&[u8], SeekTable), String> {
    let damaged = |why: &str| format!("its zstd seek table is damaged: {why}");
    let footer: &[u8; SEEK_TABLE_INTEGRITY_SIZE] = stream.last_chunk().ok_or("it ends before its zstd seek table")?;
    let [n0, n1, n2, n3, descriptor, m0, m1, m2, m3] = *footer;
    if u32::from_le_bytes([m0, m1, m2, m3]) != SEEKABLE_MAGIC_NUMBER {
        return Err("it does not end with a zstd seek table".into());
    }
    // Bits 2 to 6 of the descriptor are reserved (zero).
    if descriptor & 0x7C != 0 {
        return Err(damaged("reserved descriptor bits are set"));
    }
    let entry_size = if descriptor & 0x80 == 0 { 8 } else { 12 };
    let table_size = usize::try_from(u32::from_le_bytes([n0, n1, n2, n3]))
        .ok()
        .and_then(|count| count.checked_mul(entry_size))
        .and_then(|entries| entries.checked_add(SEEK_TABLE_FRAME_HEADER + SEEK_TABLE_INTEGRITY_SIZE))
        .filter(|&size| size <= stream.len())
        .ok_or_else(|| damaged("its entries would not fit in the file"))?;
    let (frames, table_bytes) = stream.split_at(stream.len() - table_size);
    let Some((header, entries)) = table_bytes
        .strip_suffix(footer.as_slice())
        .and_then(|table| table.split_first_chunk::<SEEK_TABLE_FRAME_HEADER>())
    else {
        return Err(damaged("no frame header"));
    };
    let [h0, h1, h2, h3, s0, s1, s2, s3] = *header;
    let size_in_header = usize::try_from(u32::from_le_bytes([s0, s1, s2, s3])).ok();
    if u32::from_le_bytes([h0, h1, h2, h3]) != SEEK_TABLE_FRAME_MAGIC || size_in_header != Some(table_size - SEEK_TABLE_FRAME_HEADER) {
        return Err(damaged("its frame header does not match its footer"));
    }
    let mut table = SeekTable::new();
    for entry in entries.chunks_exact(entry_size) {
        let [c0, c1, c2, c3, d0, d1, d2, d3, ..] = *entry else {
            return Err(damaged("a short entry"));
        };
        table
            .log_frame(u32::from_le_bytes([c0, c1, c2, c3]), u32::from_le_bytes([d0, d1, d2, d3]))
            .map_err(|e| damaged(&e.to_string()))?;
    }
    if table.size_comp() != frames.len() as u64 {
        return Err(damaged(&format!("it gives the frames {} bytes, the file holds {}", table.size_comp(), frames.len())));
    }
    Ok((frames, table))
}

/// Decodes the zstd `frames` (keeping nothing) and checks that they hold exactly the
/// bytes `table` says, reading them to their end so that every frame's checksum is
/// checked. The decoder is zeekstd's, as in the crate's reader, over a source that fails
/// at the end of the frames instead of returning 0 bytes (on which zeekstd would retry
/// forever).
fn check_frames(frames: &[u8], mut table: SeekTable) -> Result<(), String> {
    let size = table.size_decomp();
    // A last entry without data but with room for 4 GiB: zeekstd then decodes past `size`
    // (to the end of the frames, or until we see there is more than `size`) without
    // getting near its limit, where it would slice its output wrongly.
    table.log_frame(0, u32::MAX).map_err(|e| format!("its zstd seek table is damaged: {e}"))?;
    let source = EndOfFrames { frames, at: 0 };
    let mut decoder = DecodeOptions::try_new(source)
        .ok_or("out of memory for a zstd decoder")?
        .seek_table(table)
        .into_decoder()
        .map_err(|e| format!("cannot decode its zstd frames: {e}"))?;
    let mut scratch = vec![0; 1 << 16];
    loop {
        match decoder.decompress(&mut scratch) {
            Ok(_) if decoder.offset() <= size => {}
            Ok(_) => return Err(format!("its zstd frames hold more than the {size} bytes its seek table says")),
            // The source's only error: the frames were all read.
            Err(end) if end.is_other() && decoder.offset() == size => return Ok(()),
            Err(end) if end.is_other() => {
                return Err(format!("its zstd frames hold {} bytes, its seek table says {size}", decoder.offset()));
            }
            Err(e) => return Err(format!("its zstd frames are damaged: {e}")),
        }
    }
}

/// The zstd frames of a `trace.bin` as a source for zeekstd's decoder; reading past
/// their end is an error (see [`check_frames`]).
struct EndOfFrames<'a> {
    frames: &'a [u8],
    at: usize,
}

impl Seekable for EndOfFrames<'_> {
    fn set_offset(&mut self, offset: u64) -> zeekstd::Result<()> {
        self.at = usize::try_from(offset)?;
        Ok(())
    }

    fn read(&mut self, buf: &mut [u8]) -> zeekstd::Result<usize> {
        let rest = self.frames.get(self.at..).unwrap_or_default();
        let n = rest.len().min(buf.len());
        if n == 0 {
            return Err(zeekstd::Error::other("the end of the zstd frames"));
        }
        buf[..n].copy_from_slice(&rest[..n]);
        self.at += n;
        Ok(n)
    }

    // The decoder is given the seek table, so it never looks for one in the source.
    fn seek_table_footer(&mut self) -> zeekstd::Result<[u8; SEEK_TABLE_INTEGRITY_SIZE]> {
        Err(zeekstd::Error::other("no seek table in the frames"))
    }

    fn seek_to_seek_table_start(&mut self, _: usize) -> zeekstd::Result<()> {
        Err(zeekstd::Error::other("no seek table in the frames"))
    }
}

thread_local! {
    /// True while this thread runs the crate's reader (see [`catch_quietly`]).
    static EXPECTED_PANIC: Cell<bool> = const { Cell::new(false) };
}

/// Runs `read` (the crate's reader), a panic becoming its message. The checks above keep
/// the damage we know of from reaching that reader; anything else it panics on is still a
/// bad trace, refused in one error: so the panic hook stays silent for it (no "thread
/// panicked at" and backtrace on stderr). Every other panic goes to the previous hook.
fn catch_quietly<T>(read: impl FnOnce() -> T) -> Result<T, String> {
    static QUIET_HOOK: Once = Once::new();
    QUIET_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !EXPECTED_PANIC.with(Cell::get) {
                previous(info);
            }
        }));
    });
    EXPECTED_PANIC.with(|expected| expected.set(true));
    let outcome = catch_unwind(AssertUnwindSafe(read));
    EXPECTED_PANIC.with(|expected| expected.set(false));
    outcome.map_err(|payload| match payload.downcast::<String>() {
        Ok(message) => *message,
        Err(payload) => payload.downcast_ref::<&str>().map_or("a panic without a message", |s| s).to_owned(),
    })
}

/// The ordering rules, on an event list. Returns the counts or the first broken rule.
pub fn check_events(events: &[TraceLowLevelEvent]) -> Result<TraceSummary, String> {
    let mut s = TraceSummary { events: events.len(), ..TraceSummary::default() };
    let (mut types, mut variables, mut depth) = (0usize, 0usize, 0usize);
    let mut previous: Option<&TraceLowLevelEvent> = None;
    for (i, event) in events.iter().enumerate() {
        let at = |why: String| format!("event {i}: {why}");
        match event {
            TraceLowLevelEvent::Path(_) => s.paths += 1,
            TraceLowLevelEvent::Function(f) => {
                if f.path_id.0 >= s.paths {
                    return Err(at(format!("function uses path {} before it is defined", f.path_id.0)));
                }
                s.functions += 1;
            }
            TraceLowLevelEvent::Type(_) => types += 1,
            TraceLowLevelEvent::VariableName(_) | TraceLowLevelEvent::Variable(_) => variables += 1,
            TraceLowLevelEvent::Step(step) => {
                if depth == 0 {
                    return Err(at("a Step outside any call".into()));
                }
                if step.path_id.0 >= s.paths {
                    return Err(at(format!("step uses path {} before it is defined", step.path_id.0)));
                }
                s.steps += 1;
            }
            TraceLowLevelEvent::Call(call) => {
                if call.function_id.0 >= s.functions {
                    return Err(at(format!("call of function {} before it is defined", call.function_id.0)));
                }
                let toplevel = s.calls == 0;
                if toplevel && call.function_id.0 != 0 {
                    return Err(at("the first Call is not the <toplevel> function 0".into()));
                }
                if !toplevel && !matches!(previous, Some(TraceLowLevelEvent::Step(_))) {
                    return Err(at("a Call not preceded by its Step".into()));
                }
                for arg in &call.args {
                    check_variable(arg.variable_id.0, variables).map_err(at)?;
                    check_value(&arg.value, types).map_err(at)?;
                }
                s.calls += 1;
                depth += 1;
            }
            TraceLowLevelEvent::Return(ret) => {
                if depth == 0 {
                    return Err(at("a Return without an open call".into()));
                }
                check_value(&ret.return_value, types).map_err(at)?;
                s.returns += 1;
                depth -= 1;
                if depth == 0 && i + 1 != events.len() {
                    return Err(at("events after the top-level Return".into()));
                }
            }
            TraceLowLevelEvent::Value(value) => {
                check_variable(value.variable_id.0, variables).map_err(at)?;
                check_value(&value.value, types).map_err(at)?;
                s.values += 1;
            }
            TraceLowLevelEvent::BindVariable(_) | TraceLowLevelEvent::Assignment(_) | TraceLowLevelEvent::DropVariables(_) => {
                return Err(at("history events (BindVariable/Assignment/DropVariables) are not supported by CodeTracer".into()));
            }
            _ => {}
        }
        previous = Some(event);
    }
    if s.calls == 0 {
        return Err("the trace has no calls".into());
    }
    if depth != 0 {
        return Err(format!("{depth} call(s) never return: the trace is incomplete"));
    }
    Ok(s)
}

fn check_variable(id: usize, defined: usize) -> Result<(), String> {
    if id < defined {
        Ok(())
    } else {
        Err(format!("variable {id} used before it is defined"))
    }
}

fn check_value(value: &ValueRecord, types: usize) -> Result<(), String> {
    let type_ok = |id: usize| if id < types { Ok(()) } else { Err(format!("type {id} used before it is defined")) };
    match value {
        ValueRecord::Int { type_id, .. }
        | ValueRecord::Float { type_id, .. }
        | ValueRecord::Bool { type_id, .. }
        | ValueRecord::String { type_id, .. }
        | ValueRecord::Raw { type_id, .. }
        | ValueRecord::Error { type_id, .. }
        | ValueRecord::None { type_id }
        | ValueRecord::BigInt { type_id, .. } => type_ok(type_id.0),
        ValueRecord::Sequence { elements, type_id, .. } | ValueRecord::Tuple { elements, type_id } => {
            type_ok(type_id.0)?;
            elements.iter().try_for_each(|e| check_value(e, types))
        }
        ValueRecord::Struct { field_values, type_id } => {
            type_ok(type_id.0)?;
            field_values.iter().try_for_each(|e| check_value(e, types))
        }
        ValueRecord::Variant { contents, type_id, .. } => {
            type_ok(type_id.0)?;
            check_value(contents, types)
        }
        ValueRecord::Reference { dereferenced, type_id, .. } => {
            type_ok(type_id.0)?;
            check_value(dereferenced, types)
        }
        ValueRecord::Cell { .. } => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use runtime_tracing::{CallRecord, FunctionId, FunctionRecord, Line, PathId, ReturnRecord, StepRecord, NONE_VALUE};

    fn toplevel() -> Vec<TraceLowLevelEvent> {
        vec![
            TraceLowLevelEvent::Path(PathBuf::from("/p.py")),
            TraceLowLevelEvent::Function(FunctionRecord { path_id: PathId(0), line: Line(1), name: "<toplevel>".into() }),
            TraceLowLevelEvent::Call(CallRecord { function_id: FunctionId(0), args: vec![] }),
            TraceLowLevelEvent::Type(runtime_tracing::TypeRecord {
                kind: runtime_tracing::TypeKind::None,
                lang_type: "None".into(),
                specific_info: runtime_tracing::TypeSpecificInfo::None,
            }),
        ]
    }

    fn ret() -> TraceLowLevelEvent {
        TraceLowLevelEvent::Return(ReturnRecord { return_value: NONE_VALUE })
    }

    #[test]
    fn a_balanced_stream_passes() {
        let mut events = toplevel();
        events.push(TraceLowLevelEvent::Function(FunctionRecord { path_id: PathId(0), line: Line(3), name: "f".into() }));
        events.push(TraceLowLevelEvent::Step(StepRecord { path_id: PathId(0), line: Line(3) }));
        events.push(TraceLowLevelEvent::Call(CallRecord { function_id: FunctionId(1), args: vec![] }));
        events.push(ret());
        events.push(ret());
        let summary = check_events(&events);
        assert_eq!(summary.map(|s| (s.calls, s.returns, s.steps)), Ok((2, 2, 1)));
    }

    #[test]
    fn an_unclosed_call_is_incomplete() {
        let events = toplevel();
        assert!(check_events(&events).is_err_and(|e| e.contains("never return")));
    }

    #[test]
    fn a_call_without_its_step_is_rejected() {
        let mut events = toplevel();
        events.push(TraceLowLevelEvent::Call(CallRecord { function_id: FunctionId(0), args: vec![] }));
        events.push(ret());
        events.push(ret());
        assert!(check_events(&events).is_err_and(|e| e.contains("not preceded by its Step")));
    }

    #[test]
    fn a_path_used_before_definition_is_rejected() {
        let mut events = toplevel();
        events.push(TraceLowLevelEvent::Step(StepRecord { path_id: PathId(7), line: Line(1) }));
        events.push(ret());
        assert!(check_events(&events).is_err_and(|e| e.contains("path 7")));
    }

    #[test]
    fn a_return_without_call_is_rejected() {
        let mut events = toplevel();
        events.push(ret());
        events.push(ret());
        assert!(check_events(&events).is_err());
    }

    /// A `trace.bin` as the writer makes it (`writer.rs`), of `content` in one zstd frame.
    fn trace_bin(content: &[u8]) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
        let mut bytes = BINARY_HEADER.to_vec();
        let mut encoder = zeekstd::EncodeOptions::new().checksum_flag(true).into_encoder(&mut bytes)?;
        std::io::Write::write_all(&mut encoder, content)?;
        encoder.finish()?;
        Ok(bytes)
    }

    #[test]
    fn a_trace_bin_must_decode_to_what_its_seek_table_says() -> Result<(), Box<dyn std::error::Error>> {
        let good = trace_bin(&[7; 1000])?;
        assert_eq!(check_binary(&good), Ok(()));
        let damaged = |at: usize, to: u8| {
            let mut bytes = good.clone();
            bytes[at] = to;
            check_binary(&bytes).unwrap_err()
        };
        let footer = good.len() - SEEK_TABLE_INTEGRITY_SIZE;
        // The one entry's decompressed size (read as 1001 and 2024): zeekstd would hang.
        assert!(damaged(footer - 4, 0xE9).contains("hold 1000 bytes, its seek table says 1001"));
        assert!(damaged(footer - 3, 0x07).contains("hold 1000 bytes, its seek table says 2024"));
        // Its compressed size, and its entry count: zeekstd would slice out of bounds.
        assert!(damaged(footer - 8, 0).contains("it gives the frames 0 bytes"));
        assert!(damaged(footer, 9).contains("would not fit in the file"));
        // A byte of the frame's checksum.
        assert!(damaged(footer - 8 - 8 - 1, 0).contains("doesn't match checksum"));
        assert!(damaged(0, 0).contains("header"));
        Ok(())
    }

    #[test]
    fn a_panic_of_the_reader_becomes_its_message() {
        assert_eq!(catch_quietly(|| panic!("a &str")), Err::<(), _>("a &str".to_owned()));
        assert_eq!(catch_quietly(|| std::panic::panic_any(format!("a {}", "String"))), Err::<(), _>("a String".to_owned()));
        assert_eq!(catch_quietly(|| 7), Ok(7));
    }

    #[test]
    fn a_fifo_is_refused_not_waited_on() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let fifo = dir.path().join(METADATA_FILE);
        let name = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes())?;
        // SAFETY: `name` is a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
        assert!(read_regular(&fifo).is_err_and(|e| e.to_string() == "not a regular file"));
        Ok(())
    }

    /// Records the programs in `examples/` with the real recorder (through the
    /// interpreter `make` set up) in both formats, and loads each trace with the crate's
    /// reader.
    #[test]
    fn traces_of_real_programs_load_with_the_crate_reader() -> Result<(), Box<dyn std::error::Error>> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let python = std::env::var_os("CODETRACER_TEST_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join(".venv/bin/python"));
        assert!(python.exists(), "no recorder interpreter at {}; run `make test-rust`", python.display());
        let out = tempfile::tempdir()?;
        let mut recorded = 0;
        for entry in std::fs::read_dir(root.join("examples"))? {
            let script = entry?.path();
            if script.extension().is_none_or(|ext| ext != "py") {
                continue;
            }
            for format in ["json", "binary"] {
                let dir = out.path().join(format!("{}-{format}", script.file_stem().unwrap_or_default().to_string_lossy()));
                let status = std::process::Command::new(&python)
                    .args(["-m", "codetracer_recorder", "--format", format, "--trace-dir"])
                    .arg(&dir)
                    .arg(&script)
                    .stdout(std::process::Stdio::null())
                    .status()?;
                assert!(status.success(), "recording {} failed: {status}", script.display());
                let (events, _, _) = load_events(&dir)?;
                let summary = check(&dir)?;
                assert_eq!(summary.events, events.len());
                assert_eq!(summary.calls, summary.returns, "{}: unbalanced", dir.display());
                assert!(summary.calls > 1 && summary.steps > 0, "{}: nothing recorded", dir.display());
                assert!(matches!(events.last(), Some(TraceLowLevelEvent::Return(_))));
                recorded += 1;
            }
        }
        assert!(recorded >= 2, "examples/ holds no programs");
        Ok(())
    }
}
