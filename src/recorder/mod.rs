//! A recording session: from `start` to `stop`, everything one trace needs.
//!
//! `monitoring.rs` delivers each `sys.monitoring` event to one `on_*` method here. Each
//! method builds the events of that moment into `scratch` (type, name and path
//! definitions go straight to `stream`, ahead of their use), then [`Session::commit`]
//! appends them to the stream (primary thread) or to the thread's segment (see
//! `threads.rs`); full batches of the stream go to the writer thread (`writer.rs`).

mod code_registry;
mod filters;
mod frame;
mod interner;
pub mod output;
mod redaction;
mod threads;
mod values;
mod variables;
pub mod writer;

use std::path::{Path, PathBuf};

use pyo3::prelude::*;
use runtime_tracing::{
    CallRecord, FullValueRecord, FunctionId, Line, ReturnRecord, StepRecord, TraceLowLevelEvent, TypeKind, ValueRecord,
    NONE_TYPE_ID,
};
use serde::Serialize;

use crate::errors::{ErrorCode, RecorderError, RecorderResult};
use crate::gil_cell::GilCell;
use crate::monitoring::Monitoring;
use code_registry::{CodeInfo, CodeRegistry};
use filters::Filters;
use interner::Interner;
use output::{random_hex, TraceOutput, METADATA_FILE, PATHS_FILE};
use threads::{Frame, Threads, PRIMARY};
use values::{Sink, ValueEncoder};
use variables::VariableCache;
use writer::{EventWriter, Format, BATCH_EVENTS};

/// The active session, if any. Only touched with the GIL held (see `gil_cell.rs`).
pub static ACTIVE: GilCell<Option<Session>> = GilCell::new(None);

/// Which values are recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capture {
    /// Calls, returns and line steps only.
    None,
    /// Also the arguments of each call and each return value.
    Args,
    /// Also the values of the frame's locals at every line step (the default).
    Locals,
}

impl Capture {
    pub fn parse(name: &str) -> RecorderResult<Self> {
        match name {
            "none" => Ok(Capture::None),
            "args" => Ok(Capture::Args),
            "locals" => Ok(Capture::Locals),
            other => Err(RecorderError::new(
                ErrorCode::InvalidPolicyValue,
                format!("invalid capture mode {other:?}; use \"locals\", \"args\" or \"none\""),
            )
            .with("option", "capture")
            .with("value", other)),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Capture::None => "none",
            Capture::Args => "args",
            Capture::Locals => "locals",
        }
    }
}

/// How a frame is left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Return,
    Yield,
    Unwind,
}

/// What the caller asked for at `start`.
pub struct SessionConfig {
    pub trace_dir: PathBuf,
    pub format: Format,
    pub program: String,
    pub args: Vec<String>,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    pub skip_prefixes: Vec<String>,
    pub never_prefixes: Vec<String>,
    pub capture: Capture,
}

/// Counts reported at `stop`; `events` counts every event written, interning included.
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct Counts {
    pub events: u64,
    pub calls: u64,
    pub steps: u64,
    pub values: u64,
}

/// What `stop` reports.
pub struct Summary {
    pub path: PathBuf,
    pub format: Format,
    pub trace_id: String,
    pub counts: Counts,
    pub bytes: u64,
}

pub struct Session {
    trace_id: String,
    program: String,
    args: Vec<String>,
    workdir: PathBuf,
    format: Format,
    capture: Capture,
    filters: Filters,
    monitoring: Monitoring,
    output: TraceOutput,
    writer: EventWriter,
    interner: Interner,
    values: ValueEncoder,
    codes: CodeRegistry,
    names: VariableCache,
    threads: Threads,
    /// The event stream not yet handed to the writer.
    stream: Vec<TraceLowLevelEvent>,
    /// The events of the callback being handled.
    scratch: Vec<TraceLowLevelEvent>,
    counts: Counts,
    /// The first failure; once set, nothing more is recorded and `stop` reports it.
    failure: Option<RecorderError>,
}

