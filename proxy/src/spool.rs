//! The spool: an append-only journal of request records on local disk, between the request path
//! and MySQL. Every record is appended here first and written to MySQL from here, so nothing is
//! lost while MySQL is down, slow or restarting, nor when the proxy restarts: a new process picks
//! up from the last position MySQL confirmed.
//!
//! Layout: a directory of segment files `<n>.spool` (n ascending, a new one per process start and
//! past `SEGMENT_BYTES`) and `committed`, the position up to which MySQL holds the records. A
//! segment wholly before that position is deleted. Each record is one frame:
//! `"TSR3" | meta length u32 | request length u32 | response length u32 | checksum u64 | meta |
//! request body | response body` (little-endian; the checksum is the CRC-32 of the three parts; the
//! meta's layout is in `frame_meta.rs`; the CRC costs a tenth of SHA-256 on the serving threads and
//! finds a torn write as surely). Only this version is written. Frames of earlier ones are read, so
//! that a proxy takes over a spool an older one left: `"TSR2"` carries the meta as JSON
//! (`json_meta.rs`), `"TSR1"` also the first 8 bytes of the parts' SHA-256 instead of the CRC. A
//! frame cut short by a crash (or one whose checksum does not match) ends its segment: everything
//! before it is read, the rest is skipped.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use std::io::{Read, Seek, Write};

use crate::record::{RequestRecord, ResponseCapture};
use crate::sha256::Sha256;

mod frame_meta;
mod json_meta;

const MAGIC: &[u8; 4] = b"TSR3";
/// Frames written before the binary metadata: read, never written.
const MAGIC_JSON_META: &[u8; 4] = b"TSR2";
/// Frames written before the CRC (and with JSON metadata): read, never written.
const MAGIC_SHA256: &[u8; 4] = b"TSR1";
const HEADER_BYTES: usize = 4 + 4 * 3 + 8;
/// A segment is closed past this size; smaller segments are deleted sooner once written to MySQL.
const SEGMENT_BYTES: u64 = 64 << 20;
/// The appender's buffer starts with room for this much (a default batch of 1 KB requests).
const BUFFER_START_BYTES: usize = 1 << 20;
/// The appender's buffer keeps an allocation up to this size from flush to flush; one grown past
/// it by a large record is given back.
const BUFFER_KEEP_BYTES: usize = 8 << 20;
/// Past this many bytes appended but not written (the disk refuses writes), appends fail, and
/// the journal counts the records as dropped instead of holding them all in memory.
const UNWRITTEN_LIMIT_BYTES: usize = 64 << 20;
const COMMITTED_FILE: &str = "committed";

/// A place in the spool: the segment and the byte offset in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Position {
    pub segment: u64,
    pub offset: u64,
}

fn segment_path(dir: &Path, segment: u64) -> PathBuf {
    dir.join(format!("{segment:016}.spool"))
}

/// The segment numbers present, ascending.
async fn segments(dir: &Path) -> std::io::Result<Vec<u64>> {
    let mut found = Vec::new();
    let mut entries = tokio::fs::read_dir(dir).await?;
    while let Some(entry) = entries.next_entry().await? {
        let name = entry.file_name();
        if let Some(number) = name.to_str().and_then(|n| n.strip_suffix(".spool")).and_then(|n| n.parse().ok()) {
            found.push(number);
        }
    }
    found.sort_unstable();
    Ok(found)
}

