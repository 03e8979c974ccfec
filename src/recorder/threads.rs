//! One call stack per thread, and how threads share one event stream.
//!
//! The trace format we write (runtime_tracing 0.14, what CodeTracer's backend reads)
//! has no thread events: the stream is one call tree. So the thread that started the
//! recording (the primary thread) writes straight into the stream, and every other
//! thread collects the events of its current top-level recorded call in a segment of
//! its own. When that call returns, the whole segment (balanced: it opens with a Step
//! and a Call and ends with the matching Return) joins the stream at that point, nested
//! under whatever the primary thread is doing. Events of different threads therefore
//! never interleave inside one frame; a thread's calls appear in the order they
//! finished. Interning events never go into segments (see `interner.rs`). A segment
//! that grows to a batch is set aside by the writer (`writer.rs`) until its call returns,
//! so a long-running call in a thread is held on disk, not in memory.

use pyo3::ffi;
use runtime_tracing::{FunctionId, PathId, TraceLowLevelEvent};
use rustc_hash::FxHashMap;

/// A recorded frame on a thread's stack.
#[derive(Clone, Copy)]
pub struct Frame {
    /// Address of the frame's code object, to match later events to this frame.
    pub code: usize,
    /// Index of the code's entry in the code registry.
    pub info: u32,
    pub function_id: FunctionId,
    pub path_id: PathId,
}

pub struct ThreadRecord {
    pub stack: Vec<Frame>,
    /// Deferred events of a non-primary thread's current top-level call.
    pub segment: Vec<TraceLowLevelEvent>,
    /// Whether earlier events of that call are set aside by the writer.
    pub set_aside: bool,
}

/// Index of the primary thread's record.
pub const PRIMARY: usize = 0;

/// Threads are told apart by their interpreter thread state. CPython may give a new
/// thread the state of one that has ended; the ended thread's record is then empty (its
/// frames all returned, its last segment joined the stream), so the new thread can take
/// it over as it is.
pub struct Threads {
    records: Vec<ThreadRecord>,
    by_state: FxHashMap<usize, usize>,
    /// The last (thread state, index) looked up: consecutive events mostly come from
    /// the same thread.
    last: (usize, usize),
}

impl Threads {
    /// The calling thread becomes the primary thread.
    pub fn new() -> Self {
        let mut threads = Threads { records: Vec::new(), by_state: FxHashMap::default(), last: (0, 0) };
        threads.current();
        threads
    }

    /// Index of the calling thread's record, creating it on first sight.
    pub fn current(&mut self) -> usize {
        // SAFETY: called with the GIL held, so the calling thread has a thread state.
        let state = unsafe { ffi::PyThreadState_Get() } as usize;
        if state == self.last.0 {
            return self.last.1;
        }
        let next = self.records.len();
        let index = *self.by_state.entry(state).or_insert(next);
        if index == next {
            self.records.push(ThreadRecord { stack: Vec::new(), segment: Vec::new(), set_aside: false });
        }
        self.last = (state, index);
        index
    }

    pub fn get(&mut self, index: usize) -> &mut ThreadRecord {
        &mut self.records[index]
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }
}
