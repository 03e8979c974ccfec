//! The background thread that encodes events and writes them to the events file.
//!
//! The recording side (the `sys.monitoring` callbacks) only fills batches of events;
//! whole batches cross a bounded channel ([`QUEUE_BATCHES`] deep) to this thread, which
//! serialises them as JSON or as CBOR in a seekable zstd stream and writes them out. The
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
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

use runtime_tracing::TraceLowLevelEvent;
use rustc_hash::FxHashMap;

use super::{cbor_events, json_events};
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

/// zstd's fastest regular level: traces are highly repetitive, so it already shrinks
/// them about a hundredfold, and the writer thread must keep up with the program.
const ZSTD_LEVEL: i32 = 1;

/// The first 8 bytes of a `trace.bin`: CodeTracer's magic and format version 1
/// (CBOR events in a seekable zstd stream), as `runtime_tracing`'s reader expects.
const BINARY_HEADER: [u8; 8] = [0xC0, 0xDE, 0x72, 0xAC, 0xE2, 0x01, 0x00, 0x00];

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
}

/// Handle to the writer thread.
pub struct EventWriter {
    queue: Option<SyncSender<Message>>,
    /// Emptied batches coming back, so their memory is reused rather than allocated
    /// (and page-faulted in) again for every batch.
    spent: Receiver<Vec<TraceLowLevelEvent>>,
    thread: Option<JoinHandle<RecorderResult<u64>>>,
    /// The thread's result, once taken early by [`EventWriter::stop_error`].
    ended: Option<RecorderResult<u64>>,
}

impl EventWriter {
    pub fn spawn(path: &Path, format: Format) -> RecorderResult<Self> {
        let file = create_private_file(path)?;
        let (queue, inbox) = sync_channel(QUEUE_BATCHES);
        let (recycle, spent) = sync_channel(QUEUE_BATCHES + 1);
        let path = path.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("codetracer-writer".to_owned())
            .spawn(move || run(file, &path, format, inbox, recycle))
            .map_err(|err| RecorderError::new(ErrorCode::Io, format!("cannot start the trace writer thread: {err}")))?;
        Ok(EventWriter { queue: Some(queue), spent, thread: Some(thread), ended: None })
    }

    /// An empty batch with room for [`BATCH_EVENTS`] events, reused when one is back.
    pub fn empty_batch(&self) -> Vec<TraceLowLevelEvent> {
        self.spent.try_recv().unwrap_or_else(|_| Vec::with_capacity(BATCH_EVENTS))
    }

    /// Queues a batch; blocks while the queue is full. An error means the writer has
    /// stopped (its error is reported by [`EventWriter::finish`]).
    pub fn send(&self, batch: Vec<TraceLowLevelEvent>) -> Result<(), ()> {
        match &self.queue {
            Some(queue) => queue.send(Message::Events(batch)).map_err(|_| ()),
            None => Err(()),
        }
    }

    /// Sets `batch` aside for the thread at `index` (see [`Message::SetAside`]).
    pub fn set_aside(&self, index: usize, batch: Vec<TraceLowLevelEvent>) -> Result<(), ()> {
        self.queue.as_ref().ok_or(())?.send(Message::SetAside(index, batch)).map_err(|_| ())
    }

    /// The events set aside for the thread at `index` follow what was sent before.
    pub fn rejoin(&self, index: usize) -> Result<(), ()> {
        self.queue.as_ref().ok_or(())?.send(Message::Rejoin(index)).map_err(|_| ())
    }

