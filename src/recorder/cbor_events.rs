//! Events as CBOR, byte for byte what `cbor4ii`'s serde encoding writes for
//! `runtime_tracing`'s types (the binary format's event encoding), for the events that
//! make up nearly all of a trace. The JSON twin of this file is `json_events.rs`: the
//! same fast paths, the same fallback to serde for everything else, the same exactness
//! test.
//!
//! Shapes, as serde derives them: an event is a one-entry map from its variant name to
//! its payload; a struct is a map from field names to values; a `ValueRecord` is a map
//! whose first entry is `kind` (serde's internal tagging); id newtypes are plain ints.

use runtime_tracing::{FullValueRecord, TraceLowLevelEvent, ValueRecord};

/// Appends `event` as CBOR to `out`.
pub fn write_event(out: &mut Vec<u8>, event: &TraceLowLevelEvent) -> std::io::Result<()> {
    let start = out.len();
    if write_fast(out, event) {
        return Ok(());
    }
    out.truncate(start);
    let encoded = cbor4ii::serde::to_vec(std::mem::take(out), event).map_err(std::io::Error::other)?;
    *out = encoded;
    Ok(())
}

/// The fast path; false (with `out` partly written) for an event it does not handle.
fn write_fast(out: &mut Vec<u8>, event: &TraceLowLevelEvent) -> bool {
    match event {
        TraceLowLevelEvent::Step(step) => {
            map(out, 1);
            text(out, "Step");
            map(out, 2);
            text(out, "path_id");
            uint(out, step.path_id.0 as u64);
            text(out, "line");
            int(out, step.line.0);
            true
        }
        TraceLowLevelEvent::Call(call) => {
            map(out, 1);
            text(out, "Call");
            map(out, 2);
            text(out, "function_id");
            uint(out, call.function_id.0 as u64);
            text(out, "args");
            header(out, 4, call.args.len() as u64);
            call.args.iter().all(|arg| write_full_value(out, arg))
        }
        TraceLowLevelEvent::Return(ret) => {
            map(out, 1);
            text(out, "Return");
            map(out, 1);
            text(out, "return_value");
            write_value(out, &ret.return_value)
        }
        TraceLowLevelEvent::Value(value) => {
            map(out, 1);
            text(out, "Value");
            write_full_value(out, value)
        }
        _ => false,
    }
}

fn write_full_value(out: &mut Vec<u8>, value: &FullValueRecord) -> bool {
    map(out, 2);
    text(out, "variable_id");
    uint(out, value.variable_id.0 as u64);
    text(out, "value");
    write_value(out, &value.value)
}

/// Writes `value`; false for the kinds left to serde (floats, whose width cbor4ii
/// chooses itself, and the kinds the recorder never writes).
fn write_value(out: &mut Vec<u8>, value: &ValueRecord) -> bool {
    let type_id = match value {
        ValueRecord::Int { i, type_id } => {
            kind(out, "Int", 3);
            text(out, "i");
            int(out, *i);
            type_id
        }
        ValueRecord::Bool { b, type_id } => {
            kind(out, "Bool", 3);
            text(out, "b");
            out.push(if *b { 0xf5 } else { 0xf4 });
            type_id
        }
        ValueRecord::String { text: value, type_id } => {
            kind(out, "String", 3);
            text(out, "text");
            text(out, value);
            type_id
        }
        ValueRecord::Raw { r, type_id } => {
            kind(out, "Raw", 3);
            text(out, "r");
            text(out, r);
            type_id
        }
        ValueRecord::Error { msg, type_id } => {
            kind(out, "Error", 3);
            text(out, "msg");
            text(out, msg);
            type_id
        }
        ValueRecord::None { type_id } => {
            kind(out, "None", 2);
            type_id
        }
        ValueRecord::Sequence { elements, is_slice, type_id } => {
            kind(out, "Sequence", 4);
            text(out, "elements");
            if !write_values(out, elements) {
                return false;
            }
            text(out, "is_slice");
            out.push(if *is_slice { 0xf5 } else { 0xf4 });
            type_id
        }
        ValueRecord::Tuple { elements, type_id } => {
            kind(out, "Tuple", 3);
            text(out, "elements");
            if !write_values(out, elements) {
                return false;
            }
            type_id
        }
        ValueRecord::Struct { field_values, type_id } => {
            kind(out, "Struct", 3);
            text(out, "field_values");
            if !write_values(out, field_values) {
                return false;
            }
            type_id
        }
        ValueRecord::Float { .. }
        | ValueRecord::BigInt { .. }
        | ValueRecord::Variant { .. }
        | ValueRecord::Reference { .. }
        | ValueRecord::Cell { .. } => return false,
    };
    text(out, "type_id");
    uint(out, type_id.0 as u64);
    true
}

fn write_values(out: &mut Vec<u8>, values: &[ValueRecord]) -> bool {
    header(out, 4, values.len() as u64);
    values.iter().all(|value| write_value(out, value))
}

/// The map header of a `ValueRecord` with `entries` entries, and its `kind` entry.
fn kind(out: &mut Vec<u8>, name: &str, entries: u64) {
    map(out, entries);
    text(out, "kind");
    text(out, name);
}

fn map(out: &mut Vec<u8>, entries: u64) {
    header(out, 5, entries);
}

fn text(out: &mut Vec<u8>, value: &str) {
    header(out, 3, value.len() as u64);
    out.extend_from_slice(value.as_bytes());
}

fn uint(out: &mut Vec<u8>, value: u64) {
    header(out, 0, value);
}

fn int(out: &mut Vec<u8>, value: i64) {
    if value >= 0 {
        header(out, 0, value as u64);
    } else {
        // CBOR's negative integers hold -1 - n.
        header(out, 1, !(value as u64));
    }
}

/// A CBOR item header: major type and argument, in the shortest form.
fn header(out: &mut Vec<u8>, major: u8, value: u64) {
    let major = major << 5;
    if value < 24 {
        out.push(major | value as u8);
    } else if value <= u64::from(u8::MAX) {
        out.extend_from_slice(&[major | 24, value as u8]);
    } else if value <= u64::from(u16::MAX) {
        out.push(major | 25);
        out.extend_from_slice(&(value as u16).to_be_bytes());
    } else if value <= u64::from(u32::MAX) {
        out.push(major | 26);
        out.extend_from_slice(&(value as u32).to_be_bytes());
    } else {
        out.push(major | 27);
        out.extend_from_slice(&value.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recorder::sample_events::sample_events;

    #[test]
    fn output_is_exactly_what_cbor4ii_writes() -> Result<(), Box<dyn std::error::Error>> {
        for event in &sample_events() {
            // A byte already in the buffer: both must append, not overwrite.
            let mut ours = vec![0xAA];
            write_event(&mut ours, event)?;
            let theirs = cbor4ii::serde::to_vec(vec![0xAA], event)?;
            assert_eq!(ours, theirs, "{event:?}");
        }
        Ok(())
    }
}
