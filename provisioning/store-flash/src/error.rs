//! Every way a flash can fail, each as one sentence an installer can act on.
//!
//! The sentences name the device or file, the sizes involved and what to do next; `main`
//! prints them as `store-flash: <sentence>` and exits with status 1.

use std::io;
use std::path::PathBuf;

use crate::size::Size;

#[derive(Debug, thiserror::Error)]
pub enum FlashError {
    #[error(
        "{0} does not exist: plug the disk in and find it with `store-flash list` (or create a file target first, e.g. `truncate -s 4G disk.img`)"
    )]
    MissingDevice(PathBuf),
    #[error("the image {0} does not exist")]
    MissingImage(PathBuf),
    #[error(
        "{path} is too small for this image: the disk holds {device} but the image needs {image}"
    )]
    TooSmall {
        path: PathBuf,
        device: Size,
        image: Size,
    },
    #[error(
        "{0} has no medium (0 bytes): insert the card, or attach a file to the loop device first"
    )]
    NoMedium(PathBuf),
    #[error("{0} is write-protected: slide the card's lock switch off, or use another disk")]
    ReadOnly(PathBuf),
    #[error("{0} holds the running system (it has /): refusing to overwrite it")]
    SystemDisk(PathBuf),
    #[error("{path} is mounted ({mounts}): unmount it first, e.g. `umount {example}`")]
    Mounted {
        path: PathBuf,
        mounts: String,
        example: String,
    },
    #[error("{0} is in use by the system (mounted, swap, RAID or LVM): release it before flashing")]
    InUse(PathBuf),
    #[error(
        "{0} is not a removable disk (USB stick or SD card); to flash a fixed disk on purpose, add --force-not-removable"
    )]
    NotRemovable(PathBuf),
    #[error("{path} is a partition, not a whole disk: give the disk itself, e.g. {disk}")]
    Partition { path: PathBuf, disk: PathBuf },
    #[error("{0} is the image itself: give the disk to write to as --device")]
    TargetIsImage(PathBuf),
    #[error("{0} is neither a disk nor a regular file")]
    NotADisk(PathBuf),
    #[error("{path} uses {sector}-byte sectors; store-node images are made for 512-byte sectors")]
    SectorSize { path: PathBuf, sector: u32 },
    #[error(
        "the image {path} is truncated (it ends in the middle of its compressed data): download it again"
    )]
    TruncatedImage { path: PathBuf },
    #[error("the image {path} is corrupt ({detail}): download it again")]
    CorruptImage { path: PathBuf, detail: String },
    #[error("the image {path} is empty")]
    EmptyImage { path: PathBuf },
    #[error(
        "the image {path} does not match its sha256: expected {expected}, got {actual}; download it again"
    )]
    ChecksumMismatch {
        path: PathBuf,
        expected: String,
        actual: String,
    },
    #[error("{0} is not a sha256: give 64 hex digits or a `.sha256` file")]
    BadSha256(String),
    #[error(
        "the image {path} changed while it was being written (sha256 {first} when checked, {second} when written)"
    )]
    ImageChanged {
        path: PathBuf,
        first: String,
        second: String,
    },
    #[error(
        "verification failed: {path} read back with sha256 {actual} but {expected} was written; the disk may be faulty, try another one"
    )]
    VerifyFailed {
        path: PathBuf,
        expected: String,
        actual: String,
    },
    #[error("the image has no valid GPT partition table: it is not a store-node image")]
    NoGpt,
    #[error(
        "the image's GPT has empty slots between its partitions; store-flash needs them numbered 1, 2, 3… (rebuild the image with sfdisk)"
    )]
    PartitionGaps,
    #[error("the image has no partition named `config`: it is not a store-node image")]
    NoConfigPartition,
    #[error("the partition `config` is not a FAT filesystem store-flash can write: {0}")]
    ConfigFilesystem(io::Error),
    #[error(
        "{0:?} is not a pairing code: a code is 8 characters from 23456789ABCDEFGHJKMNPQRSTUVWXYZ, e.g. K7QM-3XPD"
    )]
    BadCode(String),
    #[error(
        "{0:?} is not a hub URL: give its base URL, e.g. https://hub.example.com (http:// only for development)"
    )]
    BadHub(String),
    #[error("{0} is not a PEM certificate file (no -----BEGIN CERTIFICATE----- line)")]
    BadCaFile(PathBuf),
    #[error(
        "refusing to erase {0} without confirmation: add --yes (standard input is not a terminal)"
    )]
    NeedsConfirmation(PathBuf),
    #[error("cancelled: nothing was written to {0}")]
    Cancelled(PathBuf),
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

impl FlashError {
    pub fn io(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| FlashError::Io {
            action,
            path,
            source,
        }
    }
}

pub type Result<T, E = FlashError> = std::result::Result<T, E>;