/// Opens the spool in `dir` (created if missing): an appender on a new segment, and a reader at
/// the last position MySQL confirmed.
pub async fn open(dir: &Path) -> std::io::Result<(SpoolAppender, SpoolReader)> {
    // It holds whole conversations: only this user may enter it.
    let mut builder = tokio::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    builder.mode(0o700);
    builder.create(dir).await?;
    // One process per spool: two readers would confirm each other's records away.
    let lock = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(dir.join("lock"))?;
    lock.try_lock().map_err(|_| {
        std::io::Error::new(std::io::ErrorKind::WouldBlock, "another running proxy uses this spool directory")
    })?;
    let existing = segments(dir).await?;
    let committed = match tokio::fs::read_to_string(dir.join(COMMITTED_FILE)).await {
        Ok(text) => parse_position(&text),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(error) => return Err(error),
    };
    let start = match (committed, existing.first().copied()) {
        (Some(position), Some(first)) if position.segment >= first => position,
        // Nothing confirmed yet, or the confirmed segment is gone: from the oldest segment there is.
        (_, Some(first)) => Position { segment: first, offset: 0 },
        (Some(position), None) => Position { segment: position.segment + 1, offset: 0 },
        (None, None) => Position { segment: 1, offset: 0 },
    };
    // Never append to an old segment: its tail may be a frame a crash cut short.
    let segment = existing.last().map_or(start.segment, |last| last + 1);
    let mut appender = SpoolAppender::create(dir, segment).await?;
    appender._lock = Some(lock);
    let reader = SpoolReader { dir: dir.to_path_buf(), position: start };
    Ok((appender, reader))
}

fn parse_position(text: &str) -> Option<Position> {
    let (segment, offset) = text.trim().split_once(' ')?;
    Some(Position { segment: segment.parse().ok()?, offset: offset.parse().ok()? })
}

/// Writes frames to the newest segment. Appends are encoded into a buffer; [`SpoolAppender::flush`]
/// hands it to the operating system, after which a crash of the process cannot lose them. Each
/// body is copied once, into the buffer, and the buffer is written as it is.
pub struct SpoolAppender {
    /// Held while this process runs (the lock is released when the file closes).
    _lock: Option<std::fs::File>,
    dir: PathBuf,
    /// `None` only while a flush has it on a blocking thread.
    file: Option<std::fs::File>,
    /// Frames appended since the last flush; its allocation is kept from flush to flush.
    buffer: Vec<u8>,
    unwritten_limit: usize,
    position: Position,
}

impl SpoolAppender {
    async fn create(dir: &Path, segment: u64) -> std::io::Result<SpoolAppender> {
        let file = tokio::fs::OpenOptions::new().create_new(true).append(true).open(segment_path(dir, segment)).await?;
        Ok(SpoolAppender {
            _lock: None,
            dir: dir.to_path_buf(),
            file: Some(file.into_std().await),
            buffer: Vec::with_capacity(BUFFER_START_BYTES),
            unwritten_limit: UNWRITTEN_LIMIT_BYTES,
            position: Position { segment, offset: 0 },
        })
    }

    pub async fn append(&mut self, record: &RequestRecord) -> std::io::Result<()> {
        if self.position.offset >= SEGMENT_BYTES {
            self.flush().await?;
            let lock = self._lock.take();
            *self = SpoolAppender::create(&self.dir, self.position.segment + 1).await?;
            self._lock = lock;
        }
        if self.buffer.len() >= self.unwritten_limit {
            return Err(std::io::Error::other("the spool's earlier records could not be written to disk"));
        }
        self.position.offset += encode_into(record, &mut self.buffer) as u64;
        Ok(())
    }

    /// Hands everything appended to the operating system; returns the end of what is readable.
    /// What a failed write did not take stays buffered, and the next flush goes on from there.
    pub async fn flush(&mut self) -> std::io::Result<Position> {
        if self.buffer.is_empty() {
            return Ok(self.position);
        }
        let mut file = self.file.take().ok_or_else(|| std::io::Error::other("the spool file is gone"))?;
        let mut buffer = std::mem::take(&mut self.buffer);
        let (file, buffer, result) = tokio::task::spawn_blocking(move || {
            let mut written = 0;
            let result = loop {
                match file.write(&buffer[written..]) {
                    Ok(0) => break Err(std::io::ErrorKind::WriteZero.into()),
                    Ok(n) if written + n == buffer.len() => break Ok(()),
                    Ok(n) => written += n,
                    Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(error) => break Err(error),
                }
            };
            // Written bytes are dropped, the rest kept for the next attempt: a frame is never
            // written twice, which would read as a damaged one and end the segment there.
            buffer.drain(..if result.is_ok() { buffer.len() } else { written });
            (file, buffer, result)
        })
        .await
        .map_err(std::io::Error::other)?;
        self.file = Some(file);
        self.buffer = buffer;
        if self.buffer.is_empty() && self.buffer.capacity() > BUFFER_KEEP_BYTES {
            self.buffer = Vec::with_capacity(BUFFER_START_BYTES);
        }
        result.map(|()| self.position)
    }

