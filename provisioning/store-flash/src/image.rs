//! The compressed image: its expected sha256, and a check pass that decompresses it
//! whole before anything is written, so a corrupt or truncated `.zst`, a wrong sha256 or
//! an image without a `config` partition is refused while the target is untouched.
//!
//! The check pass also gives the raw size (the zstd frame header may not carry it) for
//! the "device too small" test. Decompressing costs a second or two per GiB; flashing a
//! half-written disk costs an installer far more.

use std::fs::File;
use std::io::{self, BufReader, Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;

use sha2::{Digest, Sha256};

use crate::error::{FlashError, Result};
use crate::progress::Progress;

/// Bytes handed to the disk per write, and read back per read.
pub const CHUNK: usize = 4 << 20;
pub const SECTOR: u64 = 512;

/// What the check pass learned about the image.
#[derive(Debug, Clone)]
pub struct CheckedImage {
    pub path: PathBuf,
    pub raw_size: u64,
    pub sha256: [u8; 32],
    /// Byte range of the partition named `config`.
    pub config_offset: u64,
    pub config_len: u64,
}

/// `--sha256`: 64 hex digits, or a file whose first word is them (`sha256sum` output,
/// as the image build writes next to the image).
pub fn parse_expected_sha256(arg: &str) -> Result<[u8; 32]> {
    let from_hex = |s: &str| -> Option<[u8; 32]> {
        let bytes = hex::decode(s.trim()).ok()?;
        bytes.try_into().ok()
    };
    if let Some(sum) = from_hex(arg).filter(|_| arg.len() == 64) {
        return Ok(sum);
    }
    let text = std::fs::read_to_string(arg).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => FlashError::BadSha256(arg.to_owned()),
        _ => FlashError::io("read the sha256 file", arg)(e),
    })?;
    let word = text.split_whitespace().next().unwrap_or("");
    from_hex(word).ok_or_else(|| FlashError::BadSha256(format!("{arg} (first word {word:?})")))
}

/// Reads the image file, counting bytes and remembering whether the file itself failed
/// (so a disk error reading the image is not reported as a corrupt image).
struct Source {
    file: File,
    bytes: u64,
    failed: bool,
}

impl Read for Source {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.file.read(buf) {
            Ok(n) => {
                self.bytes += n as u64;
                Ok(n)
            }
            Err(e) => {
                self.failed = true;
                Err(e)
            }
        }
    }
}

/// The decompressed image as a stream of chunks.
pub struct ImageReader {
    path: PathBuf,
    decoder: zstd::stream::read::Decoder<'static, BufReader<Source>>,
}

impl ImageReader {
    pub fn open(path: &Path) -> Result<(ImageReader, u64)> {
        let file = File::open(path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => FlashError::MissingImage(path.to_path_buf()),
            _ => FlashError::io("open the image", path)(e),
        })?;
        let compressed = file
            .metadata()
            .map_err(FlashError::io("read the image", path))?
            .len();
        let source = Source {
            file,
            bytes: 0,
            failed: false,
        };
        let decoder = zstd::stream::read::Decoder::new(source)
            .map_err(FlashError::io("start decompressing", path))?;
        Ok((
            ImageReader {
                path: path.to_path_buf(),
                decoder,
            },
            compressed,
        ))
    }

    /// Compressed bytes consumed so far.
    pub fn compressed_read(&self) -> u64 {
        self.decoder.get_ref().get_ref().bytes
    }

    /// Fills `buf` as far as the image goes; returns the byte count, 0 at the end.
    pub fn read_chunk(&mut self, buf: &mut [u8]) -> Result<usize> {
        let mut filled = 0;
        while filled < buf.len() {
            match self.decoder.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.classify(e)),
            }
        }
        Ok(filled)
    }

    fn classify(&self, e: io::Error) -> FlashError {
        let path = self.path.clone();
        if self.decoder.get_ref().get_ref().failed {
            FlashError::io("read the image", path)(e)
        } else if e.kind() == io::ErrorKind::UnexpectedEof {
            FlashError::TruncatedImage { path }
        } else {
            FlashError::CorruptImage {
                path,
                detail: format!("zstd: {e}"),
            }
        }
    }
}

