//! Loading a trace with `runtime_tracing`'s own reader and checking CodeTracer's rules.
//!
//! The crate's reader only checks shapes, so the ordering rules CodeTracer's backend
//! relies on are checked here: ids are interned before use, the stream opens with the
//! `<toplevel>` Call, a Step comes right before every other Call, no Return without an
//! open frame, and the stream ends with the top-level Return. Used by tests (Rust and
//! Python) on every trace they write, and by `python -m codetracer_recorder.summary`.

use std::path::{Path, PathBuf};

use runtime_tracing::{create_trace_reader, TraceEventsFileFormat, TraceLowLevelEvent, TraceMetadata, ValueRecord};
use serde::Serialize;

use crate::errors::{ErrorCode, RecorderError, RecorderResult};
use crate::recorder::output::{METADATA_FILE, PATHS_FILE};

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
    let (format, file, name) = if dir.join("trace.json").is_file() {
        (TraceEventsFileFormat::Json, dir.join("trace.json"), "json")
    } else if dir.join("trace.bin").is_file() {
        (TraceEventsFileFormat::Binary, dir.join("trace.bin"), "binary")
    } else {
        return Err(invalid(dir, "it has neither trace.json nor trace.bin"));
    };
    // The crate's binary reader panics on an unknown header; that is a bad trace, not a bug of ours.
    let loaded = std::panic::catch_unwind(|| create_trace_reader(format).load_trace_events(&file).map_err(|e| e.to_string()));
    match loaded {
        Ok(Ok(events)) => Ok((events, name, file)),
        Ok(Err(err)) => Err(invalid(dir, err)),
        Err(_) => Err(invalid(dir, "unrecognised binary header")),
    }
}

/// Loads and checks the trace in `dir`.
pub fn check(dir: &Path) -> RecorderResult<TraceSummary> {
    let (events, format, file) = load_events(dir)?;
    let metadata_text = std::fs::read_to_string(dir.join(METADATA_FILE)).map_err(|e| invalid(dir, format!("{METADATA_FILE}: {e}")))?;
    let metadata: TraceMetadata = serde_json::from_str(&metadata_text).map_err(|e| invalid(dir, format!("{METADATA_FILE}: {e}")))?;
    let paths_text = std::fs::read_to_string(dir.join(PATHS_FILE)).map_err(|e| invalid(dir, format!("{PATHS_FILE}: {e}")))?;
    let paths: Vec<String> = serde_json::from_str(&paths_text).map_err(|e| invalid(dir, format!("{PATHS_FILE}: {e}")))?;
    let mut summary = check_events(&events).map_err(|why| invalid(dir, why))?;
    if paths.len() != summary.paths {
        return Err(invalid(dir, format!("{PATHS_FILE} lists {} paths, the events define {}", paths.len(), summary.paths)));
    }
    summary.format = format;
    summary.program = metadata.program;
    summary.bytes = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    Ok(summary)
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
