//! Events as JSON text, byte for byte what `serde_json` writes for `runtime_tracing`'s
//! types, but several times faster for the events that make up nearly all of a trace.
//!
//! `serde_json` walks the derived `Serialize` impls and escapes every key and variant
//! name at run time; here the fixed parts are literals and only values are formatted.
//! `Step`, `Call`, `Return` and `Value` events with the common value kinds take the fast
//! path; everything else (definitions, rare value kinds) goes through `serde_json`. The
//! tests check the two agree exactly, so readers see no difference.

use std::io::Write;

use runtime_tracing::{FullValueRecord, TraceLowLevelEvent, ValueRecord};

/// Appends `event` as JSON to `out`.
pub fn write_event(out: &mut Vec<u8>, event: &TraceLowLevelEvent) -> std::io::Result<()> {
    match event {
        TraceLowLevelEvent::Step(step) => {
            out.extend_from_slice(b"{\"Step\":{\"path_id\":");
            write_int(out, step.path_id.0 as i64);
            out.extend_from_slice(b",\"line\":");
            write_int(out, step.line.0);
            out.extend_from_slice(b"}}");
            Ok(())
        }
        TraceLowLevelEvent::Call(call) if call.args.iter().all(|arg| is_simple(&arg.value)) => {
            out.extend_from_slice(b"{\"Call\":{\"function_id\":");
            write_int(out, call.function_id.0 as i64);
            out.extend_from_slice(b",\"args\":[");
            for (i, arg) in call.args.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_full_value(out, arg);
            }
            out.extend_from_slice(b"]}}");
            Ok(())
        }
        TraceLowLevelEvent::Return(ret) if is_simple(&ret.return_value) => {
            out.extend_from_slice(b"{\"Return\":{\"return_value\":");
            write_value(out, &ret.return_value);
            out.extend_from_slice(b"}}");
            Ok(())
        }
        TraceLowLevelEvent::Value(value) if is_simple(&value.value) => {
            out.extend_from_slice(b"{\"Value\":");
            write_full_value(out, value);
            out.push(b'}');
            Ok(())
        }
        other => serde_json::to_writer(out, other).map_err(std::io::Error::other),
    }
}

/// Value kinds the fast path writes (recursively); the others go through serde.
fn is_simple(value: &ValueRecord) -> bool {
    match value {
        ValueRecord::Int { .. }
        | ValueRecord::Bool { .. }
        | ValueRecord::String { .. }
        | ValueRecord::Raw { .. }
        | ValueRecord::Error { .. }
        | ValueRecord::None { .. } => true,
        ValueRecord::Float { f, .. } => f.is_finite(),
        ValueRecord::Sequence { elements, .. } | ValueRecord::Tuple { elements, .. } => elements.iter().all(is_simple),
        ValueRecord::Struct { field_values, .. } => field_values.iter().all(is_simple),
        ValueRecord::Variant { .. } | ValueRecord::Reference { .. } | ValueRecord::Cell { .. } | ValueRecord::BigInt { .. } => false,
    }
}

fn write_full_value(out: &mut Vec<u8>, value: &FullValueRecord) {
    out.extend_from_slice(b"{\"variable_id\":");
    write_int(out, value.variable_id.0 as i64);
    out.extend_from_slice(b",\"value\":");
    write_value(out, &value.value);
    out.push(b'}');
}

