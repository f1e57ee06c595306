//! The few system calls beyond `std`: dropping a device's cached pages so the read-back
//! comes from the device, and asking a block device for its sector size.
//!
//! rustix wraps `posix_fadvise` and `BLKSSZGET` safely, but has no safe wrapper for
//! `BLKFLSBUF`; `flush_block_buffers` is the crate's one unsafe call (the crate's lints
//! say `unsafe_code = "deny"` instead of the workspace's `forbid` for this reason).

use std::fs::File;
use std::io;

use rustix::fs::Advice;

/// Drops the clean cached pages of `file` (after an fsync every page is clean), so the
/// next read goes to the device instead of the page cache.
pub fn drop_cached_pages(file: &File) -> io::Result<()> {
    rustix::fs::fadvise(file, 0, None, Advice::DontNeed)?;
    Ok(())
}

/// `BLKFLSBUF`: writes back and invalidates the block device's buffer cache (what
/// `blockdev --flushbufs` does). Only for block devices; a regular file returns ENOTTY.
#[allow(unsafe_code)]
pub fn flush_block_buffers(file: &File) -> io::Result<()> {
    // _IO(0x12, 97) in <linux/fs.h>; it takes no argument.
    const BLKFLSBUF: rustix::ioctl::Opcode = rustix::ioctl::opcode::none(0x12, 97);
    // SAFETY: BLKFLSBUF is a no-argument ioctl (the kernel reads no pointer from us), and
    // `file` is an open descriptor that outlives the call.
    unsafe {
        rustix::ioctl::ioctl(file, rustix::ioctl::NoArg::<BLKFLSBUF>::new())?;
    }
    Ok(())
}

/// The logical sector size of a block device (`BLKSSZGET`).
pub fn logical_sector_size(file: &File) -> io::Result<u32> {
    Ok(rustix::fs::ioctl_blksszget(file)?)
}

/// `major:minor` of a device number, as sysfs spells it under /sys/dev/block.
pub fn dev_name(rdev: u64) -> String {
    format!("{}:{}", rustix::fs::major(rdev), rustix::fs::minor(rdev))
}
