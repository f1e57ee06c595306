//! `store-flash write` to regular files: a good flash (read-back hash, backup GPT at the
//! end, enroll.toml on the config partition), and every refusal, each with its sentence,
//! a non-zero exit and the target left byte for byte as it was.

mod common;

use common::*;

#[test]
fn flashes_a_larger_file_verifies_moves_the_backup_gpt_and_writes_the_code() {
    let dir = tempfile::tempdir().unwrap();
    let image = build_image(dir.path(), "store-node", "config");
    let target = target_file(dir.path(), "usb.img", 16 << 20);
    let ca = dir.path().join("ca.pem");
    std::fs::write(
        &ca,
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    )
    .unwrap();

    let out = flash(
        &image.zst,
        &target,
        &[
            "--sha256",
            image.sha256_file.to_str().unwrap(),
            "--ca-file",
            ca.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!("verified (sha256 {})", image.sha256)),
        "{}",
        stdout(&out)
    );
    let log = stderr(&out);
    for phase in [
        "checked:",
        "written:",
        "flushed:",
        "verified:",
        "write, flush and verify:",
    ] {
        assert!(log.contains(phase), "no {phase:?} line in {log}");
    }

    // Partitions as in the image; the backup GPT and last usable sector at the end of
    // the 16 MiB target (the backup array takes 32 sectors, its header the last one).
    let image_dump = sfdisk_dump(&image.raw);
    let dump = sfdisk_dump(&target);
    assert_eq!(partition_lines(&dump), partition_lines(&image_dump));
    assert_eq!(last_lba(&dump), (16 << 20) / 512 - 34);
    assert_eq!(last_lba(&image_dump), IMAGE_SECTORS - 34);

    // Everything from the first partition to the end of the image is the image's.
    let start = 2048 * 512;
    let flashed = std::fs::read(&target).unwrap();
    let raw = std::fs::read(&image.raw).unwrap();
    let config = (CONFIG_START * 512) as usize..(ROOT_A_START * 512) as usize;
    assert_eq!(flashed[start..config.start], raw[start..config.start]);
    assert_eq!(
        flashed[config.end..(IMAGE_SECTORS as usize - 34) * 512],
        raw[config.end..(IMAGE_SECTORS as usize - 34) * 512]
    );

    let toml = fat_file(&target, CONFIG_START * 512, "enroll.toml");
    assert!(
        toml.contains(&format!("code = \"{CODE_NORMALISED}\"")),
        "{toml}"
    );
    assert!(toml.contains(&format!("hub = \"{HUB}\"")), "{toml}");
    assert!(toml.contains("ca_file = \"hub-ca.pem\""), "{toml}");
    assert_eq!(
        fat_file(&target, CONFIG_START * 512, "hub-ca.pem"),
        std::fs::read_to_string(&ca).unwrap()
    );
}

#[test]
fn a_target_of_the_image_size_needs_no_gpt_move() {
    let dir = tempfile::tempdir().unwrap();
    let image = build_image(dir.path(), "store-node", "config");
    let target = target_file(dir.path(), "same.img", image.size);
    let out = flash(&image.zst, &target, &["--sha256", &image.sha256]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !stdout(&out).contains("backup partition table"),
        "{}",
        stdout(&out)
    );
    let dump = sfdisk_dump(&target);
    assert_eq!(last_lba(&dump), IMAGE_SECTORS - 34);
    let toml = fat_file(&target, CONFIG_START * 512, "enroll.toml");
    assert!(toml.contains(CODE_NORMALISED), "{toml}");
    assert!(!toml.contains("ca_file"), "{toml}");
}

/// Runs a flash that must fail; returns its error line after checking the target is
/// byte for byte what it was.
fn refused(image: &std::path::Path, target: &std::path::Path, extra: &[&str]) -> String {
    let before = std::fs::read(target).unwrap();
    let out = flash(image, target, extra);
    let line = error_line(&out);
    assert!(
        std::fs::read(target).unwrap() == before,
        "{} was modified",
        target.display()
    );
    line
}