    /// The end of what has been appended (flushed or not).
    pub fn position(&self) -> Position {
        self.position
    }
}

/// Reads frames in order from the last confirmed position, and records new confirmations.
pub struct SpoolReader {
    dir: PathBuf,
    position: Position,
}

impl SpoolReader {
    pub fn position(&self) -> Position {
        self.position
    }

    /// Up to `max_records` records (and about `max_bytes`) from `from` onwards, never past `end`
    /// (the appender's last flushed position). Returns them with the position after the last one.
    /// The file work and the decoding run on the blocking pool, one call per batch.
    pub async fn read(
        &mut self,
        from: Position,
        end: Position,
        max_records: usize,
        max_bytes: usize,
    ) -> std::io::Result<(Vec<RequestRecord>, Position)> {
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || read_batch(&dir, from, end, max_records, max_bytes))
            .await
            .map_err(std::io::Error::other)?
    }

    /// Records that MySQL holds everything before `position`, and deletes the segments before it.
    pub async fn confirm(&mut self, position: Position) -> std::io::Result<()> {
        let temporary = self.dir.join(format!("{COMMITTED_FILE}.tmp"));
        tokio::fs::write(&temporary, format!("{} {}\n", position.segment, position.offset)).await?;
        tokio::fs::rename(&temporary, self.dir.join(COMMITTED_FILE)).await?;
        if position.segment > self.position.segment {
            for segment in segments(&self.dir).await? {
                if segment < position.segment {
                    tokio::fs::remove_file(segment_path(&self.dir, segment)).await?;
                }
            }
        }
        self.position = position;
        Ok(())
    }

    /// How many whole records lie between `from` and `end`: the backlog a new process finds.
    pub async fn count(&mut self, from: Position, end: Position) -> std::io::Result<u64> {
        let mut counted = 0;
        let mut at = from;
        loop {
            let (records, next) = self.read(at, end, 1000, usize::MAX).await?;
            if records.is_empty() {
                return Ok(counted);
            }
            counted += records.len() as u64;
            at = next;
        }
    }
}

fn read_batch(
    dir: &Path,
    from: Position,
    end: Position,
    max_records: usize,
    max_bytes: usize,
) -> std::io::Result<(Vec<RequestRecord>, Position)> {
    let mut records = Vec::new();
    let mut bytes = 0u64;
    let mut at = from;
    let mut open: Option<(u64, FrameReader<std::fs::File>)> = None;
    while at < end && records.len() < max_records && bytes < max_bytes as u64 {
        let reader = match &mut open {
            Some((segment, reader)) if *segment == at.segment => reader,
            _ => match std::fs::File::open(segment_path(dir, at.segment)) {
                Ok(mut file) => {
                    // A closed segment ends with its file; the last one where the appender has
                    // flushed to (it may be writing past that meanwhile).
                    let data_end = if at.segment == end.segment { end.offset } else { file.metadata()?.len() };
                    file.seek(std::io::SeekFrom::Start(at.offset))?;
                    let reader = FrameReader::new(file, data_end.saturating_sub(at.offset));
                    &mut open.insert((at.segment, reader)).1
                }
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                    if at.segment < end.segment {
                        at = Position { segment: at.segment + 1, offset: 0 };
                        continue;
                    }
                    break;
                }
                Err(error) => return Err(error),
            },
        };
        match read_frame(reader)? {
            Some((record, length)) => {
                bytes += length;
                at.offset += length;
                records.push(record);
            }
            // The end of a closed segment, or a frame a crash cut short: on to the next segment.
            None if at.segment < end.segment => {
                at = Position { segment: at.segment + 1, offset: 0 };
                open = None;
            }
            None => break,
        }
    }
    Ok((records, at))
}