impl Session {
    /// Prepares the output and the writer, then installs the callbacks. The calling
    /// thread is the primary thread.
    pub fn start(py: Python<'_>, config: SessionConfig) -> RecorderResult<Self> {
        let filters = Filters::new(&config.include, &config.exclude, &config.skip_prefixes, &config.never_prefixes)?;
        let output = TraceOutput::prepare(&config.trace_dir)?;
        let writer = match EventWriter::spawn(&output.staged(config.format.events_file()), config.format) {
            Ok(writer) => writer,
            Err(err) => {
                output.discard();
                return Err(err);
            }
        };
        let mut session = Session {
            trace_id: random_hex(16)?,
            workdir: std::env::current_dir().unwrap_or_default(),
            program: config.program,
            args: config.args,
            format: config.format,
            capture: config.capture,
            filters,
            monitoring: Monitoring::new(py)?,
            output,
            writer,
            interner: Interner::default(),
            values: ValueEncoder::default(),
            codes: CodeRegistry::default(),
            names: VariableCache::default(),
            threads: Threads::new(),
            stream: Vec::with_capacity(BATCH_EVENTS),
            scratch: Vec::with_capacity(64),
            counts: Counts::default(),
            failure: None,
        };
        session.open_toplevel();
        if let Err(err) = session.monitoring.install(py) {
            session.abandon(py);
            return Err(err);
        }
        Ok(session)
    }

    pub fn trace_id(&self) -> &str {
        &self.trace_id
    }

    /// The `<toplevel>` frame every trace opens with: path 0 (the program), function 0,
    /// its Call, and type 0 (`None`), as CodeTracer's reader expects.
    fn open_toplevel(&mut self) {
        let out = &mut self.stream;
        let path_id = self.interner.path_id(&self.program, out);
        let function_id = self.interner.new_function("<toplevel>", path_id, 1, out);
        out.push(TraceLowLevelEvent::Call(CallRecord { function_id, args: Vec::new() }));
        let none = self.interner.type_id(TypeKind::None, "None", out);
        debug_assert_eq!((function_id, none), (FunctionId(0), NONE_TYPE_ID));
        self.counts.calls += 1;
    }

    // ---- events -------------------------------------------------------------------

    /// `PY_START`: a new frame of `code`. Returns false when the code is not recorded
    /// (the caller then disables the event for it).
    pub fn on_start(&mut self, py: Python<'_>, code: &Bound<'_, PyAny>) -> RecorderResult<bool> {
        let address = code.as_ptr() as usize;
        if self.codes.get(address).is_none() {
            let frame = frame::current(py);
            let module = frame.map(|f| frame::module_name(py, f)).unwrap_or_default();
            let info = self.codes.register(code, &module, &self.filters, &mut self.interner, &mut self.names, &mut self.stream)?;
            if matches!(info, CodeInfo::Recorded(_)) {
                self.monitoring.enable_local_events(py, code)?;
            }
        }
        let Some(CodeInfo::Recorded(info)) = self.codes.get(address) else { return Ok(false) };
        let mut args = Vec::with_capacity(info.params.len());
        if self.capture != Capture::None {
            if let Some(frame) = frame::current(py) {
                let mut sink = Sink { interner: &mut self.interner, out: &mut self.stream };
                for (name, object) in &info.params {
                    let value = match frame::var(py, frame, object.bind(py)) {
                        Some(_) if name.secret => self.values.redacted(&mut sink),
                        Some(value) => self.values.encode(py, &value, &mut sink),
                        None => ValueRecord::None { type_id: NONE_TYPE_ID },
                    };
                    args.push(FullValueRecord { variable_id: name.id, value });
                }
            }
        }
        let frame = Frame { code: address, function_id: info.function_id, path_id: info.path_id, is_module: info.is_module };
        let line = info.first_line;
        self.enter(frame, line, args);
        Ok(true)
    }

    /// `PY_RESUME` (no argument) and `PY_THROW` (the thrown exception as `exception`):
    /// a suspended frame of `code` runs again, recorded as a new Call.
    pub fn on_resume(&mut self, py: Python<'_>, code: &Bound<'_, PyAny>, thrown: Option<&Bound<'_, PyAny>>) -> RecorderResult<()> {
        let address = code.as_ptr() as usize;
        let Some(CodeInfo::Recorded(info)) = self.codes.get(address) else { return Ok(()) };
        let mut args = Vec::new();
        if let Some(exception) = thrown {
            let variable_id = self.interner.variable_id("exception", &mut self.stream);
            let mut sink = Sink { interner: &mut self.interner, out: &mut self.stream };
            let value = self.values.exception(py, exception, &mut sink);
            args.push(FullValueRecord { variable_id, value });
        }
        let frame = Frame { code: address, function_id: info.function_id, path_id: info.path_id, is_module: info.is_module };
        let line = info.first_line;
        self.enter(frame, line, args);
        Ok(())
    }

