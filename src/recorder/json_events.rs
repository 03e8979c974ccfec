//! Events as JSON text, byte for byte what `serde_json` writes for `runtime_tracing`'s
//! types, but several times faster for the events that make up nearly all of a trace.
//!
//! `serde_json` walks the derived `Serialize` impls and escapes every key and variant
//! name at run time; here the fixed parts are literals and only values are formatted.
//! `Step`, `Call`, `Return` and `Value` events take the fast path, unless they hold a
//! value kind the recorder never writes; everything else (definitions, those values)
//! goes through `serde_json`. The tests check the two agree exactly, so readers see no
//! difference.

use std::io::Write;

use base64::Engine;

use runtime_tracing::{FullValueRecord, TraceLowLevelEvent, ValueRecord};

/// Appends `event` as JSON to `out`.
pub fn write_event(out: &mut Vec<u8>, event: &TraceLowLevelEvent) -> std::io::Result<()> {
    let start = out.len();
    if write_fast(out, event) {
        return Ok(());
    }
    out.truncate(start);
    serde_json::to_writer(out, event).map_err(std::io::Error::other)
}

/// The fast path; false (with `out` partly written) for an event it does not handle.
fn write_fast(out: &mut Vec<u8>, event: &TraceLowLevelEvent) -> bool {
    match event {
        TraceLowLevelEvent::Step(step) => {
            out.extend_from_slice(b"{\"Step\":{\"path_id\":");
            write_int(out, step.path_id.0 as i64);
            out.extend_from_slice(b",\"line\":");
            write_int(out, step.line.0);
            out.extend_from_slice(b"}}");
            true
        }
        TraceLowLevelEvent::Call(call) => {
            out.extend_from_slice(b"{\"Call\":{\"function_id\":");
            write_int(out, call.function_id.0 as i64);
            out.extend_from_slice(b",\"args\":[");
            for (i, arg) in call.args.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                if !write_full_value(out, arg) {
                    return false;
                }
            }
            out.extend_from_slice(b"]}}");
            true
        }
        TraceLowLevelEvent::Return(ret) => {
            out.extend_from_slice(b"{\"Return\":{\"return_value\":");
            let done = write_value(out, &ret.return_value);
            out.extend_from_slice(b"}}");
            done
        }
        TraceLowLevelEvent::Value(value) => {
            out.extend_from_slice(b"{\"Value\":");
            let done = write_full_value(out, value);
            out.push(b'}');
            done
        }
        _ => false,
    }
}

fn write_full_value(out: &mut Vec<u8>, value: &FullValueRecord) -> bool {
    out.extend_from_slice(b"{\"variable_id\":");
    write_int(out, value.variable_id.0 as i64);
    out.extend_from_slice(b",\"value\":");
    let done = write_value(out, &value.value);
    out.push(b'}');
    done
}

/// Writes `value`; false when it holds a kind the fast path leaves to serde
/// (non-finite floats, variants, references, cells), which the recorder never writes.
fn write_value(out: &mut Vec<u8>, value: &ValueRecord) -> bool {
    let type_id = match value {
        ValueRecord::Int { i, type_id } => {
            out.extend_from_slice(b"{\"kind\":\"Int\",\"i\":");
            write_int(out, *i);
            type_id
        }
        ValueRecord::Float { f, type_id } if f.is_finite() => {
            // The float formatter serde_json itself uses, so the digits are the same.
            out.extend_from_slice(b"{\"kind\":\"Float\",\"f\":");
            out.extend_from_slice(zmij::Buffer::new().format_finite(*f).as_bytes());
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
            if !write_values(out, elements) {
                return false;
            }
            out.extend_from_slice(if *is_slice { b",\"is_slice\":true" } else { b",\"is_slice\":false" });
            type_id
        }
        ValueRecord::Tuple { elements, type_id } => {
            out.extend_from_slice(b"{\"kind\":\"Tuple\",\"elements\":");
            if !write_values(out, elements) {
                return false;
            }
            type_id
        }
        ValueRecord::Struct { field_values, type_id } => {
            out.extend_from_slice(b"{\"kind\":\"Struct\",\"field_values\":");
            if !write_values(out, field_values) {
                return false;
            }
            type_id
        }
        ValueRecord::BigInt { b, negative, type_id } => {
            out.extend_from_slice(b"{\"kind\":\"BigInt\",\"b\":\"");
            out.extend_from_slice(base64::engine::general_purpose::STANDARD.encode(b).as_bytes());
            out.extend_from_slice(if *negative { b"\",\"negative\":true" } else { b"\",\"negative\":false" });
            type_id
        }
        ValueRecord::Float { .. } | ValueRecord::Variant { .. } | ValueRecord::Reference { .. } | ValueRecord::Cell { .. } => {
            return false;
        }
    };
    out.extend_from_slice(b",\"type_id\":");
    write_int(out, type_id.0 as i64);
    out.push(b'}');
    true
}

fn write_values(out: &mut Vec<u8>, values: &[ValueRecord]) -> bool {
    out.push(b'[');
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        if !write_value(out, value) {
            return false;
        }
    }
    out.push(b']');
    true
}

fn write_int(out: &mut Vec<u8>, value: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

/// A JSON string with `serde_json`'s escaping: `"`, `\` and control characters.
/// Runs of bytes that need no escape are copied whole.
fn write_str(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    let bytes = text.as_bytes();
    let mut start = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        if !NEEDS_ESCAPE[byte as usize] {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        match byte {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            _ => {
                let _ = write!(out, "\\u{byte:04x}");
            }
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Bytes JSON needs escaped inside a string: control characters, `"` and `\`.
static NEEDS_ESCAPE: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = true;
        byte += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recorder::sample_events::sample_events;

    #[test]
    fn output_is_exactly_what_serde_json_writes() -> Result<(), Box<dyn std::error::Error>> {
        for event in &sample_events() {
            let mut ours = Vec::new();
            write_event(&mut ours, event)?;
            assert_eq!(String::from_utf8(ours)?, serde_json::to_string(event)?);
        }
        Ok(())
    }
}