/// The decompressed image as 4 MiB chunks from a thread of its own, so decompressing
/// overlaps with hashing and writing (the machines here have 2 cores). Buffers go back
/// through `recycle` instead of being allocated for every chunk.
pub struct Chunks {
    rx: Option<mpsc::Receiver<Result<Vec<u8>>>>,
    back: mpsc::Sender<Vec<u8>>,
    compressed: Arc<AtomicU64>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Chunks {
    /// Opens the image (a missing image fails here) and starts decompressing; also
    /// returns the compressed size.
    pub fn start(path: &Path) -> Result<(Chunks, u64)> {
        let (mut reader, compressed_size) = ImageReader::open(path)?;
        let (tx, rx) = mpsc::sync_channel::<Result<Vec<u8>>>(2);
        let (back, back_rx) = mpsc::channel::<Vec<u8>>();
        let compressed = Arc::new(AtomicU64::new(0));
        let counter = compressed.clone();
        let thread = thread::spawn(move || {
            loop {
                let mut buf = back_rx.try_recv().unwrap_or_default();
                buf.resize(CHUNK, 0);
                let message = match reader.read_chunk(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        buf.truncate(n);
                        Ok(buf)
                    }
                    Err(e) => Err(e),
                };
                counter.store(reader.compressed_read(), Ordering::Relaxed);
                let failed = message.is_err();
                if tx.send(message).is_err() || failed {
                    break;
                }
            }
        });
        Ok((
            Chunks {
                rx: Some(rx),
                back,
                compressed,
                thread: Some(thread),
            },
            compressed_size,
        ))
    }

    /// The next chunk; `None` at the end of the image.
    pub fn next_chunk(&mut self) -> Option<Result<Vec<u8>>> {
        self.rx.as_ref()?.recv().ok()
    }

    pub fn recycle(&self, buf: Vec<u8>) {
        let _ = self.back.send(buf);
    }

    /// Compressed bytes consumed so far.
    pub fn compressed_read(&self) -> u64 {
        self.compressed.load(Ordering::Relaxed)
    }
}