    /// `LINE`: a Step, then (capturing locals) a Value per bound local.
    pub fn on_line(&mut self, py: Python<'_>, code: &Bound<'_, PyAny>, line: i64) -> RecorderResult<()> {
        let index = self.threads.current();
        let Some(top) = self.threads.get(index).stack.last().copied() else { return Ok(()) };
        if top.code != code.as_ptr() as usize {
            // A frame that was already running when recording started.
            return Ok(());
        }
        self.scratch.push(TraceLowLevelEvent::Step(StepRecord { path_id: top.path_id, line: Line(line) }));
        self.counts.steps += 1;
        if self.capture == Capture::Locals {
            self.capture_locals(py, top.is_module);
        }
        self.commit(index);
        Ok(())
    }

    /// `PY_RETURN`, `PY_YIELD` (the value) and `PY_UNWIND` (the exception): a Return.
    pub fn on_exit(&mut self, py: Python<'_>, code: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>, how: Exit) -> RecorderResult<()> {
        let index = self.threads.current();
        let thread = self.threads.get(index);
        if thread.stack.last().map(|top| top.code) != Some(code.as_ptr() as usize) {
            return Ok(());
        }
        thread.stack.pop();
        let mut sink = Sink { interner: &mut self.interner, out: &mut self.stream };
        let return_value = match (how, self.capture) {
            (Exit::Unwind, _) => self.values.exception(py, value, &mut sink),
            (_, Capture::None) => ValueRecord::None { type_id: NONE_TYPE_ID },
            _ => self.values.encode(py, value, &mut sink),
        };
        self.scratch.push(TraceLowLevelEvent::Return(ReturnRecord { return_value }));
        self.commit(index);
        Ok(())
    }

    /// Pushes `frame` on the calling thread's stack with its Step and Call.
    fn enter(&mut self, frame: Frame, line: i64, args: Vec<FullValueRecord>) {
        let index = self.threads.current();
        // CodeTracer takes the step just before a Call as the call's entry step.
        self.scratch.push(TraceLowLevelEvent::Step(StepRecord { path_id: frame.path_id, line: Line(line) }));
        self.scratch.push(TraceLowLevelEvent::Call(CallRecord { function_id: frame.function_id, args }));
        self.counts.calls += 1;
        self.threads.get(index).stack.push(frame);
        self.commit(index);
    }

    fn capture_locals(&mut self, py: Python<'_>, is_module: bool) {
        let Some(frame) = frame::current(py) else { return };
        let Some(locals) = frame::locals(py, frame) else { return };
        let mut sink = Sink { interner: &mut self.interner, out: &mut self.stream };
        for (key, value) in locals.iter() {
            let name = self.names.get(&key, sink.interner, sink.out);
            if name.dunder || (is_module && value.is_instance_of::<pyo3::types::PyModule>()) {
                continue;
            }
            let value = if name.secret { self.values.redacted(&mut sink) } else { self.values.encode(py, &value, &mut sink) };
            self.scratch.push(TraceLowLevelEvent::Value(FullValueRecord { variable_id: name.id, value }));
            self.counts.values += 1;
        }
    }

    /// Moves the callback's events to their destination; hands full batches to the writer.
    fn commit(&mut self, index: usize) {
        if index == PRIMARY {
            self.stream.append(&mut self.scratch);
        } else {
            let thread = self.threads.get(index);
            thread.segment.append(&mut self.scratch);
            if thread.stack.is_empty() {
                self.stream.append(&mut thread.segment);
            }
        }
        if self.stream.len() >= BATCH_EVENTS {
            self.send_batch();
        }
    }

    fn send_batch(&mut self) {
        let batch = std::mem::replace(&mut self.stream, Vec::with_capacity(BATCH_EVENTS));
        self.counts.events += batch.len() as u64;
        if self.writer.send(batch).is_err() && self.failure.is_none() {
            self.failure = Some(RecorderError::new(ErrorCode::Io, "the trace writer stopped (see the error at stop)"));
        }
    }

