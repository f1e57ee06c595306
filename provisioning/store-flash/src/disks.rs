//! What the machine's disks are, from sysfs and /proc: which are removable, which one
//! holds the running system, and which are mounted.
//!
//! Everything is resolved to the sysfs name of a whole disk (`sda`, `mmcblk0`, `loop3`):
//! a partition resolves to its disk, and a device-mapper or RAID device (LVM, LUKS, md)
//! to the disks under it (`/sys/block/X/slaves`), so a root filesystem on LVM on `sda`
//! still marks `sda` as the system disk.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// Mount points whose disks count as "the system": overwriting any of them breaks the
/// running machine.
const SYSTEM_MOUNTS: [&str; 5] = ["/", "/boot", "/boot/efi", "/usr", "/var"];

/// A whole disk as sysfs describes it.
#[derive(Debug, Clone)]
pub struct Disk {
    /// sysfs name, also the name under /dev.
    pub name: String,
    pub size_bytes: u64,
    pub removable: bool,
    /// Write-protected (a locked SD card, an optical drive).
    pub read_only: bool,
    pub transport: Transport,
    pub vendor: String,
    pub model: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Usb,
    /// An SD card in a card reader on the MMC bus.
    Sd,
    Loop,
    Other,
}

impl Transport {
    pub fn label(self) -> &'static str {
        match self {
            Transport::Usb => "usb",
            Transport::Sd => "sd",
            Transport::Loop => "loop",
            Transport::Other => "-",
        }
    }
}

impl Disk {
    pub fn dev_path(&self) -> PathBuf {
        Path::new("/dev").join(&self.name)
    }

    /// A disk an installer may flash without `--force-not-removable`.
    pub fn is_removable(&self) -> bool {
        self.removable || matches!(self.transport, Transport::Usb | Transport::Sd)
    }

    /// Reads `/sys/block/<name>`.
    pub fn from_sysfs(name: &str) -> Option<Disk> {
        let dir = Path::new("/sys/block").join(name);
        let sectors: u64 = read_trimmed(&dir.join("size"))?.parse().ok()?;
        let device = fs::canonicalize(dir.join("device")).ok();
        let device_path = device
            .as_deref()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let transport = if name.starts_with("loop") {
            Transport::Loop
        } else if device_path.contains("/usb") {
            Transport::Usb
        } else if read_trimmed(&dir.join("device/type")).as_deref() == Some("SD") {
            Transport::Sd
        } else {
            Transport::Other
        };
        Some(Disk {
            name: name.to_owned(),
            // sysfs counts 512-byte units whatever the device's sector size.
            size_bytes: sectors * 512,
            removable: read_trimmed(&dir.join("removable")).as_deref() == Some("1"),
            read_only: read_trimmed(&dir.join("ro")).as_deref() == Some("1"),
            transport,
            vendor: read_trimmed(&dir.join("device/vendor")).unwrap_or_default(),
            model: read_trimmed(&dir.join("device/model"))
                .or_else(|| read_trimmed(&dir.join("device/name")))
                .unwrap_or_default(),
        })
    }
}

fn read_trimmed(path: &Path) -> Option<String> {
    let text = fs::read_to_string(path).ok()?;
    Some(text.trim().to_owned())
}

/// Every whole disk in /sys/block, sorted by name.
pub fn all_disks() -> Vec<Disk> {
    let Ok(entries) = fs::read_dir("/sys/block") else {
        return Vec::new();
    };
    let mut disks: Vec<Disk> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| Disk::from_sysfs(&e.file_name().to_string_lossy()))
        .collect();
    disks.sort_by(|a, b| a.name.cmp(&b.name));
    disks
}

/// The disks an installer can flash: removable (USB, SD or the removable flag), writable
/// (no optical drives), not holding the running system.
pub fn removable_disks() -> Vec<Disk> {
    let system = system_disks();
    all_disks()
        .into_iter()
        .filter(|d| d.is_removable() && !d.read_only && !system.contains(&d.name))
        .collect()
}