    /// Waits until every queued batch is written to the file.
    pub fn flush(&self) -> Result<(), ()> {
        let queue = self.queue.as_ref().ok_or(())?;
        let (done, wait) = sync_channel(1);
        queue.send(Message::Flush(done)).map_err(|_| ())?;
        wait.recv().map_err(|_| ())
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
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(RecorderError::new(ErrorCode::Panic, "the trace writer thread panicked").with("site", "writer")),
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

/// Bytes of encoded events collected before they go to the file (or to zstd).
const CHUNK: usize = 1 << 20;

/// Where encoded events go. Both encode into `chunk` and hand it on when full: JSON text
/// straight to the file, CBOR items to the zstd encoder (which writes whole frames).
enum Encoder {
    Json { file: File, chunk: Vec<u8>, first: bool },
    Binary { out: zeekstd::Encoder<'static, File>, chunk: Vec<u8> },
}

fn run(
    file: File,
    path: &PathBuf,
    format: Format,
    inbox: Receiver<Message>,
    recycle: SyncSender<Vec<TraceLowLevelEvent>>,
) -> RecorderResult<u64> {
    let io_err = |action: &str, err: std::io::Error| RecorderError::io(action, path, &err);
    // A second handle on the same file, to sync it and read its size at the end.
    let handle = file.try_clone().map_err(|e| io_err("cannot open", e))?;
    let mut encoder = match format {
        Format::Json => {
            let mut chunk = Vec::with_capacity(CHUNK + (64 << 10));
            chunk.extend_from_slice(b"[\n");
            Encoder::Json { file, chunk, first: true }
        }
        Format::Binary => {
            let mut file = file;
            file.write_all(&BINARY_HEADER).map_err(|e| io_err("cannot write", e))?;
            let zstd_error = |why: String| RecorderError::new(ErrorCode::Io, format!("cannot start zstd encoding: {why}"));
            let options = zeekstd::EncodeOptions::try_new().ok_or_else(|| zstd_error("out of memory".to_owned()))?;
            let out = options
                .compression_level(ZSTD_LEVEL)
                .into_encoder(file)
                .map_err(|e| zstd_error(e.to_string()))?;
            Encoder::Binary { out, chunk: Vec::with_capacity(CHUNK + (64 << 10)) }
        }
    };
    let scratch_dir = path.parent().unwrap_or(Path::new("."));
    let mut set_aside: FxHashMap<usize, File> = FxHashMap::default();
    let mut encoded = Vec::new();
    for message in inbox {
        match message {
            Message::Events(mut batch) => {
                // Test builds only: a failure or panic injected here (see `fault_injection.rs`).
                fault_injection::hit_io("writer").map_err(|e| io_err("cannot write", e))?;
                for event in &batch {
                    encoder.write(event).map_err(|e| io_err("cannot write", e))?;
                }
                batch.clear();
                let _ = recycle.try_send(batch);
            }
            Message::SetAside(index, mut batch) => {
                let file = match set_aside.entry(index) {
                    Entry::Occupied(entry) => entry.into_mut(),
                    Entry::Vacant(entry) => entry.insert(create_scratch_file(scratch_dir)?),
                };
                fault_injection::hit_io("set_aside").map_err(|e| io_err("cannot write a scratch file in", e))?;
                encoded.clear();
                for event in &batch {
                    encode_item(format, &mut encoded, event).map_err(|e| io_err("cannot encode", e))?;
                }
                file.write_all(&encoded).map_err(|e| io_err("cannot write a scratch file in", e))?;
                batch.clear();
                let _ = recycle.try_send(batch);
            }
            Message::Rejoin(index) => {
                if let Some(file) = set_aside.remove(&index) {
                    encoder.append(file).map_err(|e| io_err("cannot copy a scratch file into", e))?;
                }
            }
            Message::Flush(done) => {
                encoder.flush().map_err(|e| io_err("cannot flush", e))?;
                let _ = done.send(());
            }
        }
    }
    encoder.finish().map_err(|e| io_err("cannot finish", e))?;
    handle.sync_all().map_err(|e| io_err("cannot sync", e))?;
    handle.metadata().map(|m| m.len()).map_err(|e| io_err("cannot stat", e))
}

/// One event as the encoder would write it after another: JSON with its leading
/// separator, CBOR as it is.
fn encode_item(format: Format, out: &mut Vec<u8>, event: &TraceLowLevelEvent) -> std::io::Result<()> {
    match format {
        Format::Json => {
            out.extend_from_slice(JSON_SEPARATOR);
            json_events::write_event(out, event)
        }
        Format::Binary => cbor_events::write_event(out, event),
    }
}

/// What goes between two events of `trace.json`.
const JSON_SEPARATOR: &[u8] = b",\n";

impl Encoder {
    fn write(&mut self, event: &TraceLowLevelEvent) -> std::io::Result<()> {
        match self {
            Encoder::Json { file, chunk, first } => {
                if !*first {
                    chunk.extend_from_slice(JSON_SEPARATOR);
                }
                *first = false;
                json_events::write_event(chunk, event)?;
                if chunk.len() >= CHUNK {
                    file.write_all(chunk)?;
                    chunk.clear();
                }
            }
            Encoder::Binary { out, chunk } => {
                cbor_events::write_event(chunk, event)?;
                if chunk.len() >= CHUNK {
                    out.write_all(chunk)?;
                    chunk.clear();
                }
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Encoder::Json { file, chunk, .. } => {
                file.write_all(chunk)?;
                chunk.clear();
                Ok(())
            }
            Encoder::Binary { out, chunk } => {
                out.write_all(chunk)?;
                chunk.clear();
                out.flush()
            }
        }
    }

    /// Appends the events encoded by [`encode_item`] into `from`, after those written.
    fn append(&mut self, mut from: File) -> std::io::Result<()> {
        from.seek(SeekFrom::Start(0))?;
        match self {
            Encoder::Json { file, chunk, first } => {
                // The stream opens with the `<toplevel>` events, so these follow some.
                debug_assert!(!*first, "set-aside events cannot open the stream");
                file.write_all(chunk)?;
                chunk.clear();
                std::io::copy(&mut from, file)?;
            }
            Encoder::Binary { out, chunk } => {
                out.write_all(chunk)?;
                chunk.clear();
                std::io::copy(&mut from, out)?;
            }
        }
        Ok(())
    }

    /// Writes the rest and the trailer (the closing bracket, or the zstd seek table).
    fn finish(self) -> std::io::Result<()> {
        match self {
            Encoder::Json { mut file, mut chunk, .. } => {
                chunk.extend_from_slice(b"\n]\n");
                file.write_all(&chunk)
            }
            Encoder::Binary { mut out, chunk } => {
                out.write_all(&chunk)?;
                out.finish().map(drop).map_err(std::io::Error::other)
            }
        }
    }
}