#[test]
fn a_truncated_image_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let image = build_image(dir.path(), "store-node", "config");
    let bytes = std::fs::read(&image.zst).unwrap();
    let truncated = dir.path().join("truncated.img.zst");
    std::fs::write(&truncated, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let target = target_file(dir.path(), "usb.img", 16 << 20);
    let line = refused(&truncated, &target, &[]);
    assert!(line.contains("truncated.img.zst is truncated"), "{line}");
}

#[test]
fn a_corrupted_image_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let image = build_image(dir.path(), "store-node", "config");
    let mut bytes = std::fs::read(&image.zst).unwrap();
    let middle = bytes.len() / 2;
    for b in &mut bytes[middle..middle + 16] {
        *b ^= 0x5a;
    }
    let corrupt = dir.path().join("corrupt.img.zst");
    std::fs::write(&corrupt, &bytes).unwrap();
    let target = target_file(dir.path(), "usb.img", 16 << 20);
    let line = refused(&corrupt, &target, &[]);
    assert!(line.contains("corrupt.img.zst is corrupt"), "{line}");

    // Not zstd at all.
    let line = refused(&image.raw, &target, &[]);
    assert!(line.contains("is corrupt"), "{line}");
}

#[test]
fn a_wrong_sha256_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let image = build_image(dir.path(), "store-node", "config");
    let target = target_file(dir.path(), "usb.img", 16 << 20);
    let wrong = "0".repeat(64);
    let line = refused(&image.zst, &target, &["--sha256", &wrong]);
    assert!(line.contains("does not match its sha256"), "{line}");
    assert!(
        line.contains(&wrong) && line.contains(&image.sha256),
        "{line}"
    );

    let file = dir.path().join("wrong.sha256");
    std::fs::write(&file, format!("{wrong}  store-node.img\n")).unwrap();
    let line = refused(&image.zst, &target, &["--sha256", file.to_str().unwrap()]);
    assert!(line.contains("does not match its sha256"), "{line}");

    let line = refused(&image.zst, &target, &["--sha256", "abc"]);
    assert!(line.contains("is not a sha256"), "{line}");
}

#[test]
fn a_too_small_target_is_refused_with_both_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let image = build_image(dir.path(), "store-node", "config");
    let target = target_file(dir.path(), "small.img", 8 << 20);
    let line = refused(&image.zst, &target, &[]);
    assert!(line.contains("small.img is too small"), "{line}");
    assert!(line.contains("8.0 MiB (8388608 bytes)"), "{line}");
    assert!(line.contains("12.0 MiB (12582912 bytes)"), "{line}");
}

#[test]
fn a_missing_device_or_a_wrong_target_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let image = build_image(dir.path(), "store-node", "config");
    let missing = dir.path().join("no-such-disk");
    let line = error_line(&flash(&image.zst, &missing, &[]));
    assert!(line.contains("no-such-disk does not exist"), "{line}");
    assert!(!missing.exists());
    let line = error_line(&flash(&image.zst, std::path::Path::new("/dev/sdzz"), &[]));
    assert!(line.contains("/dev/sdzz does not exist"), "{line}");
    let line = error_line(&flash(&image.zst, std::path::Path::new("/dev/null"), &[]));
    assert!(
        line.contains("/dev/null is neither a disk nor a regular file"),
        "{line}"
    );
    let before = std::fs::read(&image.zst).unwrap();
    let line = error_line(&flash(&image.zst, &image.zst, &[]));
    assert!(line.contains("is the image itself"), "{line}");
    assert!(std::fs::read(&image.zst).unwrap() == before);
}

#[test]
fn an_image_without_a_config_partition_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let image = build_image(dir.path(), "other", "settings");
    let target = target_file(dir.path(), "usb.img", 16 << 20);
    let line = refused(&image.zst, &target, &[]);
    assert!(line.contains("no partition named `config`"), "{line}");
}

