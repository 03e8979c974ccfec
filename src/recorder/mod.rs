//! A recording session: from `start` to `stop`, everything one trace needs.
//!
//! `monitoring.rs` delivers each `sys.monitoring` event to one `on_*` method here. Each
//! method appends the events of that moment to the stream (primary thread) or to the
//! thread's segment (see `threads.rs`); definitions of types, names and paths always go
//! straight to the stream, ahead of their use. Full batches of the stream go to the
//! writer thread (`writer.rs`).

mod cbor_events;
mod code_registry;
pub mod encoder;
mod filters;
mod frame;
mod interner;
mod json_events;
mod objects;
pub mod output;
mod redaction;
#[cfg(test)]
mod sample_events;
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
use crate::metrics::{self, DetachReason};
use crate::monitoring::Monitoring;
use crate::policy::{self, OnRecorderError, RecorderPolicy};
use code_registry::{CodeEntry, CodeRegistry};
use filters::Filters;
use interner::Interner;
use output::{random_hex, TraceOutput, METADATA_FILE, PATHS_FILE};
use threads::{Frame, Threads, PRIMARY};
pub(crate) use values::utf8_text;
use values::{Sink, ValueEncoder};
use variables::VariableCache;
use writer::{EventWriter, Format, BATCH_BYTES, BATCH_EVENTS};

/// Appends `event` to the stream (`destination` `None`: the primary thread) or to the
/// segment of the thread at that index. A free function, so callers can hold other
/// borrows of the session (the code registry) while pushing.
fn push(stream: &mut Vec<TraceLowLevelEvent>, threads: &mut Threads, destination: Option<usize>, event: TraceLowLevelEvent) {
    match destination {
        None => stream.push(event),
        Some(index) => threads.get(index).segment.push(event),
    }
}

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
    /// The policy this session follows (a copy: later changes apply to the next session).
    pub policy: RecorderPolicy,
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
    /// The trace directory, or `None` when the session failed and left no trace.
    pub path: Option<PathBuf>,
    pub format: Format,
    pub trace_id: String,
    pub counts: Counts,
    pub bytes: u64,
    /// The trace at `path` is the part written before a failure (`keep_partial_trace`).
    pub partial: bool,
    /// The failure, when the policy (`disable`) says `stop` reports it instead of raising.
    pub error: Option<RecorderError>,
}

pub struct Session {
    trace_id: String,
    program: String,
    args: Vec<String>,
    /// The working directory as text (see [`path_text`]).
    workdir: String,
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
    /// Approximate heap bytes held by the values in `stream`.
    batch_bytes: usize,
    counts: Counts,
    /// The first failure; once set, nothing more is recorded and `stop` reports it.
    failure: Option<RecorderError>,
    /// The detach after the failure was counted (`metrics::record_detach`, once a session).
    detach_counted: bool,
    policy: RecorderPolicy,
}

