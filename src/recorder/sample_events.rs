//! Test support: events holding every kind of value, with ids and lengths on both sides
//! of CBOR's and JSON's encoding boundaries, for the tests that check `json_events.rs` and
//! `cbor_events.rs` write exactly what serde writes.

use runtime_tracing::{
    CallRecord, FullValueRecord, FunctionId, Line, PathId, ReturnRecord, StepRecord, TraceLowLevelEvent, TypeId,
    ValueRecord, VariableId,
};

fn sample_values() -> Vec<ValueRecord> {
    let t = TypeId(300);
    vec![
        ValueRecord::Int { i: -42, type_id: t },
        ValueRecord::Int { i: i64::MIN, type_id: t },
        ValueRecord::Int { i: i64::MAX, type_id: TypeId(1) },
        ValueRecord::Int { i: 70_000, type_id: TypeId(23) },
        ValueRecord::Int { i: -5_000_000_000, type_id: TypeId(24) },
        ValueRecord::Float { f: 2.5, type_id: t },
        ValueRecord::Float { f: 1e300, type_id: t },
        ValueRecord::Float { f: -0.0, type_id: t },
        ValueRecord::Float { f: f64::NAN, type_id: t },
        ValueRecord::Variant {
            discriminator: "Some".into(),
            contents: Box::new(ValueRecord::Int { i: 1, type_id: t }),
            type_id: t,
        },
        ValueRecord::Bool { b: true, type_id: t },
        ValueRecord::String { text: "x".repeat(300), type_id: t },
        ValueRecord::String { text: "quote \" backslash \\ nl \n tab \t bell \u{7} é 😀 \u{1f} del \u{7f}".into(), type_id: t },
        ValueRecord::Raw { r: "<function f>".into(), type_id: t },
        ValueRecord::Error { msg: "ValueError: boom".into(), type_id: t },
        ValueRecord::None { type_id: TypeId(0) },
        ValueRecord::Sequence { elements: vec![ValueRecord::Int { i: 1, type_id: t }; 30], is_slice: false, type_id: t },
        ValueRecord::Tuple { elements: vec![], type_id: t },
        ValueRecord::Struct { field_values: vec![ValueRecord::Bool { b: false, type_id: t }], type_id: t },
        ValueRecord::BigInt { b: vec![1, 0, 0, 0, 0, 0, 0, 0, 0], negative: true, type_id: t },
    ]
}

/// A Step, an argument-less Call, and a Value, a Return and a one-argument Call for each
/// sample value.
pub fn sample_events() -> Vec<TraceLowLevelEvent> {
    let mut events = vec![
        TraceLowLevelEvent::Step(StepRecord { path_id: PathId(7), line: Line(123_456) }),
        TraceLowLevelEvent::Call(CallRecord { function_id: FunctionId(2), args: vec![] }),
    ];
    for (i, value) in sample_values().into_iter().enumerate() {
        let full = FullValueRecord { variable_id: VariableId(i * 40), value: value.clone() };
        events.push(TraceLowLevelEvent::Value(full.clone()));
        events.push(TraceLowLevelEvent::Return(ReturnRecord { return_value: value }));
        events.push(TraceLowLevelEvent::Call(CallRecord { function_id: FunctionId(i), args: vec![full] }));
    }
    events
}