#[test]
fn bad_codes_hubs_and_ca_files_are_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let image = build_image(dir.path(), "store-node", "config");
    let target = target_file(dir.path(), "usb.img", 16 << 20);
    let before = std::fs::read(&target).unwrap();
    let run = |hub: &str, code: &str, extra: &[&str]| {
        store_flash()
            .arg("write")
            .arg("--image")
            .arg(&image.zst)
            .arg("--device")
            .arg(&target)
            .args(["--hub", hub, "--code", code, "--yes"])
            .args(extra)
            .output()
            .unwrap()
    };
    let line = error_line(&run(HUB, "K7QM-3XP0", &[]));
    assert!(line.contains("is not a pairing code"), "{line}");
    let line = error_line(&run("hub.example.com", CODE, &[]));
    assert!(line.contains("is not a hub URL"), "{line}");
    let not_pem = dir.path().join("ca.txt");
    std::fs::write(&not_pem, "hello").unwrap();
    let line = error_line(&run(HUB, CODE, &["--ca-file", not_pem.to_str().unwrap()]));
    assert!(line.contains("is not a PEM certificate file"), "{line}");
    assert!(std::fs::read(&target).unwrap() == before, "target modified");
}

#[test]
fn without_a_terminal_it_asks_for_yes() {
    let dir = tempfile::tempdir().unwrap();
    let image = build_image(dir.path(), "store-node", "config");
    let target = target_file(dir.path(), "usb.img", 16 << 20);
    let before = std::fs::read(&target).unwrap();
    let out = store_flash()
        .arg("write")
        .arg("--image")
        .arg(&image.zst)
        .arg("--device")
        .arg(&target)
        .args(["--hub", HUB, "--code", CODE])
        .output()
        .unwrap();
    let line = error_line(&out);
    assert!(line.contains("add --yes"), "{line}");
    assert!(std::fs::read(&target).unwrap() == before, "target modified");
}

#[test]
fn the_system_disk_is_refused_and_never_listed() {
    // The disk holding / (absent when / is not on a block device, e.g. an overlay).
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let root_dev = mountinfo
        .lines()
        .find(|l| l.split(' ').nth(4) == Some("/"))
        .and_then(|l| l.split(' ').nth(2))
        .unwrap()
        .to_owned();
    let Ok(sys) = std::fs::canonicalize(format!("/sys/dev/block/{root_dev}")) else {
        println!("skipped: / is not on a block device ({root_dev})");
        return;
    };
    let disk_dir = if sys.join("partition").exists() {
        sys.parent().unwrap().to_path_buf()
    } else {
        sys
    };
    if disk_dir
        .join("slaves")
        .read_dir()
        .map(|mut d| d.next().is_some())
        .unwrap_or(false)
    {
        println!("skipped: / is on a stacked device; the unit tests cover the walk");
        return;
    }
    let name = disk_dir.file_name().unwrap().to_string_lossy().into_owned();
    let dev = std::path::PathBuf::from("/dev").join(&name);
    if !dev.exists() {
        println!("skipped: {} has no device node", dev.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let image = build_image(dir.path(), "store-node", "config");
    let line = error_line(&flash(&image.zst, &dev, &["--force-not-removable"]));
    assert!(line.contains("holds the running system"), "{line}");

    let out = run_ok(store_flash().arg("list"));
    assert!(
        !stdout(&out).contains(&format!("{} ", dev.display())),
        "{}",
        stdout(&out)
    );
}

#[test]
fn an_image_with_empty_gpt_slots_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let image = build_image(dir.path(), "gappy", "config");
    // Slot 4 (root-b) emptied: `data` stays partition 5.
    run_ok(
        tool("sfdisk")
            .arg("-q")
            .arg("--delete")
            .arg(&image.raw)
            .arg("4"),
    );
    run_ok(
        tool("zstd")
            .args(["-q", "-f", "-3"])
            .arg(&image.raw)
            .arg("-o")
            .arg(&image.zst),
    );
    let target = target_file(dir.path(), "usb.img", 16 << 20);
    let line = refused(&image.zst, &target, &[]);
    assert!(
        line.contains("empty slots between its partitions"),
        "{line}"
    );
}