/// Reads a segment's data in chunks of `READ_CHUNK_BYTES` straight into memory that the frames'
/// parts are then slices of: one copy from the file, none per frame, and no zeroing first (a
/// zeroed buffer per frame was a twentieth of a logged stream's CPU, most of it faulting in the
/// fresh pages that memset touched).
struct FrameReader<R> {
    source: R,
    /// Bytes of data the source holds past `chunk`.
    unread: u64,
    chunk: Bytes,
}

/// Large enough for a few hundred small frames per read; what a batch leaves of it is read again
/// by the next batch.
const READ_CHUNK_BYTES: usize = 256 << 10;

impl<R: std::io::Read> FrameReader<R> {
    fn new(source: R, data_bytes: u64) -> Self {
        FrameReader { source, unread: data_bytes, chunk: Bytes::new() }
    }

    /// Bytes of data left to read, in memory or not.
    fn room(&self) -> u64 {
        self.unread + self.chunk.len() as u64
    }

    /// The next `length` bytes; `None` when the data ends first.
    fn next_bytes(&mut self, length: usize) -> std::io::Result<Option<Bytes>> {
        if self.chunk.len() < length {
            let wanted = (length - self.chunk.len()).max(READ_CHUNK_BYTES) as u64;
            let wanted = wanted.min(self.unread);
            let mut buffer = Vec::with_capacity(self.chunk.len() + wanted as usize);
            // Only the part of a frame that the last chunk cut off is copied again.
            buffer.extend_from_slice(&self.chunk);
            let read = (&mut self.source).take(wanted).read_to_end(&mut buffer)?;
            // A file shorter than its recorded end (a crash) has nothing more to give.
            self.unread = if (read as u64) < wanted { 0 } else { self.unread - wanted };
            self.chunk = Bytes::from(buffer);
            if self.chunk.len() < length {
                return Ok(None);
            }
        }
        Ok(Some(self.chunk.split_to(length)))
    }
}

/// The next frame, if a whole, intact one lies within the reader's data; `None` at its end.
fn read_frame<R: std::io::Read>(reader: &mut FrameReader<R>) -> std::io::Result<Option<(RequestRecord, u64)>> {
    let Some(header) = reader.next_bytes(HEADER_BYTES)? else {
        return Ok(None);
    };
    type Checksum = fn(&[u8]) -> [u8; 8];
    type Decode = fn(&[u8], Bytes, Bytes) -> Option<RequestRecord>;
    let (checksum_of, decode): (Checksum, Decode) = match &header[..4] {
        magic if magic == MAGIC => (crc_checksum, frame_meta::decode),
        magic if magic == MAGIC_JSON_META => (crc_checksum, json_meta::decode),
        magic if magic == MAGIC_SHA256 => (sha256_checksum, json_meta::decode),
        _ => return Ok(None),
    };
    let length = |i: usize| u32::from_le_bytes(header[4 + 4 * i..8 + 4 * i].try_into().unwrap()) as usize;
    let (meta_len, request_len, response_len) = (length(0), length(1), length(2));
    let payload_len = meta_len + request_len + response_len;
    // Checked before reading, so that a damaged length never asks for more than the file holds.
    if payload_len as u64 > reader.room() {
        return Ok(None);
    }
    let payload = match reader.next_bytes(payload_len)? {
        Some(payload) if checksum_of(&payload) == header[16..24] => payload,
        _ => {
            tracing::warn!("spool: a damaged record ends its segment");
            return Ok(None);
        }
    };
    let meta = payload.slice(..meta_len);
    let request = payload.slice(meta_len..meta_len + request_len);
    let response = payload.slice(meta_len + request_len..);
    match decode(&meta, request, response) {
        Some(record) => Ok(Some((record, (HEADER_BYTES + payload_len) as u64))),
        None => {
            tracing::warn!("spool: an unreadable record ends its segment");
            Ok(None)
        }
    }
}

