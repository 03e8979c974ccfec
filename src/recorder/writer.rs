//! The background thread that encodes events and writes them to the events file.
//!
//! The recording side (the `sys.monitoring` callbacks) only fills batches of events;
//! whole batches cross a bounded channel ([`QUEUE_BATCHES`] deep) to this thread, which
//! encodes them (`encoder.rs`) and writes them out. The
//! bounded queue keeps memory bounded (at most `QUEUE_BATCHES + 2` batches of at most
//! `BATCH_EVENTS` events and about `BATCH_BYTES` of values each): when the writer falls
//! behind, the recording thread waits for it (no event is dropped).
//!
//! A thread other than the primary one holds its current top-level call's events back
//! until the call returns (`threads.rs`). When such a call runs long, its events are
//! set aside here, encoded, in an unlinked scratch file, and copied into the stream when
//! the call returns: a long call in a thread costs disk, not memory.

use std::collections::hash_map::Entry;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

use runtime_tracing::TraceLowLevelEvent;
use rustc_hash::FxHashMap;

use super::encoder::{encode_item, Encoder};
use super::output::{create_private_file, create_scratch_file};
use crate::errors::{ErrorCode, RecorderError, RecorderResult};
use crate::fault_injection;

/// Events per batch handed to the writer.
pub const BATCH_EVENTS: usize = 16 * 1024;
/// Approximate bytes of values per batch: a batch is handed over when it reaches either
/// bound, so big values cannot make the buffers grow without limit.
pub const BATCH_BYTES: usize = 4 << 20;
/// Batches that may wait in the queue before the recording thread blocks.
pub const QUEUE_BATCHES: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Binary,
}

impl Format {
    pub fn parse(name: &str) -> RecorderResult<Self> {
        match name {
            "json" => Ok(Format::Json),
            "binary" => Ok(Format::Binary),
            other => Err(RecorderError::new(
                ErrorCode::UnsupportedFormat,
                format!("unsupported trace format {other:?}; use \"json\" or \"binary\""),
            )
            .with("format", other)),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Binary => "binary",
        }
    }

    pub fn events_file(self) -> &'static str {
        match self {
            Format::Json => "trace.json",
            Format::Binary => "trace.bin",
        }
    }
}

enum Message {
    Events(Vec<TraceLowLevelEvent>),
    /// Events of the unfinished top-level call of the thread at this index, set aside
    /// until [`Message::Rejoin`] for that thread.
    SetAside(usize, Vec<TraceLowLevelEvent>),
    /// The events set aside for the thread at this index join the stream here.
    Rejoin(usize),
    /// Everything sent before is written and flushed when the sender hears back.
    Flush(SyncSender<()>),
    /// Stop the thread, keeping its state, for a `fork()` ([`EventWriter::pause`]).
    Park,
}

/// Handle to the writer thread.
pub struct EventWriter {
    queue: Option<SyncSender<Message>>,
    /// Emptied batches coming back, so their memory is reused rather than allocated
    /// (and page-faulted in) again for every batch.
    spent: Receiver<Vec<TraceLowLevelEvent>>,
    thread: Option<JoinHandle<Ended>>,
    /// The thread's state while it is stopped for a fork ([`EventWriter::pause`]).
    parked: Option<Box<WriterState>>,
    /// The thread's result, once taken early (see [`EventWriter::stop_error`]).
    ended: Option<RecorderResult<u64>>,
}

impl EventWriter {
    pub fn spawn(path: &Path, format: Format) -> RecorderResult<Self> {
        let file = create_private_file(path)?;
        let (queue, inbox) = sync_channel(QUEUE_BATCHES);
        let (recycle, spent) = sync_channel(QUEUE_BATCHES + 1);
        let state = WriterState::open(file, path, format, inbox, recycle)?;
        Ok(EventWriter { queue: Some(queue), spent, thread: Some(start_thread(state)?), parked: None, ended: None })
    }

    /// An empty batch with room for [`BATCH_EVENTS`] events, reused when one is back.
    pub fn empty_batch(&self) -> Vec<TraceLowLevelEvent> {
        self.spent.try_recv().unwrap_or_else(|_| Vec::with_capacity(BATCH_EVENTS))
    }