impl Drop for Chunks {
    fn drop(&mut self) {
        // Closing the channel ends the thread at its next chunk.
        self.rx.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Decompresses the whole image once: integrity, raw size, sha256, the `config`
/// partition. Writes nothing.
pub fn check(path: &Path, expected: Option<[u8; 32]>) -> Result<CheckedImage> {
    let (mut chunks, compressed) = Chunks::start(path)?;
    let mut progress = Progress::start("checking", compressed);
    let result = check_stream(&mut chunks, &mut progress);
    let (raw_size, sha256, head, config_fat) = match result {
        Ok(r) => r,
        Err(e) => {
            progress.abandon();
            return Err(e);
        }
    };
    progress.finish_raw("checked", raw_size);
    if raw_size == 0 {
        return Err(FlashError::EmptyImage {
            path: path.to_path_buf(),
        });
    }
    if let Some(expected) = expected.filter(|e| *e != sha256) {
        return Err(FlashError::ChecksumMismatch {
            path: path.to_path_buf(),
            expected: hex::encode(expected),
            actual: hex::encode(sha256),
        });
    }
    let (config_offset, config_len) = find_config(&head)?;
    if config_offset + config_len > raw_size {
        return Err(FlashError::CorruptImage {
            path: path.to_path_buf(),
            detail: "the partition `config` ends past the end of the image".into(),
        });
    }
    // The config partition must hold a FAT filesystem fatfs can open, or the code
    // could not be written after flashing.
    let mut config_fat = config_fat;
    config_fat.resize(config_len.min(MAX_CONFIG) as usize, 0);
    let cursor = Cursor::new(config_fat);
    fatfs::FileSystem::new(cursor, fatfs::FsOptions::new())
        .map_err(FlashError::ConfigFilesystem)?;
    Ok(CheckedImage {
        path: path.to_path_buf(),
        raw_size,
        sha256,
        config_offset,
        config_len,
    })
}

/// Partition entries live in the first 34 sectors; 1 MiB is plenty.
const HEAD: usize = 1 << 20;
/// The config partition is 16 MiB in the layout; keep a copy up to 64 MiB to check it.
const MAX_CONFIG: u64 = 64 << 20;

type Checked = (u64, [u8; 32], Vec<u8>, Vec<u8>);

fn check_stream(chunks: &mut Chunks, progress: &mut Progress) -> Result<Checked> {
    let mut hasher = Sha256::new();
    let mut raw_size = 0u64;
    let mut head = Vec::with_capacity(HEAD);
    let mut config: Option<(u64, u64)> = None;
    let mut config_bytes = Vec::new();
    let mut last_compressed = 0;
    while let Some(buf) = chunks.next_chunk() {
        let buf = buf?;
        let n = buf.len();
        let chunk = &buf[..];
        hasher.update(chunk);
        if head.len() < HEAD {
            let take = (HEAD - head.len()).min(n);
            head.extend_from_slice(&chunk[..take]);
            if head.len() == HEAD || n < CHUNK {
                config = find_config(&head).ok();
            }
        }
        if let Some((offset, len)) = config {
            let (start, end) = (raw_size, raw_size + n as u64);
            let (want_start, want_end) = (offset, offset + len.min(MAX_CONFIG));
            if start < want_end && end > want_start {
                let from = want_start.max(start) - start;
                let to = want_end.min(end) - start;
                config_bytes.extend_from_slice(&chunk[from as usize..to as usize]);
            }
        }
        raw_size += n as u64;
        chunks.recycle(buf);
        let compressed = chunks.compressed_read();
        progress.advance(compressed.saturating_sub(last_compressed));
        last_compressed = compressed.max(last_compressed);
    }
    Ok((raw_size, hasher.finalize().into(), head, config_bytes))
}

/// The byte range of the GPT partition named `config`, from the image's first sectors.
pub fn find_config(head: &[u8]) -> Result<(u64, u64)> {
    let disk = gpt::GptConfig::new()
        .writable(false)
        .logical_block_size(gpt::disk::LogicalBlockSize::Lb512)
        .open_from_device(Cursor::new(head.to_vec()))
        .map_err(|_| FlashError::NoGpt)?;
    if disk.primary_header().is_err() {
        return Err(FlashError::NoGpt);
    }
    // Moving the backup GPT rewrites the entries packed from the first slot (the gpt
    // crate's writer), which would renumber partitions after an empty slot: refuse such
    // an image before anything is written. Images built with sfdisk have no gaps.
    let used: Vec<u32> = disk
        .partitions()
        .iter()
        .filter(|(_, p)| p.is_used())
        .map(|(i, _)| *i)
        .collect();
    if used.iter().enumerate().any(|(n, i)| *i != n as u32 + 1) {
        return Err(FlashError::PartitionGaps);
    }
    let part = disk
        .partitions()
        .values()
        .find(|p| p.is_used() && p.name == "config")
        .ok_or(FlashError::NoConfigPartition)?;
    if part.last_lba < part.first_lba {
        return Err(FlashError::NoConfigPartition);
    }
    Ok((
        part.first_lba * SECTOR,
        (part.last_lba - part.first_lba + 1) * SECTOR,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_from_hex_or_a_sha256sum_file() {
        let hex = "ab".repeat(32);
        assert_eq!(parse_expected_sha256(&hex).unwrap(), [0xab; 32]);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("store-node.img.sha256");
        std::fs::write(&file, format!("{hex}  store-node.img\n")).unwrap();
        assert_eq!(
            parse_expected_sha256(file.to_str().unwrap()).unwrap(),
            [0xab; 32]
        );
        std::fs::write(&file, "not a sum\n").unwrap();
        assert!(matches!(
            parse_expected_sha256(file.to_str().unwrap()),
            Err(FlashError::BadSha256(_))
        ));
        assert!(matches!(
            parse_expected_sha256("abc"),
            Err(FlashError::BadSha256(_))
        ));
    }
}