    /// True once recording has failed; the callbacks then stop recording.
    pub fn failed(&self) -> bool {
        self.failure.is_some()
    }

    /// Remembers the first failure and switches all events off.
    pub fn fail(&mut self, py: Python<'_>, err: RecorderError) {
        if self.failure.is_none() {
            self.failure = Some(err);
        }
        self.monitoring.silence(py);
    }

    /// Hands everything recorded so far to the writer and waits until it is on disk.
    pub fn flush(&mut self) -> RecorderResult<()> {
        self.send_batch();
        if self.writer.flush().is_err() {
            return Err(self.failure.clone().unwrap_or_else(|| RecorderError::new(ErrorCode::Io, "the trace writer stopped")));
        }
        Ok(())
    }

    // ---- end ----------------------------------------------------------------------

    /// Uninstalls the callbacks, closes every open frame, writes the final top-level
    /// Return and the metadata, and moves the trace into place.
    pub fn stop(mut self, py: Python<'_>, exit_code: Option<i64>) -> RecorderResult<Summary> {
        self.monitoring.uninstall(py, &self.codes.recorded_codes(py));
        self.close_open_frames();
        let mut sink = Sink { interner: &mut self.interner, out: &mut self.stream };
        let return_value = match exit_code {
            Some(code) => self.values.int(code, &mut sink),
            None => ValueRecord::None { type_id: NONE_TYPE_ID },
        };
        self.stream.push(TraceLowLevelEvent::Return(ReturnRecord { return_value }));
        self.send_batch();
        let Session { writer, output, failure, .. } = self;
        let written = py.allow_threads(|| writer.finish());
        let bytes = match (written, failure) {
            (Ok(bytes), None) => bytes,
            (Err(err), _) | (Ok(_), Some(err)) => {
                output.discard();
                return Err(err);
            }
        };
        let metadata = Metadata {
            workdir: &self.workdir,
            program: &self.program,
            args: &self.args,
            recorder: RecorderInfo { name: "codetracer-recorder", version: env!("CARGO_PKG_VERSION") },
            trace_id: &self.trace_id,
            format: self.format.name(),
            capture: self.capture.name(),
            exit_code,
        };
        let finish = output.write_json(METADATA_FILE, &metadata).and_then(|()| output.write_json(PATHS_FILE, &self.interner.paths()));
        if let Err(err) = finish {
            output.discard();
            return Err(err);
        }
        let path = output.commit()?;
        Ok(Summary { path, format: self.format, trace_id: self.trace_id, counts: self.counts, bytes })
    }

    /// Every thread's still-open frames get a Return, so the stream stays balanced;
    /// the other threads' segments then join the stream.
    fn close_open_frames(&mut self) {
        for index in (0..self.threads.len()).rev() {
            let open = self.threads.get(index).stack.len();
            for _ in 0..open {
                let mut sink = Sink { interner: &mut self.interner, out: &mut self.stream };
                let return_value = self.values.text("recording stopped while this frame was running", "<recording stopped>", &mut sink);
                self.scratch.push(TraceLowLevelEvent::Return(ReturnRecord { return_value }));
                self.threads.get(index).stack.pop();
                self.commit(index);
            }
        }
    }

    /// Drops the session in a forked child: callbacks off, nothing joined or written
    /// (joining the parent's writer thread would hang, since it does not exist here).
    pub fn forget_in_fork_child(self, py: Python<'_>) {
        self.monitoring.uninstall(py, &self.codes.recorded_codes(py));
        std::mem::forget(self);
    }

    /// Undoes a start that could not complete.
    fn abandon(self, py: Python<'_>) {
        self.monitoring.uninstall(py, &[]);
        let Session { writer, output, .. } = self;
        drop(writer);
        output.discard();
    }

    pub fn disable_sentinel<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        self.monitoring.disable(py)
    }
}

#[derive(Serialize)]
struct RecorderInfo {
    name: &'static str,
    version: &'static str,
}

/// `trace_metadata.json`: the fields CodeTracer reads (`workdir`, `program`, `args`)
/// and what the recorder adds.
#[derive(Serialize)]
struct Metadata<'a> {
    workdir: &'a Path,
    program: &'a str,
    args: &'a [String],
    recorder: RecorderInfo,
    trace_id: &'a str,
    format: &'a str,
    capture: &'a str,
    exit_code: Option<i64>,
}