    /// Queues a batch; blocks while the queue is full. An error means the writer has
    /// stopped (its error is reported by [`EventWriter::finish`]).
    pub fn send(&mut self, batch: Vec<TraceLowLevelEvent>) -> Result<(), ()> {
        self.running()?.send(Message::Events(batch)).map_err(|_| ())
    }

    /// Sets `batch` aside for the thread at `index` (see [`Message::SetAside`]).
    pub fn set_aside(&mut self, index: usize, batch: Vec<TraceLowLevelEvent>) -> Result<(), ()> {
        self.running()?.send(Message::SetAside(index, batch)).map_err(|_| ())
    }

    /// The events set aside for the thread at `index` follow what was sent before.
    pub fn rejoin(&mut self, index: usize) -> Result<(), ()> {
        self.running()?.send(Message::Rejoin(index)).map_err(|_| ())
    }

    /// Waits until every queued batch is written to the file.
    pub fn flush(&mut self) -> Result<(), ()> {
        let queue = self.running()?;
        let (done, wait) = sync_channel(1);
        queue.send(Message::Flush(done)).map_err(|_| ())?;
        wait.recv().map_err(|_| ())
    }

    /// The queue, with the thread started again if a fork paused it. It restarts on
    /// the first message after the fork, not in the fork's after-hook: Python 3.13
    /// counts the process's threads after those hooks, to warn about forking threads.
    fn running(&mut self) -> Result<&SyncSender<Message>, ()> {
        if let Some(state) = self.parked.take() {
            match start_thread(*state) {
                Ok(thread) => self.thread = Some(thread),
                Err(err) => {
                    self.ended = Some(Err(err));
                    self.queue = None;
                }
            }
        }
        self.queue.as_ref().ok_or(())
    }

    /// Before `fork()`: the thread writes what is queued and ends, keeping its state
    /// until the next message (see [`EventWriter::running`]), so the process forks with one thread (Python warns about forking a multi-threaded
    /// process, and a child must not inherit a writer in the middle of a write).
    pub fn pause(&mut self) {
        let Some(queue) = &self.queue else { return };
        let Some(thread) = self.thread.take() else { return };
        // A thread that has failed has ended without reading this: its result says why.
        let _ = queue.send(Message::Park);
        match thread.join() {
            Ok(Ended::Parked(state)) => self.parked = Some(state),
            Ok(Ended::Finished(result)) => self.ended = Some(result),
            Err(_) => self.ended = Some(Err(writer_panicked())),
        }
    }

    /// Why the writer stopped, once it did not take a message: its thread has ended
    /// (or is ending) with its error, which [`EventWriter::finish`] returns again.
    pub fn stop_error(&mut self) -> RecorderError {
        let result = self.join();
        let err = match &result {
            Err(err) => err.clone(),
            Ok(_) => RecorderError::new(ErrorCode::Io, "the trace writer stopped"),
        };
        self.ended = Some(result);
        err
    }

    /// Closes the queue, waits for the thread and returns the bytes written.
    pub fn finish(mut self) -> RecorderResult<u64> {
        self.join()
    }

    fn join(&mut self) -> RecorderResult<u64> {
        self.queue = None;
        if let Some(result) = self.ended.take() {
            return result;
        }
        if let Some(state) = self.parked.take() {
            return state.finish();
        }
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(Ended::Finished(result))) => result,
            Some(Ok(Ended::Parked(state))) => state.finish(),
            Some(Err(_)) => Err(writer_panicked()),
            None => Err(RecorderError::new(ErrorCode::NotTracing, "the trace writer was already finished")),
        }
    }
}