/// The whole disks under a device number (`major:minor`): the disk itself or the disk a
/// partition is on, and for device-mapper or md devices, the disks beneath them.
pub fn disks_under(dev: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    if let Ok(path) = fs::canonicalize(Path::new("/sys/dev/block").join(dev)) {
        collect_disks(&path, &mut out, 0);
    }
    out
}

fn collect_disks(sys_path: &Path, out: &mut BTreeSet<String>, depth: u32) {
    if depth > 8 {
        return;
    }
    // A partition's sysfs directory sits inside its disk's and has a `partition` file.
    let disk_dir = if sys_path.join("partition").exists() {
        match sys_path.parent() {
            Some(parent) => parent.to_path_buf(),
            None => return,
        }
    } else {
        sys_path.to_path_buf()
    };
    let Some(name) = disk_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
    else {
        return;
    };
    let mut has_slaves = false;
    for slaves_dir in [sys_path.join("slaves"), disk_dir.join("slaves")] {
        if let Ok(entries) = fs::read_dir(&slaves_dir) {
            for entry in entries.filter_map(|e| e.ok()) {
                if let Ok(slave) = fs::canonicalize(entry.path()) {
                    has_slaves = true;
                    collect_disks(&slave, out, depth + 1);
                }
            }
        }
    }
    if !has_slaves {
        out.insert(name);
    }
}

/// One line of /proc/self/mountinfo that matters here.
#[derive(Debug, Clone)]
pub struct Mount {
    /// `major:minor` of the mounted device.
    pub dev: String,
    pub mount_point: String,
}

pub fn mounts() -> Vec<Mount> {
    let Ok(text) = fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split(' ');
            let dev = fields.nth(2)?.to_owned();
            let mount_point = unescape_mount(fields.nth(1)?);
            Some(Mount { dev, mount_point })
        })
        .collect()
}

/// mountinfo escapes space, tab, newline and backslash as `\040` and so on.
fn unescape_mount(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 4 <= bytes.len() {
            let octal = std::str::from_utf8(&bytes[i + 1..i + 4]).ok();
            if let Some(value) = octal.and_then(|o| u8::from_str_radix(o, 8).ok()) {
                out.push(value);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The disks holding `/` (and /boot, /usr, /var when they are separate).
pub fn system_disks() -> BTreeSet<String> {
    mounts()
        .iter()
        .filter(|m| SYSTEM_MOUNTS.contains(&m.mount_point.as_str()))
        .flat_map(|m| disks_under(&m.dev))
        .collect()
}

/// Where anything on `disk` is mounted or used as swap.
pub fn mount_points_on(disk: &str) -> Vec<String> {
    let mut points: Vec<String> = mounts()
        .into_iter()
        .filter(|m| disks_under(&m.dev).contains(disk))
        .map(|m| m.mount_point)
        .collect();
    if let Ok(swaps) = fs::read_to_string("/proc/swaps") {
        for line in swaps.lines().skip(1) {
            let Some(device) = line.split_whitespace().next() else {
                continue;
            };
            if let Ok(meta) = fs::metadata(device) {
                use std::os::unix::fs::{FileTypeExt, MetadataExt};
                if meta.file_type().is_block_device()
                    && disks_under(&crate::sys::dev_name(meta.rdev())).contains(disk)
                {
                    points.push(format!("swap {device}"));
                }
            }
        }
    }
    points
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes_are_undone() {
        assert_eq!(unescape_mount("/media/USB\\040DISK"), "/media/USB DISK");
        assert_eq!(unescape_mount("/"), "/");
        assert_eq!(unescape_mount("/a\\134b"), "/a\\b");
    }

    #[test]
    fn this_machine_has_a_system_disk_that_is_never_listed() {
        // Inside a container / may be an overlay with no disk; then there is nothing to check.
        let system = system_disks();
        for disk in removable_disks() {
            assert!(!system.contains(&disk.name), "{} listed", disk.name);
        }
    }
}
