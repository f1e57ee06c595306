//! Builds small store-node-shaped disk images for the tests with the same tools the image
//! build uses (sfdisk, mkfs.vfat, zstd; mtype to read FAT back), and runs the real
//! `store-flash` binary.
//!
//! The layout follows docs/enrollment.md at a small scale: GPT with `ESP` (2 MiB),
//! `config` (2 MiB FAT, label STORECFG), `root-a` (4 MiB of half-random data), `root-b`
//! (1 MiB) and `data` (the rest); 12 MiB in all.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use sha2::{Digest, Sha256};

pub const CODE: &str = "k7qm 3xpd";
pub const CODE_NORMALISED: &str = "K7QM-3XPD";
pub const HUB: &str = "https://hub.example.com";

pub const IMAGE_SECTORS: u64 = 24576; // 12 MiB
pub const CONFIG_START: u64 = 6144;
pub const ROOT_A_START: u64 = 10240;

pub struct TestImage {
    pub raw: PathBuf,
    pub zst: PathBuf,
    pub sha256_file: PathBuf,
    pub sha256: String,
    pub size: u64,
}

/// Fails the test with a clear word when a tool is missing.
pub fn tool(name: &str) -> Command {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(name).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "`{name}` is missing: apt-get install -y fdisk dosfstools mtools zstd"
    );
    Command::new(name)
}

pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("spawn");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn sfdisk(disk: &Path, script: &str) {
    let mut child = tool("sfdisk")
        .arg("-q")
        .arg(disk)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sfdisk");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "sfdisk: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A deterministic mix of pseudo-random and zero bytes, so the image compresses
/// somewhat and a read-back of the wrong bytes cannot pass by accident.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = vec![0u8; len];
    for (i, chunk) in out.chunks_mut(8).enumerate() {
        if (i / 512) % 2 == 0 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let bytes = x.to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
    out
}

fn write_at(path: &Path, offset: u64, bytes: &[u8]) {
    use std::io::{Seek, SeekFrom};
    let mut f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.seek(SeekFrom::Start(offset)).unwrap();
    f.write_all(bytes).unwrap();
}

/// Builds `<name>.img`, `<name>.img.zst` and `<name>.img.sha256` in `dir`.
/// `config_name` is the GPT name of the second partition (`config` in a real image).
pub fn build_image(dir: &Path, name: &str, config_name: &str) -> TestImage {
    let raw = dir.join(format!("{name}.img"));
    std::fs::File::create(&raw)
        .unwrap()
        .set_len(IMAGE_SECTORS * 512)
        .unwrap();
    sfdisk(
        &raw,
        &format!(
            "label: gpt\nunit: sectors\nfirst-lba: 2048\n\
             start=2048, size=4096, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=\"ESP\"\n\
             start={CONFIG_START}, size=4096, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, name=\"{config_name}\"\n\
             start={ROOT_A_START}, size=8192, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name=\"root-a\"\n\
             size=2048, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name=\"root-b\"\n\
             type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=\"data\"\n"
        ),
    );
    let esp = dir.join(format!("{name}-esp.img"));
    let cfg = dir.join(format!("{name}-cfg.img"));
    let _ = std::fs::remove_file(&esp);
    let _ = std::fs::remove_file(&cfg);
    run_ok(
        tool("mkfs.vfat")
            .args(["-n", "ESP", "-C"])
            .arg(&esp)
            .arg("2048"),
    );
    run_ok(
        tool("mkfs.vfat")
            .args(["-n", "STORECFG", "-C"])
            .arg(&cfg)
            .arg("2048"),
    );
    write_at(&raw, 2048 * 512, &std::fs::read(&esp).unwrap());
    write_at(&raw, CONFIG_START * 512, &std::fs::read(&cfg).unwrap());
    write_at(&raw, ROOT_A_START * 512, &pattern(4 << 20, 0x5eed));
    let zst = dir.join(format!("{name}.img.zst"));
    run_ok(
        tool("zstd")
            .args(["-q", "-f", "-3"])
            .arg(&raw)
            .arg("-o")
            .arg(&zst),
    );
    let sha256 = sha256_of(&raw, None);
    let sha256_file = dir.join(format!("{name}.img.sha256"));
    std::fs::write(&sha256_file, format!("{sha256}  {name}.img\n")).unwrap();
    TestImage {
        raw,
        zst,
        sha256_file,
        sha256,
        size: IMAGE_SECTORS * 512,
    }
}

/// sha256 of the first `len` bytes of a file (all of it when `None`).
pub fn sha256_of(path: &Path, len: Option<u64>) -> String {
    use std::io::Read;
    let f = std::fs::File::open(path).unwrap();
    let mut reader: Box<dyn Read> = match len {
        Some(n) => Box::new(f.take(n)),
        None => Box::new(f),
    };
    let mut hasher = Sha256::new();
    std::io::copy(&mut reader, &mut hasher).unwrap();
    hex::encode(hasher.finalize())
}

/// A file target of `size` bytes filled with a recognisable pattern, so "untouched" can
/// be checked byte for byte.
pub fn target_file(dir: &Path, name: &str, size: u64) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, pattern(size as usize, 0xfeed)).unwrap();
    path
}

pub fn store_flash() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_store-flash"));
    cmd.stdin(Stdio::null());
    cmd
}

/// `store-flash write` with the test hub and code; extra arguments appended.
pub fn flash(image: &Path, device: &Path, extra: &[&str]) -> Output {
    store_flash()
        .arg("write")
        .arg("--image")
        .arg(image)
        .arg("--device")
        .arg(device)
        .args(["--hub", HUB, "--code", CODE, "--yes"])
        .args(extra)
        .output()
        .expect("run store-flash")
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The one error line store-flash printed.
pub fn error_line(out: &Output) -> String {
    assert!(
        !out.status.success(),
        "store-flash succeeded: {}",
        stdout(out)
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(out));
    let err = stderr(out);
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("store-flash: "))
        .collect();
    assert_eq!(lines.len(), 1, "expected one error line in {err:?}");
    lines[0].to_owned()
}

/// `mtype -i FILE@@OFFSET ::NAME`: a file on the FAT partition at `offset` bytes.
pub fn fat_file(disk: &Path, offset: u64, name: &str) -> String {
    let out = run_ok(
        tool("mtype")
            .arg("-i")
            .arg(format!("{}@@{offset}", disk.display()))
            .arg(format!("::{name}")),
    );
    stdout(&out)
}

/// `sfdisk --verify` passes and `sfdisk --dump` lists the partitions.
pub fn sfdisk_dump(disk: &Path) -> String {
    let out = run_ok(tool("sfdisk").arg("--verify").arg(disk));
    assert!(
        stdout(&out).contains("No errors detected"),
        "sfdisk --verify: {}",
        stdout(&out)
    );
    stdout(&run_ok(tool("sfdisk").arg("--dump").arg(disk)))
}

/// The partition lines of a dump, without the device name, to compare two disks.
pub fn partition_lines(dump: &str) -> Vec<String> {
    dump.lines()
        .filter_map(|l| l.split_once(" : ").map(|(_, rest)| rest.to_owned()))
        .collect()
}

pub fn last_lba(dump: &str) -> u64 {
    dump.lines()
        .find_map(|l| l.strip_prefix("last-lba: "))
        .expect("last-lba in dump")
        .trim()
        .parse()
        .unwrap()
}