impl Drop for EventWriter {
    fn drop(&mut self) {
        self.queue = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn writer_panicked() -> RecorderError {
    RecorderError::new(ErrorCode::Panic, "the trace writer thread panicked").with("site", "writer")
}

fn start_thread(state: WriterState) -> RecorderResult<JoinHandle<Ended>> {
    std::thread::Builder::new()
        .name("codetracer-writer".to_owned())
        .spawn(move || state.serve())
        .map_err(|err| RecorderError::new(ErrorCode::Io, format!("cannot start the trace writer thread: {err}")))
}

/// How the writer thread ended.
enum Ended {
    /// The queue closed, or writing failed: the bytes written, or the error.
    Finished(RecorderResult<u64>),
    /// Stopped for a fork ([`Message::Park`]): all received so far is written.
    Parked(Box<WriterState>),
}

/// Everything the writer thread owns, kept across a pause for `fork()`.
struct WriterState {
    path: PathBuf,
    format: Format,
    /// A second handle on the events file, to sync it and read its size at the end.
    handle: File,
    encoder: Encoder,
    /// Scratch files of the events set aside, by thread index.
    set_aside: FxHashMap<usize, File>,
    /// Reused buffer for encoding events that are set aside.
    encoded: Vec<u8>,
    inbox: Receiver<Message>,
    recycle: SyncSender<Vec<TraceLowLevelEvent>>,
}

impl WriterState {
    fn open(
        file: File,
        path: &Path,
        format: Format,
        inbox: Receiver<Message>,
        recycle: SyncSender<Vec<TraceLowLevelEvent>>,
    ) -> RecorderResult<Self> {
        let io_err = |action: &str, err: std::io::Error| RecorderError::io(action, path, &err);
        let handle = file.try_clone().map_err(|e| io_err("cannot open", e))?;
        let encoder = Encoder::new(file, format).map_err(|e| io_err("cannot write", e))?;
        Ok(WriterState {
            path: path.to_path_buf(),
            format,
            handle,
            encoder,
            set_aside: FxHashMap::default(),
            encoded: Vec::new(),
            inbox,
            recycle,
        })
    }

    /// The thread's body: messages in order until the queue closes, a write fails, or
    /// a pause for `fork()`.
    fn serve(mut self) -> Ended {
        loop {
            let Ok(message) = self.inbox.recv() else { return Ended::Finished(self.finish()) };
            match self.handle_message(message) {
                Ok(true) => {}
                Ok(false) => return Ended::Parked(Box::new(self)),
                Err(err) => return Ended::Finished(Err(err)),
            }
        }
    }

    fn io_err(&self, action: &str, err: std::io::Error) -> RecorderError {
        RecorderError::io(action, &self.path, &err)
    }

    /// Handles one message; false for [`Message::Park`], after which the thread stops.
    fn handle_message(&mut self, message: Message) -> RecorderResult<bool> {
        match message {
            Message::Events(mut batch) => {
                // Test builds only: a failure or panic injected here (see `fault_injection.rs`).
                fault_injection::hit_io("writer").map_err(|e| self.io_err("cannot write", e))?;
                for event in &batch {
                    self.encoder.write(event).map_err(|e| self.io_err("cannot write", e))?;
                }
                batch.clear();
                let _ = self.recycle.try_send(batch);
            }
            Message::SetAside(index, mut batch) => {
                let scratch_dir = self.path.parent().unwrap_or(Path::new("."));
                let file = match self.set_aside.entry(index) {
                    Entry::Occupied(entry) => entry.into_mut(),
                    Entry::Vacant(entry) => entry.insert(create_scratch_file(scratch_dir)?),
                };
                let failed = |e| RecorderError::io("cannot write a scratch file in", scratch_dir, &e);
                fault_injection::hit_io("set_aside").map_err(failed)?;
                self.encoded.clear();
                for event in &batch {
                    encode_item(self.format, &mut self.encoded, event).map_err(failed)?;
                }
                file.write_all(&self.encoded).map_err(failed)?;
                batch.clear();
                let _ = self.recycle.try_send(batch);
            }
            Message::Rejoin(index) => {
                if let Some(file) = self.set_aside.remove(&index) {
                    self.encoder.append(file).map_err(|e| self.io_err("cannot copy a scratch file into", e))?;
                }
            }
            Message::Flush(done) => {
                self.encoder.flush().map_err(|e| self.io_err("cannot flush", e))?;
                let _ = done.send(());
            }
            Message::Park => return Ok(false),
        }
        Ok(true)
    }

    /// Writes the rest and the format's trailer, syncs, and returns the file's size.
    fn finish(self) -> RecorderResult<u64> {
        let WriterState { path, handle, encoder, .. } = self;
        let io_err = |action: &str, err: std::io::Error| RecorderError::io(action, &path, &err);
        encoder.finish().map_err(|e| io_err("cannot finish", e))?;
        handle.sync_all().map_err(|e| io_err("cannot sync", e))?;
        handle.metadata().map(|m| m.len()).map_err(|e| io_err("cannot stat", e))
    }
}