fn crc_checksum(payload: &[u8]) -> [u8; 8] {
    u64::from(crc32fast::hash(payload)).to_le_bytes()
}

fn sha256_checksum(payload: &[u8]) -> [u8; 8] {
    Sha256::digest(payload)[..8].try_into().unwrap()
}

/// Appends the record's frame to `out`; returns its length.
fn encode_into(record: &RequestRecord, out: &mut Vec<u8>) -> usize {
    let meta = |out: &mut Vec<u8>| frame_meta::encode_into(record, out);
    frame_into(out, MAGIC, crc_checksum, meta, &record.request_body, response_bytes(record))
}

fn response_bytes(record: &RequestRecord) -> &[u8] {
    match &record.response {
        ResponseCapture::None => &[],
        ResponseCapture::Body(bytes) | ResponseCapture::Stream(bytes) => bytes,
    }
}

/// Appends a frame: `magic`, the header, the meta `write_meta` appends, the two bodies; returns its
/// length. The header's lengths and checksum are filled in once the parts behind it are written.
fn frame_into(
    out: &mut Vec<u8>,
    magic: &[u8; 4],
    checksum_of: fn(&[u8]) -> [u8; 8],
    write_meta: impl FnOnce(&mut Vec<u8>),
    request: &[u8],
    response: &[u8],
) -> usize {
    let start = out.len();
    out.extend_from_slice(magic);
    out.resize(start + HEADER_BYTES, 0);
    write_meta(out);
    let meta_len = out.len() - start - HEADER_BYTES;
    out.extend_from_slice(request);
    out.extend_from_slice(response);
    for (i, length) in [meta_len, request.len(), response.len()].into_iter().enumerate() {
        out[start + 4 + 4 * i..start + 8 + 4 * i].copy_from_slice(&(length as u32).to_le_bytes());
    }
    let checksum = checksum_of(&out[start + HEADER_BYTES..]);
    out[start + 16..start + HEADER_BYTES].copy_from_slice(&checksum);
    out.len() - start
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Outcome, RecordedError, StreamEvent};
    use chrono::DateTime;
    use std::time::Duration;

    fn temp_dir() -> PathBuf {
        std::env::temp_dir().join(format!("tokenslipper-spool-unit-{}", uuid::Uuid::now_v7()))
    }

    fn sample(n: u32, response: ResponseCapture) -> RequestRecord {
        let mut record = RequestRecord::new("POST", "/v1/chat/completions");
        record.client_model = Some(format!("model-{n}"));
        record.request_body = Bytes::from(format!("{{\"n\":{n}}}").into_bytes());
        record.response = response;
        record.error = Some(RecordedError { error_type: "t".into(), message: "m".into() });
        record.time_to_first_byte = Some(Duration::from_micros(1234));
        record.outcome = Outcome::Cancelled;
        // The spool keeps microseconds, as MySQL's DATETIME(6) does.
        record.started_at = DateTime::from_timestamp_micros(1_764_000_000_123_456).unwrap();
        record.finished_at = DateTime::from_timestamp_micros(1_764_000_001_654_321).unwrap();
        record
    }

    fn same(a: &RequestRecord, b: &RequestRecord) -> bool {
        format!("{a:?}") == format!("{b:?}")
    }

    #[tokio::test]
    async fn records_come_back_whole_and_in_order_across_restarts() {
        let dir = temp_dir();
        let records = [
            sample(1, ResponseCapture::None),
            sample(2, ResponseCapture::Body(Bytes::from_static(b"\xff not utf-8"))),
            sample(3, ResponseCapture::stream_of(&[StreamEvent { event: Some("x".into()), data: "{}".into() }])),
        ];
        {
            let (mut appender, _) = open(&dir).await.unwrap();
            for record in &records {
                appender.append(record).await.unwrap();
            }
            appender.flush().await.unwrap();
        }
        // A new process: a new segment for its own appends, the old one read from the start.
        let (mut appender, mut reader) = open(&dir).await.unwrap();
        appender.append(&sample(4, ResponseCapture::None)).await.unwrap();
        let end = appender.flush().await.unwrap();
        assert_eq!(end.segment, 2);
        let (read, next) = reader.read(reader.position(), end, 100, usize::MAX).await.unwrap();
        assert_eq!(read.len(), 4);
        assert!(records.iter().zip(&read).all(|(a, b)| same(a, b)));
        assert_eq!(next, end);

        // Confirming deletes the old segment and survives a reopen.
        reader.confirm(next).await.unwrap();
        drop((appender, reader));
        assert!(!segment_path(&dir, 1).exists());
        let (appender, mut reader) = open(&dir).await.unwrap();
        assert_eq!(reader.count(reader.position(), appender.position()).await.unwrap(), 0);
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// A frame as an earlier version wrote it: JSON metadata, under `magic`, checksummed with
    /// `checksum_of`.
    fn old_frame(record: &RequestRecord, magic: &[u8; 4], checksum_of: fn(&[u8]) -> [u8; 8]) -> Vec<u8> {
        let mut frame = Vec::new();
        let meta = |out: &mut Vec<u8>| out.extend(json_meta::encode(record));
        frame_into(&mut frame, magic, checksum_of, meta, &record.request_body, response_bytes(record));
        frame
    }

    #[test]
    fn a_stream_spooled_as_events_by_an_earlier_version_comes_back_as_its_bytes() {
        let record = sample(1, ResponseCapture::None);
        // The id is a u128, which serde_json's Value cannot hold: edit the text.
        let meta = String::from_utf8(json_meta::encode(&record))
            .unwrap()
            .replace(r#""response":"none""#, r#""response":"stream","events":[[null,"{\"a\":1}"],["done","x\ny"]]"#);
        let decoded = json_meta::decode(meta.as_bytes(), record.request_body.clone(), Bytes::new()).unwrap();
        assert_eq!(
            decoded.response,
            ResponseCapture::Stream(Bytes::from_static(b"data: {\"a\":1}\n\nevent: done\ndata: x\ndata: y\n\n"))
        );
    }

    #[test]
    fn frames_of_earlier_versions_are_read_and_a_damaged_one_is_not() {
        let record = sample(7, ResponseCapture::Body(Bytes::from_static(b"{}")));
        let mut spool = old_frame(&record, MAGIC_SHA256, sha256_checksum);
        spool.extend(old_frame(&record, MAGIC_JSON_META, crc_checksum));
        let newest = encode_into(&record, &mut spool);
        let mut reader = FrameReader::new(&spool[..], spool.len() as u64);
        let mut lengths = Vec::new();
        while let Some((read, length)) = read_frame(&mut reader).unwrap() {
            assert!(same(&read, &record));
            lengths.push(length);
        }
        assert_eq!(lengths.len(), 3, "TSR1, TSR2 and TSR3");
        assert_eq!(lengths.iter().sum::<u64>(), spool.len() as u64);
        assert!(lengths[2] == newest as u64 && lengths[2] < lengths[1], "the binary metadata is the shorter");

        // Each checksum is checked: one bit changed in the last byte of the payload.
        for mut frame in
            [old_frame(&record, MAGIC_SHA256, sha256_checksum), old_frame(&record, MAGIC_JSON_META, crc_checksum)]
        {
            *frame.last_mut().unwrap() ^= 1;
            assert!(read_frame(&mut FrameReader::new(&frame[..], frame.len() as u64)).unwrap().is_none());
        }
        let mut frame = Vec::new();
        encode_into(&record, &mut frame);
        *frame.last_mut().unwrap() ^= 1;
        assert!(read_frame(&mut FrameReader::new(&frame[..], frame.len() as u64)).unwrap().is_none());
    }

    #[test]
    fn frames_cut_by_the_reads_chunks_come_back_whole_and_a_damaged_length_reads_nothing() {
        // Small frames, and frames larger than a chunk, so that chunk ends fall inside headers,
        // inside payloads and between frames.
        let records: Vec<RequestRecord> = (0..40)
            .map(|n| {
                let size = if n % 7 == 3 { READ_CHUNK_BYTES + 1_000 * n as usize } else { 20_000 + 997 * n as usize };
                sample(n, ResponseCapture::Body(Bytes::from(vec![b'a' + (n % 26) as u8; size])))
            })
            .collect();
        let mut data = Vec::new();
        for record in &records {
            encode_into(record, &mut data);
        }
        let mut reader = FrameReader::new(&data[..], data.len() as u64);
        let mut read = Vec::new();
        while let Some((record, length)) = read_frame(&mut reader).unwrap() {
            assert!(length > 0);
            read.push(record);
        }
        assert_eq!(read.len(), records.len());
        assert!(records.iter().zip(&read).all(|(a, b)| same(a, b)));

        // Data that ends before its recorded end (a crash): the whole frames before it are read.
        let cut = data.len() - 5;
        let mut reader = FrameReader::new(&data[..cut], data.len() as u64);
        let mut count = 0;
        while read_frame(&mut reader).unwrap().is_some() {
            count += 1;
        }
        assert_eq!(count, records.len() - 1);

        // A header claiming 4 GB reads as the end, without asking for the memory.
        let mut damaged = data[..HEADER_BYTES].to_vec();
        damaged[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(read_frame(&mut FrameReader::new(&damaged[..], damaged.len() as u64)).unwrap().is_none());
    }

    #[tokio::test]
    async fn while_the_disk_refuses_writes_appends_fail_past_the_limit_and_resume_once_it_takes_them() {
        let dir = temp_dir();
        let (mut appender, mut reader) = open(&dir).await.unwrap();
        let path = segment_path(&dir, appender.position.segment);
        // A read-only handle on the segment: every write fails, as on a broken disk.
        appender.file = Some(std::fs::File::open(&path).unwrap());
        appender.unwritten_limit = 1;
        appender.append(&sample(1, ResponseCapture::None)).await.unwrap();
        assert!(appender.flush().await.is_err());
        assert!(appender.append(&sample(2, ResponseCapture::None)).await.is_err(), "past the limit");

        appender.file = Some(std::fs::OpenOptions::new().append(true).open(&path).unwrap());
        let end = appender.flush().await.unwrap();
        let (read, _) = reader.read(reader.position(), end, 100, usize::MAX).await.unwrap();
        let models: Vec<_> = read.iter().map(|r| r.client_model.clone().unwrap()).collect();
        assert_eq!(models, ["model-1"], "the buffered record, whole and once");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn a_frame_cut_short_by_a_crash_ends_its_segment_and_nothing_after_is_lost() {
        let dir = temp_dir();
        {
            let (mut appender, _) = open(&dir).await.unwrap();
            appender.append(&sample(1, ResponseCapture::None)).await.unwrap();
            appender.append(&sample(2, ResponseCapture::None)).await.unwrap();
            appender.flush().await.unwrap();
        }
        // kill -9 in the middle of a write: the second frame is cut in half.
        let path = segment_path(&dir, 1);
        let length = std::fs::metadata(&path).unwrap().len();
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.set_len(length - 10).unwrap();
        drop(file);

        let (mut appender, mut reader) = open(&dir).await.unwrap();
        appender.append(&sample(3, ResponseCapture::None)).await.unwrap();
        let end = appender.flush().await.unwrap();
        assert_eq!(reader.count(reader.position(), end).await.unwrap(), 2, "record 1, and record 3 after the cut");
        let (read, _) = reader.read(reader.position(), end, 100, usize::MAX).await.unwrap();
        let models: Vec<_> = read.iter().map(|r| r.client_model.clone().unwrap()).collect();
        assert_eq!(models, ["model-1", "model-3"]);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn only_the_proxys_user_may_enter_the_spool() {
        use std::os::unix::fs::PermissionsExt;
        let dir = temp_dir();
        let _spool = open(&dir).await.unwrap();
        assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn a_second_process_on_the_same_directory_is_refused() {
        let dir = temp_dir();
        let _first = open(&dir).await.unwrap();
        let second = open(&dir).await.err().unwrap();
        assert!(second.to_string().contains("another running proxy"), "{second}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