/// A value for which [`is_simple`] holds.
fn write_value(out: &mut Vec<u8>, value: &ValueRecord) {
    let type_id = match value {
        ValueRecord::Int { i, type_id } => {
            out.extend_from_slice(b"{\"kind\":\"Int\",\"i\":");
            write_int(out, *i);
            type_id
        }
        ValueRecord::Float { f, type_id } => {
            out.extend_from_slice(b"{\"kind\":\"Float\",\"f\":");
            out.extend_from_slice(ryu::Buffer::new().format_finite(*f).as_bytes());
            type_id
        }
        ValueRecord::Bool { b, type_id } => {
            out.extend_from_slice(if *b { b"{\"kind\":\"Bool\",\"b\":true" } else { b"{\"kind\":\"Bool\",\"b\":false" });
            type_id
        }
        ValueRecord::String { text, type_id } => {
            out.extend_from_slice(b"{\"kind\":\"String\",\"text\":");
            write_str(out, text);
            type_id
        }
        ValueRecord::Raw { r, type_id } => {
            out.extend_from_slice(b"{\"kind\":\"Raw\",\"r\":");
            write_str(out, r);
            type_id
        }
        ValueRecord::Error { msg, type_id } => {
            out.extend_from_slice(b"{\"kind\":\"Error\",\"msg\":");
            write_str(out, msg);
            type_id
        }
        ValueRecord::None { type_id } => {
            out.extend_from_slice(b"{\"kind\":\"None\"");
            type_id
        }
        ValueRecord::Sequence { elements, is_slice, type_id } => {
            out.extend_from_slice(b"{\"kind\":\"Sequence\",\"elements\":");
            write_values(out, elements);
            out.extend_from_slice(if *is_slice { b",\"is_slice\":true" } else { b",\"is_slice\":false" });
            type_id
        }
        ValueRecord::Tuple { elements, type_id } => {
            out.extend_from_slice(b"{\"kind\":\"Tuple\",\"elements\":");
            write_values(out, elements);
            type_id
        }
        ValueRecord::Struct { field_values, type_id } => {
            out.extend_from_slice(b"{\"kind\":\"Struct\",\"field_values\":");
            write_values(out, field_values);
            type_id
        }
        // Not simple: never reached (callers check `is_simple` first).
        ValueRecord::Variant { type_id, .. } | ValueRecord::Reference { type_id, .. } | ValueRecord::BigInt { type_id, .. } => {
            out.extend_from_slice(b"{\"kind\":\"None\"");
            type_id
        }
        ValueRecord::Cell { .. } => {
            out.extend_from_slice(b"{\"kind\":\"None\",\"type_id\":0}");
            return;
        }
    };
    out.extend_from_slice(b",\"type_id\":");
    write_int(out, type_id.0 as i64);
    out.push(b'}');
}

fn write_values(out: &mut Vec<u8>, values: &[ValueRecord]) {
    out.push(b'[');
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_value(out, value);
    }
    out.push(b']');
}

fn write_int(out: &mut Vec<u8>, value: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

/// A JSON string with `serde_json`'s escaping: `"`, `\` and control characters.
fn write_str(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    let bytes = text.as_bytes();
    let mut start = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        let escape: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => {
                out.extend_from_slice(&bytes[start..i]);
                let _ = write!(out, "\\u{byte:04x}");
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escape);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use runtime_tracing::{CallRecord, FunctionId, Line, PathId, ReturnRecord, StepRecord, TypeId, VariableId};

    fn sample_values() -> Vec<ValueRecord> {
        let t = TypeId(3);
        vec![
            ValueRecord::Int { i: -42, type_id: t },
            ValueRecord::Int { i: i64::MIN, type_id: t },
            ValueRecord::Float { f: 2.5, type_id: t },
            ValueRecord::Float { f: 1e300, type_id: t },
            ValueRecord::Float { f: -0.0, type_id: t },
            ValueRecord::Bool { b: true, type_id: t },
            ValueRecord::String { text: "quote \" backslash \\ nl \n tab \t bell \u{7} é 😀 \u{1f} del \u{7f}".into(), type_id: t },
            ValueRecord::Raw { r: "<function f>".into(), type_id: t },
            ValueRecord::Error { msg: "ValueError: boom".into(), type_id: t },
            ValueRecord::None { type_id: TypeId(0) },
            ValueRecord::Sequence {
                elements: vec![ValueRecord::Int { i: 1, type_id: t }, ValueRecord::String { text: "x".into(), type_id: t }],
                is_slice: false,
                type_id: t,
            },
            ValueRecord::Tuple { elements: vec![], type_id: t },
            ValueRecord::Struct { field_values: vec![ValueRecord::Bool { b: false, type_id: t }], type_id: t },
            ValueRecord::BigInt { b: vec![1, 0, 0, 0, 0, 0, 0, 0, 0], negative: true, type_id: t },
        ]
    }

    #[test]
    fn output_is_exactly_what_serde_json_writes() -> Result<(), Box<dyn std::error::Error>> {
        let mut events = vec![
            TraceLowLevelEvent::Step(StepRecord { path_id: PathId(7), line: Line(123) }),
            TraceLowLevelEvent::Call(CallRecord { function_id: FunctionId(2), args: vec![] }),
        ];
        for (i, value) in sample_values().into_iter().enumerate() {
            let full = FullValueRecord { variable_id: VariableId(i), value: value.clone() };
            events.push(TraceLowLevelEvent::Value(full.clone()));
            events.push(TraceLowLevelEvent::Return(ReturnRecord { return_value: value }));
            events.push(TraceLowLevelEvent::Call(CallRecord { function_id: FunctionId(i), args: vec![full] }));
        }
        for event in &events {
            let mut ours = Vec::new();
            write_event(&mut ours, event)?;
            assert_eq!(String::from_utf8(ours)?, serde_json::to_string(event)?);
        }
        Ok(())
    }
}
