//! Events encoded into the events file: JSON text (`trace.json`), or CBOR items in a
//! seekable zstd stream after CodeTracer's header (`trace.bin`), as `runtime_tracing`'s
//! readers expect. The writer thread (`writer.rs`) owns one [`Encoder`].

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};

use runtime_tracing::TraceLowLevelEvent;

use super::writer::Format;
use super::{cbor_events, json_events};

/// zstd's fastest regular level: traces are highly repetitive, so it already shrinks
/// them about a hundredfold, and the writer thread must keep up with the program.
const ZSTD_LEVEL: i32 = 1;

/// The first 8 bytes of a `trace.bin`: CodeTracer's magic and format version 1
/// (CBOR events in a seekable zstd stream), as `runtime_tracing`'s reader expects.
pub const BINARY_HEADER: [u8; 8] = [0xC0, 0xDE, 0x72, 0xAC, 0xE2, 0x01, 0x00, 0x00];

/// Bytes of encoded events collected before they go to the file (or to zstd).
const CHUNK: usize = 1 << 20;

/// Where encoded events go. Both encode into `chunk` and hand it on when full: JSON text
/// straight to the file, CBOR items to the zstd encoder (which writes whole frames).
pub enum Encoder {
    Json { file: File, chunk: Vec<u8>, first: bool },
    Binary { out: zeekstd::Encoder<'static, File>, chunk: Vec<u8> },
}

/// One event as the encoder would write it after another: JSON with its leading
/// separator, CBOR as it is.
pub fn encode_item(format: Format, out: &mut Vec<u8>, event: &TraceLowLevelEvent) -> std::io::Result<()> {
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
    /// An encoder writing into `file`, which is empty: `trace.bin` gets its header now.
    pub fn new(file: File, format: Format) -> std::io::Result<Self> {
        Ok(match format {
            Format::Json => {
                let mut chunk = Vec::with_capacity(CHUNK + (64 << 10));
                chunk.extend_from_slice(b"[\n");
                Encoder::Json { file, chunk, first: true }
            }
            Format::Binary => {
                let mut file = file;
                file.write_all(&BINARY_HEADER)?;
                let options = zeekstd::EncodeOptions::try_new().ok_or_else(|| std::io::Error::other("zstd: out of memory"))?;
                // Each frame ends with a checksum of its content (xxHash, a small cost next
                // to compressing it), so a damaged byte makes the trace unreadable rather
                // than a different trace (`trace_check.rs` checks them).
                let out = options
                    .compression_level(ZSTD_LEVEL)
                    .checksum_flag(true)
                    .into_encoder(file)
                    .map_err(|e| std::io::Error::other(format!("zstd: {e}")))?;
                Encoder::Binary { out, chunk: Vec::with_capacity(CHUNK + (64 << 10)) }
            }
        })
    }

    pub fn write(&mut self, event: &TraceLowLevelEvent) -> std::io::Result<()> {
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

    pub fn flush(&mut self) -> std::io::Result<()> {
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
    pub fn append(&mut self, mut from: File) -> std::io::Result<()> {
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
    pub fn finish(self) -> std::io::Result<()> {
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