impl Session {
    /// Prepares the output and the writer, then installs the callbacks. The calling
    /// thread is the primary thread.
    pub fn start(py: Python<'_>, config: SessionConfig) -> RecorderResult<Self> {
        // Everything that can fail without leaving anything behind comes first.
        let filters = Filters::new(&config.include, &config.exclude, &config.skip_prefixes, &config.never_prefixes)?;
        let trace_id = random_hex(16)?;
        let monitoring = Monitoring::new(py)?;
        let output = TraceOutput::prepare(&config.trace_dir)?;
        let writer = match EventWriter::spawn(&output.staged(config.format.events_file()), config.format) {
            Ok(writer) => writer,
            Err(err) => {
                output.discard();
                return Err(err);
            }
        };
        let mut session = Session {
            trace_id,
            workdir: path_text(&std::env::current_dir().unwrap_or_default()),
            program: config.program,
            args: config.args,
            format: config.format,
            capture: config.capture,
            filters,
            monitoring,
            output,
            writer,
            interner: Interner::default(),
            values: ValueEncoder::default(),
            codes: CodeRegistry::default(),
            names: VariableCache::default(),
            threads: Threads::new(),
            stream: Vec::with_capacity(BATCH_EVENTS),
            batch_bytes: 0,
            counts: Counts::default(),
            failure: None,
            detach_counted: false,
            policy: config.policy,
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
    //
    // Each handler works out its events and pushes them in order with `emit`; type,
    // name and path definitions made while encoding a value go straight to the stream,
    // which is always ahead of (or is) the event's destination.

    /// `PY_START`: a new frame of `code`. Returns false when the code is not recorded
    /// (the caller then disables the event for it).
    pub fn on_start(&mut self, py: Python<'_>, code: &Bound<'_, PyAny>) -> RecorderResult<bool> {
        let address = code.as_ptr() as usize;
        let entry = match self.codes.get(address) {
            Some(entry) => entry,
            None => self.register(py, code)?,
        };
        let CodeEntry::Recorded(info_index) = entry else { return Ok(false) };
        let info = self.codes.recorded(info_index);
        let mut args = Vec::new();
        if self.capture != Capture::None {
            if let Some(frame) = frame::running(py, code.as_ptr()) {
                args.reserve_exact(info.params.len());
                let mut sink = Sink { interner: &mut self.interner, out: &mut self.stream };
                for param in &info.params {
                    let value = match frame.local(param.index, param.kind) {
                        Some(_) if param.name.secret => self.values.redacted(&mut sink),
                        Some(value) => self.values.encode_ptr(py, value, &mut sink),
                        None => ValueRecord::None { type_id: NONE_TYPE_ID },
                    };
                    args.push(FullValueRecord { variable_id: param.name.id, value });
                }
            }
        }
        let frame = Frame { code: address, info: info_index, function_id: info.function_id, path_id: info.path_id };
        let line = info.first_line;
        self.enter(frame, line, args);
        Ok(true)
    }

    /// First sight of `code`: decide, describe, and switch its local events on.
    fn register(&mut self, py: Python<'_>, code: &Bound<'_, PyAny>) -> RecorderResult<CodeEntry> {
        let module = frame::running(py, code.as_ptr()).map(|f| f.module_name()).unwrap_or_default();
        let entry = self.codes.register(code, &module, &self.filters, &mut self.interner, &mut self.names, &mut self.stream)?;
        if let CodeEntry::Recorded(_) = entry {
            self.monitoring.enable_local_events(py, code)?;
        }
        Ok(entry)
    }

    /// `PY_RESUME` (no argument) and `PY_THROW` (the thrown exception as `exception`):
    /// a suspended frame of `code` runs again, recorded as a new Call.
    pub fn on_resume(&mut self, py: Python<'_>, code: &Bound<'_, PyAny>, thrown: Option<&Bound<'_, PyAny>>) -> RecorderResult<()> {
        let address = code.as_ptr() as usize;
        let Some(CodeEntry::Recorded(info_index)) = self.codes.get(address) else { return Ok(()) };
        let mut args = Vec::new();
        if let Some(exception) = thrown {
            let variable_id = self.interner.variable_id("exception", &mut self.stream);
            let mut sink = Sink { interner: &mut self.interner, out: &mut self.stream };
            let value = self.values.exception(py, exception, &mut sink);
            args.push(FullValueRecord { variable_id, value });
        }
        let info = self.codes.recorded(info_index);
        let frame = Frame { code: address, info: info_index, function_id: info.function_id, path_id: info.path_id };
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
        self.emit(index, TraceLowLevelEvent::Step(StepRecord { path_id: top.path_id, line: Line(line) }));
        self.counts.steps += 1;
        if self.capture == Capture::Locals {
            if let Some(frame) = frame::running(py, code.as_ptr()) {
                self.capture_locals(py, index, &frame, top.info);
            }
        }
        self.after_emit(index);
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
        self.emit(index, TraceLowLevelEvent::Return(ReturnRecord { return_value }));
        self.after_emit(index);
        Ok(())
    }

    /// Pushes `frame` on the calling thread's stack with its Step and Call.
    fn enter(&mut self, frame: Frame, line: i64, args: Vec<FullValueRecord>) {
        let index = self.threads.current();
        // CodeTracer takes the step just before a Call as the call's entry step.
        self.emit(index, TraceLowLevelEvent::Step(StepRecord { path_id: frame.path_id, line: Line(line) }));
        self.emit(index, TraceLowLevelEvent::Call(CallRecord { function_id: frame.function_id, args }));
        self.counts.calls += 1;
        self.threads.get(index).stack.push(frame);
        self.after_emit(index);
    }

    /// A Value for each bound variable of the running frame.
    fn capture_locals(&mut self, py: Python<'_>, index: usize, frame: &frame::RunningFrame<'_>, info: u32) {
        let info = self.codes.recorded(info);
        let mut sink = Sink { interner: &mut self.interner, out: &mut self.stream };
        let destination = if index == PRIMARY { None } else { Some(index) };
        if info.optimized {
            for slot in &info.slots {
                let Some(value) = frame.local(slot.index, slot.kind) else { continue };
                let value = if slot.name.secret { self.values.redacted(&mut sink) } else { self.values.encode_ptr(py, value, &mut sink) };
                let event = TraceLowLevelEvent::Value(FullValueRecord { variable_id: slot.name.id, value });
                push(sink.out, &mut self.threads, destination, event);
                self.counts.values += 1;
            }
            return;
        }
        // Module and class bodies: their variables are the entries of a dict.
        let Some(mapping) = frame.mapping() else { return };
        // SAFETY: a borrowed, live object for the callback's duration.
        let mapping = unsafe { Bound::from_borrowed_ptr(py, mapping) };
        let Ok(mapping) = mapping.downcast::<pyo3::types::PyDict>() else { return };
        for (key, value) in mapping.iter() {
            // A key that is not a str (`globals()[1] = ...`) names no variable; reading
            // it as text would run its `__str__`.
            let Ok(key) = key.downcast::<pyo3::types::PyString>() else { continue };
            let name = self.names.get(key, sink.interner, sink.out);
            if name.dunder || (info.is_module && value.is_instance_of::<pyo3::types::PyModule>()) {
                continue;
            }
            let value = if name.secret { self.values.redacted(&mut sink) } else { self.values.encode(py, &value, &mut sink) };
            let event = TraceLowLevelEvent::Value(FullValueRecord { variable_id: name.id, value });
            push(sink.out, &mut self.threads, destination, event);
            self.counts.values += 1;
        }
    }

    /// Appends an event for the thread at `index` (see `threads.rs`).
    fn emit(&mut self, index: usize, event: TraceLowLevelEvent) {
        let destination = if index == PRIMARY { None } else { Some(index) };
        push(&mut self.stream, &mut self.threads, destination, event);
    }

    /// After a callback's events: a thread's finished top-level call joins the stream
    /// (after its events set aside, if any), a thread's long one has its events set
    /// aside, and a full batch goes to the writer.
    fn after_emit(&mut self, index: usize) {
        if index != PRIMARY {
            let thread = self.threads.get(index);
            if thread.stack.is_empty() {
                if thread.set_aside {
                    thread.set_aside = false;
                    self.send_batch();
                    let sent = self.writer.rejoin(index);
                    self.check_sent(sent);
                }
                self.stream.append(&mut self.threads.get(index).segment);
            } else if thread.segment.len() >= BATCH_EVENTS {
                thread.set_aside = true;
                let batch = std::mem::replace(&mut thread.segment, self.writer.empty_batch());
                self.counts.events += batch.len() as u64;
                let sent = self.writer.set_aside(index, batch);
                self.check_sent(sent);
            }
        }
        self.batch_bytes += self.values.take_bytes();
        if self.stream.len() >= BATCH_EVENTS || self.batch_bytes >= BATCH_BYTES {
            self.send_batch();
        }
    }

    fn send_batch(&mut self) {
        let batch = std::mem::replace(&mut self.stream, self.writer.empty_batch());
        self.batch_bytes = 0;
        self.counts.events += batch.len() as u64;
        let sent = self.writer.send(batch);
        self.check_sent(sent);
    }

    /// A message the writer did not take means it has stopped: recording has failed,
    /// with the writer's own error (so it is reported once, saying why).
    fn check_sent(&mut self, sent: Result<(), ()>) {
        if sent.is_err() && self.failure.is_none() {
            self.failure = Some(self.writer.stop_error());
        }
    }

    /// True once recording has failed; the callbacks then stop recording.
    pub fn failed(&self) -> bool {
        self.failure.is_some()
    }

    /// True once recording has failed under `on_recorder_error=disable`: the session is
    /// no longer recording (`is_tracing()` is false) and `stop` will not raise.
    pub fn detached(&self) -> bool {
        self.failed() && self.policy.on_recorder_error == OnRecorderError::Disable
    }

    /// Remembers the first failure and stops recording (see [`Session::detach`]).
    pub fn fail(&mut self, py: Python<'_>, err: RecorderError) {
        if self.failure.is_none() {
            self.failure = Some(err);
        }
        self.detach(py);
    }

    /// Stops recording after the failure just recorded: every event of ours is switched
    /// off (globally and on each recorded code object), so the program runs on at full
    /// speed. The callbacks stay registered until `stop`: this may run inside one of them,
    /// which must not free itself. Under `disable` the failure is reported now, as a
    /// warning line; under `abort` `stop` raises it.
    pub fn detach(&mut self, py: Python<'_>) {
        self.monitoring.silence(py, &self.codes.recorded_codes(py));
        if let Some(err) = self.failure.as_ref().filter(|_| !self.detach_counted) {
            self.detach_counted = true;
            let reason = match self.policy.on_recorder_error {
                OnRecorderError::Abort => DetachReason::Abort,
                OnRecorderError::Disable => DetachReason::Disable,
            };
            metrics::record_detach(reason, err.code);
        }
        if let (Some(err), OnRecorderError::Disable) = (&self.failure, self.policy.on_recorder_error) {
            policy::report_detach(err, &self.trace_id);
        }
    }

    /// Hands everything recorded so far to the writer and waits until it is on disk.
    /// A writer that stopped detaches the session; under `abort` its failure is returned
    /// (and `stop` returns it again), under `disable` a detached session has nothing to flush.
    pub fn flush(&mut self, py: Python<'_>) -> RecorderResult<()> {
        if !self.failed() {
            self.send_batch();
            let flushed = self.writer.flush();
            self.check_sent(flushed);
            if self.failed() {
                self.detach(py);
            }
        }
        match (&self.failure, self.policy.on_recorder_error) {
            (Some(err), OnRecorderError::Abort) => Err(err.clone()),
            _ => Ok(()),
        }
    }

    // ---- end ----------------------------------------------------------------------

    /// Ends the session: uninstalls the callbacks, closes every open frame, writes the
    /// final top-level Return and the metadata, and moves the trace into place.
    ///
    /// A failure (while recording, or now while finishing), or with `require_trace` a
    /// session that recorded nothing of the program, goes by the policy: with
    /// `keep_partial_trace` what was written is kept, marked partial in its metadata,
    /// else nothing is left; `abort` returns the error; `disable` reports it (a warning,
    /// unless `detach` did already) and returns it in the summary, except that a
    /// required trace that was not written is an error under any policy.
    pub fn stop(mut self, py: Python<'_>, exit_code: Option<i64>) -> RecorderResult<Summary> {
        self.monitoring.uninstall(py, &self.codes.recorded_codes(py));
        // What `detach` already reported (under `disable`).
        let reported = if self.detached() { self.failure.clone() } else { None };
        self.close_open_frames();
        let mut sink = Sink { interner: &mut self.interner, out: &mut self.stream };
        let return_value = match exit_code {
            Some(code) => self.values.int(code, &mut sink),
            None => ValueRecord::None { type_id: NONE_TYPE_ID },
        };
        self.stream.push(TraceLowLevelEvent::Return(ReturnRecord { return_value }));
        self.send_batch();
        // `<toplevel>` is always there; anything more is the program's.
        let recorded_nothing = self.counts.calls <= 1 && self.counts.steps == 0;
        let Session { writer, output, failure, policy, .. } = self;
        let events_file = output.staged(self.format.events_file());
        let written = py.allow_threads(|| writer.finish());
        let mut events_closed = written.is_ok();
        let mut failure = match (written, failure) {
            (Ok(_), failure) => failure,
            (Err(_), Some(first)) => Some(first),
            (Err(err), None) => Some(err),
        };
        if failure.is_none() && policy.require_trace && recorded_nothing {
            failure = Some(RecorderError::new(
                ErrorCode::TraceMissing,
                "nothing of the program was recorded (require_trace): check --include/--exclude and that the program ran",
            ));
        }
        let mut paths = self.interner.paths().to_vec();
        if !events_closed && policy.keep_partial_trace && self.format == Format::Json {
            if let Some(kept) = output::close_cut_json_events(&events_file) {
                (events_closed, paths) = (true, kept);
            }
        }
        let bytes = std::fs::metadata(&events_file).map(|m| m.len()).unwrap_or(0);
        let metadata = Metadata {
            workdir: &self.workdir,
            program: &self.program,
            args: &self.args,
            recorder: RecorderInfo { name: "codetracer-recorder", version: env!("CARGO_PKG_VERSION") },
            trace_id: &self.trace_id,
            format: self.format.name(),
            capture: self.capture.name(),
            exit_code,
            partial: failure.is_some(),
            failure: failure.as_ref().map(|err| PartialReason { reason: err.code.as_str(), reason_message: &err.message, events_closed }),
        };
        let kept = if failure.is_none() || policy.keep_partial_trace {
            let finished = output.write_json(METADATA_FILE, &metadata).and_then(|()| output.write_json(PATHS_FILE, &paths));
            // A trace that cannot be finished, or marked partial, is removed (by `commit` if
            // the move failed); the first failure stays the one reported.
            let committed = match finished {
                Ok(()) => output.commit(),
                Err(err) => {
                    output.discard();
                    Err(err)
                }
            };
            match committed {
                Ok(path) => Some(path),
                Err(err) => {
                    failure.get_or_insert(err);
                    None
                }
            }
        } else {
            output.discard();
            None
        };
        let summary = Summary {
            partial: failure.is_some() && kept.is_some(),
            path: kept,
            format: self.format,
            trace_id: self.trace_id,
            counts: self.counts,
            bytes,
            error: None,
        };
        let Some(mut err) = failure else { return Ok(summary) };
        // Reported already by `detach`, unless it came at stop.
        let new = reported.as_ref() != Some(&err);
        if let Some(path) = &summary.path {
            err = err.with("partial_trace", path.display());
        }
        match policy.on_recorder_error {
            OnRecorderError::Abort => Err(err),
            OnRecorderError::Disable if err.code == ErrorCode::TraceMissing => Err(err),
            OnRecorderError::Disable if policy.require_trace => Err(required_trace_not_written(&err, summary.partial)),
            OnRecorderError::Disable => {
                if new {
                    policy::report_detach(&err, &summary.trace_id);
                }
                Ok(Summary { error: Some(err), ..summary })
            }
        }
    }

    /// Every thread's still-open frames get a Return, so the stream stays balanced;
    /// the other threads' segments then join the stream.
    fn close_open_frames(&mut self) {
        for index in (0..self.threads.len()).rev() {
            let open = self.threads.get(index).stack.len();
            for _ in 0..open {
                let mut sink = Sink { interner: &mut self.interner, out: &mut self.stream };
                let return_value = self.values.text("recording stopped while this frame was running", "<recording stopped>", &mut sink);
                self.threads.get(index).stack.pop();
                self.emit(index, TraceLowLevelEvent::Return(ReturnRecord { return_value }));
                self.after_emit(index);
            }
        }
    }

    /// Before `fork()`: see [`EventWriter::pause`].
    pub fn pause_writer(&mut self) {
        self.writer.pause();
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

/// Under `disable` with `require_trace`: the session failed (`cause`), so the trace the
/// caller required is missing, or only partial.
fn required_trace_not_written(cause: &RecorderError, partial: bool) -> RecorderError {
    let (code, what) = if partial { (ErrorCode::TraceIncomplete, "only a partial trace") } else { (ErrorCode::TraceMissing, "no trace") };
    let mut err = RecorderError::new(code, format!("a trace is required (require_trace) but {what} was written: {cause}"));
    err.context = cause.context.clone();
    err.with("cause", cause.code)
}

/// A path as text: a byte that is not UTF-8 becomes a `\udcxx` escape, as Python's
/// `surrogateescape` decoding and the recorder's text of such strings have it.
fn path_text(path: &Path) -> String {
    use std::fmt::Write;
    use std::os::unix::ffi::OsStrExt;
    let mut text = String::new();
    for chunk in path.as_os_str().as_bytes().utf8_chunks() {
        text.push_str(chunk.valid());
        for byte in chunk.invalid() {
            let _ = write!(text, "\\udc{byte:02x}");
        }
    }
    text
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
    workdir: &'a str,
    program: &'a str,
    args: &'a [String],
    recorder: RecorderInfo,
    trace_id: &'a str,
    format: &'a str,
    capture: &'a str,
    exit_code: Option<i64>,
    /// True only for what a failed session left (`keep_partial_trace`); see `PartialReason`.
    partial: bool,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    failure: Option<PartialReason<'a>>,
}

/// Why a partial trace ends: the `ERR_*` code and message of the failure, and whether
/// its event stream was closed (every open frame returned, so it loads as a trace) or
/// ends where writing it failed.
#[derive(Serialize)]
struct PartialReason<'a> {
    reason: &'static str,
    reason_message: &'a str,
    events_closed: bool,
}
