//! `store-flash write` to a real loop device (whole device, no partition nodes: they do
//! not appear on these machines, and the tool works with offsets anyway). Needs root and
//! `losetup`; skipped with a printed reason only when `losetup` is not installed.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// A loop device attached to a file, detached when dropped.
struct Loop {
    device: PathBuf,
}

impl Loop {
    fn attach(file: &Path) -> Loop {
        Loop::attach_with(file, &[])
    }

    fn attach_with(file: &Path, flags: &[&str]) -> Loop {
        let out = run_ok(tool("losetup").args(flags).args(["-f", "--show"]).arg(file));
        let name = stdout(&out).trim().to_owned();
        assert!(name.starts_with("/dev/loop"), "losetup printed {name:?}");
        Loop {
            device: PathBuf::from(name),
        }
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").arg("-d").arg(&self.device).status();
    }
}

fn losetup_available() -> bool {
    let found = Command::new("losetup").arg("--version").output().is_ok();
    if !found {
        println!("skipped: losetup is not installed (apt-get install -y mount)");
    }
    found
}

#[test]
fn flashes_a_loop_device_like_a_file() {
    if !losetup_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let image = build_image(dir.path(), "store-node", "config");
    let backing = target_file(dir.path(), "usb.img", 16 << 20);
    let lo = Loop::attach(&backing);

    let out = flash(
        &image.zst,
        &lo.device,
        &["--sha256", image.sha256_file.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!("verified (sha256 {})", image.sha256)),
        "{}",
        stdout(&out)
    );
    let dump = sfdisk_dump(&lo.device);
    assert_eq!(
        partition_lines(&dump),
        partition_lines(&sfdisk_dump(&image.raw))
    );
    assert_eq!(last_lba(&dump), (16 << 20) / 512 - 34);
    let toml = fat_file(&lo.device, CONFIG_START * 512, "enroll.toml");
    assert!(
        toml.contains(&format!("code = \"{CODE_NORMALISED}\"")),
        "{toml}"
    );

    // The same bytes reached the backing file.
    drop(lo);
    let toml = fat_file(&backing, CONFIG_START * 512, "enroll.toml");
    assert!(toml.contains(CODE_NORMALISED), "{toml}");
    sfdisk_dump(&backing);
}

#[test]
fn a_too_small_loop_device_is_refused_untouched() {
    if !losetup_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let image = build_image(dir.path(), "store-node", "config");
    let backing = target_file(dir.path(), "small.img", 8 << 20);
    let before = std::fs::read(&backing).unwrap();
    let lo = Loop::attach(&backing);
    let line = error_line(&flash(&image.zst, &lo.device, &[]));
    assert!(line.contains("is too small"), "{line}");
    assert!(line.contains("8.0 MiB (8388608 bytes)"), "{line}");
    drop(lo);
    assert!(
        std::fs::read(&backing).unwrap() == before,
        "backing file modified"
    );
}

#[test]
fn a_mounted_loop_device_is_refused() {
    if !losetup_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let image = build_image(dir.path(), "store-node", "config");
    let backing = dir.path().join("mounted.img");
    std::fs::File::create(&backing)
        .unwrap()
        .set_len(16 << 20)
        .unwrap();
    run_ok(tool("mkfs.ext4").args(["-q", "-F"]).arg(&backing));
    let lo = Loop::attach(&backing);
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let mounted = Command::new("mount")
        .arg(&lo.device)
        .arg(&mnt)
        .output()
        .unwrap();
    if !mounted.status.success() {
        println!("skipped: cannot mount here: {}", stderr(&mounted));
        return;
    }
    let out = flash(&image.zst, &lo.device, &[]);
    let _ = Command::new("umount").arg(&mnt).status();
    let line = error_line(&out);
    assert!(line.contains("is mounted"), "{line}");
    assert!(
        line.contains(&format!("umount {}", mnt.display())),
        "{line}"
    );
}

#[test]
fn a_write_protected_loop_device_is_refused() {
    if !losetup_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let image = build_image(dir.path(), "store-node", "config");
    let backing = target_file(dir.path(), "locked.img", 16 << 20);
    let before = std::fs::read(&backing).unwrap();
    let lo = Loop::attach_with(&backing, &["--read-only"]);
    let line = error_line(&flash(&image.zst, &lo.device, &[]));
    assert!(line.contains("is write-protected"), "{line}");
    drop(lo);
    assert!(
        std::fs::read(&backing).unwrap() == before,
        "backing file modified"
    );
}
