//! Writing a checked image to a target and proving it landed: open the target (refusing
//! the system disk, mounted disks and fixed disks), write in 4 MiB chunks hashing as it
//! goes, fsync, drop the caches, read back and compare sha256, move the backup GPT to the
//! end of a larger target, then put `enroll.toml` on the `config` partition.
//!
//! provisioning.md measured this shape at 873 MiB in 5–8 s to a loop device, verification
//! included.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::disks::{self, Disk, Transport};
use crate::enroll::Enrollment;
use crate::error::{FlashError, Result};
use crate::image::{CHUNK, CheckedImage, Chunks, SECTOR};
use crate::progress::Progress;
use crate::size::Size;
use crate::sys;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    File,
    Loop,
    Disk,
}

/// An opened target: a regular file, a loop device or a whole disk.
#[derive(Debug)]
pub struct Target {
    pub path: PathBuf,
    pub file: File,
    pub kind: TargetKind,
    pub size: u64,
    /// sysfs description, for block devices.
    pub disk: Option<Disk>,
}

impl Target {
    /// Opens `path` for writing after the safety checks. Regular files and loop devices
    /// need no flag; a disk must be removable (USB, SD) unless `force_not_removable`.
    /// The system disk and mounted disks are refused whatever the flags.
    pub fn open(path: &Path, force_not_removable: bool) -> Result<Target> {
        let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => FlashError::MissingDevice(path.to_path_buf()),
            _ => FlashError::io("inspect", path)(e),
        })?;
        let file_type = meta.file_type();
        if file_type.is_file() {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .open(path)
                .map_err(FlashError::io("open", path))?;
            return Ok(Target {
                path: path.to_path_buf(),
                file,
                kind: TargetKind::File,
                size: meta.len(),
                disk: None,
            });
        }
        if !file_type.is_block_device() {
            return Err(FlashError::NotADisk(path.to_path_buf()));
        }
        let dev = sys::dev_name(meta.rdev());
        let sys_path = std::fs::canonicalize(Path::new("/sys/dev/block").join(&dev))
            .map_err(FlashError::io("find in /sys/dev/block", path))?;
        if sys_path.join("partition").exists() {
            let disk = sys_path
                .parent()
                .and_then(|p| p.file_name())
                .map(|n| Path::new("/dev").join(n))
                .unwrap_or_else(|| PathBuf::from("/dev/sdX"));
            return Err(FlashError::Partition {
                path: path.to_path_buf(),
                disk,
            });
        }
        let name = sys_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let disk = Disk::from_sysfs(&name).ok_or_else(|| FlashError::NotADisk(path.into()))?;
        if disk.read_only {
            return Err(FlashError::ReadOnly(path.to_path_buf()));
        }
        if disks::system_disks().contains(&name) {
            return Err(FlashError::SystemDisk(path.to_path_buf()));
        }
        let mounts = disks::mount_points_on(&name);
        if !mounts.is_empty() {
            let example = mounts
                .iter()
                .find(|m| !m.starts_with("swap "))
                .cloned()
                .unwrap_or_else(|| "…".into());
            return Err(FlashError::Mounted {
                path: path.to_path_buf(),
                mounts: mounts.join(", "),
                example,
            });
        }
        let kind = if disk.transport == Transport::Loop {
            TargetKind::Loop
        } else {
            TargetKind::Disk
        };
        if kind == TargetKind::Disk && !disk.is_removable() && !force_not_removable {
            return Err(FlashError::NotRemovable(path.to_path_buf()));
        }
        // O_EXCL on a block device: the kernel refuses it while anything holds the
        // device (a mounted filesystem, LVM, RAID), and keeps others from claiming it
        // while we write.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(rustix::fs::OFlags::EXCL.bits() as i32)
            .open(path)
            .map_err(|e| match e.raw_os_error() {
                Some(code) if code == rustix::io::Errno::BUSY.raw_os_error() => {
                    FlashError::InUse(path.to_path_buf())
                }
                _ => FlashError::io("open", path)(e),
            })?;
        let sector = sys::logical_sector_size(&file).map_err(FlashError::io("query", path))?;
        if u64::from(sector) != SECTOR {
            return Err(FlashError::SectorSize {
                path: path.to_path_buf(),
                sector,
            });
        }
        let size = file
            .seek(SeekFrom::End(0))
            .map_err(FlashError::io("measure", path))?;
        Ok(Target {
            path: path.to_path_buf(),
            file,
            kind,
            size,
            disk: Some(disk),
        })
    }

    /// A regular-file target must not be the image file (it would be read while
    /// overwritten).
    pub fn ensure_not_image(&self, image_path: &Path) -> Result<()> {
        let (Ok(target), Ok(image)) = (self.file.metadata(), std::fs::metadata(image_path)) else {
            return Ok(());
        };
        if target.dev() == image.dev() && target.ino() == image.ino() {
            return Err(FlashError::TargetIsImage(self.path.clone()));
        }
        Ok(())
    }

    pub fn ensure_fits(&self, image: &CheckedImage) -> Result<()> {
        if self.size == 0 && self.kind != TargetKind::File {
            return Err(FlashError::NoMedium(self.path.clone()));
        }
        if image.raw_size > self.size {
            return Err(FlashError::TooSmall {
                path: self.path.clone(),
                device: Size(self.size),
                image: Size(image.raw_size),
            });
        }
        Ok(())
    }

    /// Decompresses the image onto the target; returns the sha256 of what was written.
    pub fn write_image(&mut self, image: &CheckedImage) -> Result<[u8; 32]> {
        let (mut chunks, _) = Chunks::start(&image.path)?;
        let mut progress = Progress::start("writing", image.raw_size);
        let result = (|| {
            let mut hasher = Sha256::new();
            self.file
                .seek(SeekFrom::Start(0))
                .map_err(FlashError::io("seek", &self.path))?;
            while let Some(buf) = chunks.next_chunk() {
                let buf = buf?;
                hasher.update(&buf);
                self.file
                    .write_all(&buf)
                    .map_err(FlashError::io("write to", &self.path))?;
                progress.advance(buf.len() as u64);
                chunks.recycle(buf);
            }
            Ok::<_, FlashError>(hasher.finalize().into())
        })();
        match result {
            Ok(sum) => {
                progress.finish("written");
                if sum != image.sha256 {
                    return Err(FlashError::ImageChanged {
                        path: image.path.clone(),
                        first: hex::encode(image.sha256),
                        second: hex::encode(sum),
                    });
                }
                Ok(sum)
            }
            Err(e) => {
                progress.abandon();
                Err(e)
            }
        }
    }

    /// fsync, then drop every cached page of the target so the read-back below comes
    /// from the device and not from memory.
    pub fn sync_and_drop_caches(&mut self) -> Result<()> {
        self.file
            .sync_all()
            .map_err(FlashError::io("flush", &self.path))?;
        sys::drop_cached_pages(&self.file)
            .map_err(FlashError::io("drop the cache of", &self.path))?;
        if self.kind != TargetKind::File {
            sys::flush_block_buffers(&self.file)
                .map_err(FlashError::io("flush the buffers of", &self.path))?;
        }
        if self.kind == TargetKind::Loop {
            self.drop_backing_file_cache()?;
        }
        Ok(())
    }

    /// A loop device reads through its backing file's page cache, so dropping the
    /// device's own cache alone would verify memory, not the disk under the file.
    fn drop_backing_file_cache(&self) -> Result<()> {
        let Some(disk) = &self.disk else {
            return Ok(());
        };
        let sysfs = Path::new("/sys/block")
            .join(&disk.name)
            .join("loop/backing_file");
        let Ok(backing) = std::fs::read_to_string(&sysfs) else {
            return Ok(());
        };
        let backing = PathBuf::from(backing.trim_end_matches('\n'));
        // A deleted backing file shows as "path (deleted)": nothing to open then.
        if let Ok(file) = File::open(&backing) {
            file.sync_all().map_err(FlashError::io("flush", &backing))?;
            sys::drop_cached_pages(&file).map_err(FlashError::io("drop the cache of", &backing))?;
        }
        Ok(())
    }

    /// Reads the image's length back from the target and compares its sha256.
    pub fn verify(&mut self, image: &CheckedImage, written: [u8; 32]) -> Result<()> {
        let mut progress = Progress::start("verifying", image.raw_size);
        let result = (|| {
            let mut buf = vec![0u8; CHUNK];
            let mut hasher = Sha256::new();
            self.file
                .seek(SeekFrom::Start(0))
                .map_err(FlashError::io("seek", &self.path))?;
            let mut left = image.raw_size;
            while left > 0 {
                let n = (left.min(CHUNK as u64)) as usize;
                self.file
                    .read_exact(&mut buf[..n])
                    .map_err(FlashError::io("read back", &self.path))?;
                hasher.update(&buf[..n]);
                left -= n as u64;
                progress.advance(n as u64);
            }
            Ok::<[u8; 32], FlashError>(hasher.finalize().into())
        })();
        match result {
            Ok(sum) => {
                progress.finish("verified");
                if sum != written {
                    return Err(FlashError::VerifyFailed {
                        path: self.path.clone(),
                        expected: hex::encode(written),
                        actual: hex::encode(sum),
                    });
                }
                Ok(())
            }
            Err(e) => {
                progress.abandon();
                Err(e)
            }
        }
    }

    /// On a target larger than the image, the backup GPT written with the image sits in
    /// the middle of the disk. Rewrites it (header and partition array) in the last 33
    /// sectors, updates the primary header (backup location, last usable sector) and the
    /// protective MBR, keeps every partition, and blanks the stale backup header.
    /// Returns whether anything moved.
    pub fn relocate_backup_gpt(&mut self, image: &CheckedImage) -> Result<bool> {
        let sectors = self.size / SECTOR;
        if sectors <= image.raw_size.div_ceil(SECTOR) {
            return Ok(false);
        }
        let gpt_err = |e: gpt::GptError| FlashError::Io {
            action: "rewrite the partition table of",
            path: self.path.clone(),
            source: io::Error::other(e.to_string()),
        };
        self.file
            .seek(SeekFrom::Start(0))
            .map_err(FlashError::io("seek", &self.path))?;
        let mut disk = gpt::GptConfig::new()
            .writable(true)
            .logical_block_size(gpt::disk::LogicalBlockSize::Lb512)
            .open_from_device(&mut self.file)
            .map_err(gpt_err)?;
        let old_backup = disk
            .primary_header()
            .map_err(|_| FlashError::NoGpt)?
            .backup_lba;
        if old_backup == sectors - 1 {
            return Ok(false);
        }
        // Re-setting the same partitions makes the gpt crate recompute both headers for
        // the device's real end (backup at the last sector, last usable before its array).
        let partitions = disk.partitions().clone();
        disk.update_partitions(partitions).map_err(gpt_err)?;
        disk.write_inplace().map_err(gpt_err)?;
        drop(disk);

        let zero = [0u8; SECTOR as usize];
        self.write_at(old_backup * SECTOR, &zero)?;
        // Protective MBR: its one 0xEE entry covers the disk (capped at 2^32 - 1 sectors).
        let mut mbr = [0u8; SECTOR as usize];
        self.read_at(0, &mut mbr)?;
        if mbr[450] == 0xEE {
            let covered = (sectors - 1).min(u64::from(u32::MAX)) as u32;
            mbr[458..462].copy_from_slice(&covered.to_le_bytes());
            self.write_at(0, &mbr)?;
        }
        Ok(true)
    }

    pub fn write_enrollment(
        &mut self,
        image: &CheckedImage,
        enrollment: &Enrollment,
    ) -> Result<()> {
        enrollment.write_to_partition(&mut self.file, image.config_offset, image.config_len)
    }

    pub fn sync(&mut self) -> Result<()> {
        self.file
            .sync_all()
            .map_err(FlashError::io("flush", &self.path))
    }

    fn write_at(&mut self, offset: u64, bytes: &[u8]) -> Result<()> {
        self.file
            .seek(SeekFrom::Start(offset))
            .and_then(|_| self.file.write_all(bytes))
            .map_err(FlashError::io("write to", &self.path))
    }

    fn read_at(&mut self, offset: u64, bytes: &mut [u8]) -> Result<()> {
        self.file
            .seek(SeekFrom::Start(offset))
            .and_then(|_| self.file.read_exact(bytes))
            .map_err(FlashError::io("read", &self.path))
    }
}
