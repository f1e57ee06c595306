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

/// Decompresses the whole image once: integrity, raw size, sha256, the `config`
/// partition. Writes nothing.
pub fn check(path: &Path, expected: Option<[u8; 32]>) -> Result<CheckedImage> {
    let (mut reader, compressed) = ImageReader::open(path)?;
    let mut progress = Progress::start("checking", compressed);
    let result = check_stream(&mut reader, &mut progress);
    let (raw_size, sha256, head, config_fat) = match result {
        Ok(r) => r,
        Err(e) => {
            progress.abandon();
            return Err(e);
        }
    };
    progress.finish("checked (compressed)");
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

fn check_stream(reader: &mut ImageReader, progress: &mut Progress) -> Result<Checked> {
    let mut buf = vec![0u8; CHUNK];
    let mut hasher = Sha256::new();
    let mut raw_size = 0u64;
    let mut head = Vec::with_capacity(HEAD);
    let mut config: Option<(u64, u64)> = None;
    let mut config_bytes = Vec::new();
    let mut last_compressed = 0;
    loop {
        let n = reader.read_chunk(&mut buf)?;
        if n == 0 {
            break;
        }
        let chunk = &buf[..n];
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
        let compressed = reader.compressed_read();
        progress.advance(compressed - last_compressed);
        last_compressed = compressed;
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
