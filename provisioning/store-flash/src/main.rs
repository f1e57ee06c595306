//! `store-flash`: the installer's tool. Lists removable disks, and writes a store-node
//! image to one with its enrollment code, so the box enrolls itself at first boot
//! (docs/enrollment.md; issue 16 item 5).
//!
//! Nothing is written until the whole image has been decompressed and checked (size,
//! sha256, GPT, `config` partition); after writing, the disk is read back from the device,
//! not the page cache, and compared.

mod disks;
mod enroll;
mod error;
mod flash;
mod image;
mod progress;
mod size;
mod sys;

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::enroll::{Enrollment, HubUrl, PairingCode};
use crate::error::{FlashError, Result};
use crate::flash::{Target, TargetKind};
use crate::size::Size;

#[derive(Debug, Parser)]
#[command(
    name = "store-flash",
    version,
    about = "Write a store-node image to a USB disk or SD card, with its enrollment code",
    after_help = "Example:\n  store-flash list\n  store-flash write --image store-node.img.zst --sha256 store-node.img.sha256 \\\n      --device /dev/sdb --hub https://hub.example.com --code K7QM-3XPD"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List removable disks (USB, SD cards); the disk holding the running system is never shown.
    List,
    /// Write the image, verify it, and put the enrollment code on its config partition.
    Write(WriteArgs),
}

#[derive(Debug, clap::Args)]
struct WriteArgs {
    /// The compressed image, `store-node.img.zst`.
    #[arg(long, value_name = "FILE")]
    image: PathBuf,
    /// The sha256 of the uncompressed image: 64 hex digits, or the `.sha256` file made
    /// with the image (`<hex>  store-node.img`).
    #[arg(long, value_name = "FILE|HEX")]
    sha256: Option<String>,
    /// The whole disk to erase (`/dev/sdb`), a loop device, or a regular file.
    #[arg(long, value_name = "/dev/sdX|FILE")]
    device: PathBuf,
    /// The hub's base URL (https://, or http:// only for development).
    #[arg(long, value_name = "URL")]
    hub: String,
    /// The pairing code from the dashboard (Devices), e.g. K7QM-3XPD.
    #[arg(long, value_name = "CODE")]
    code: String,
    /// A CA certificate (PEM) for a hub with a private certificate; copied as hub-ca.pem.
    #[arg(long, value_name = "FILE")]
    ca_file: Option<PathBuf>,
    /// Do not ask before erasing the device.
    #[arg(long)]
    yes: bool,
    /// Allow a disk that is neither removable nor on USB/SD (e.g. a box's internal disk
    /// when running from a live USB). The system disk and mounted disks are still refused.
    #[arg(long)]
    force_not_removable: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::List => {
            list();
            Ok(())
        }
        Command::Write(args) => write(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("store-flash: {e}");
            ExitCode::FAILURE
        }
    }
}

fn list() {
    let disks = disks::removable_disks();
    if disks.is_empty() {
        println!(
            "No removable disks found: plug in a USB stick or SD card and run `store-flash list` again."
        );
        return;
    }
    let rows: Vec<[String; 5]> = disks
        .iter()
        .map(|d| {
            let mounted = disks::mount_points_on(&d.name);
            [
                d.dev_path().display().to_string(),
                if d.size_bytes == 0 {
                    "no medium".into()
                } else {
                    Size(d.size_bytes).short()
                },
                d.transport.label().to_owned(),
                format!("{} {}", d.vendor, d.model).trim().to_owned(),
                if mounted.is_empty() {
                    "-".into()
                } else {
                    mounted.join(", ")
                },
            ]
        })
        .collect();
    print_table(["DEVICE", "SIZE", "BUS", "MODEL", "MOUNTED"], &rows);
}

fn print_table<const N: usize>(header: [&str; N], rows: &[[String; N]]) {
    let mut widths = header.map(|h| h.chars().count());
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let parts: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", parts.join("  ").trim_end());
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

fn write(args: &WriteArgs) -> Result<()> {
    // Everything the installer typed is checked before the image is even opened.
    let enrollment = Enrollment {
        hub: HubUrl::parse(&args.hub)?,
        code: PairingCode::parse(&args.code)?,
        ca_pem: args
            .ca_file
            .as_deref()
            .map(Enrollment::read_ca)
            .transpose()?,
    };
    let expected = args
        .sha256
        .as_deref()
        .map(image::parse_expected_sha256)
        .transpose()?;
    let mut target = Target::open(&args.device, args.force_not_removable)?;
    target.ensure_not_image(&args.image)?;
    let image = image::check(&args.image, expected)?;
    target.ensure_fits(&image)?;
    confirm(&target, args.yes)?;

    let writing = std::time::Instant::now();
    let written = target.write_image(&image)?;
    let flushing = std::time::Instant::now();
    target.sync_and_drop_caches()?;
    eprintln!(
        "flushed: fsync and cache drop in {:.1} s",
        flushing.elapsed().as_secs_f64()
    );
    target.verify(&image, written)?;
    eprintln!(
        "write, flush and verify: {} in {:.1} s ({})",
        Size(image.raw_size).short(),
        writing.elapsed().as_secs_f64(),
        progress::speed(image.raw_size, writing.elapsed())
    );
    let relocated = target.relocate_backup_gpt(&image)?;
    target.write_enrollment(&image, &enrollment)?;
    target.sync()?;

    println!(
        "Done: {} written to {} and verified (sha256 {}).",
        Size(image.raw_size).short(),
        target.path.display(),
        hex::encode(written)
    );
    if relocated {
        println!(
            "The backup partition table now sits at the end of the {} target.",
            Size(target.size).short()
        );
    }
    println!(
        "Enrollment: code {} for {} on the config partition{}.",
        enrollment.code.as_str(),
        enrollment.hub.as_str(),
        if enrollment.ca_pem.is_some() {
            " (with hub-ca.pem)"
        } else {
            ""
        }
    );
    println!(
        "Next: plug the disk into the store box and boot it; the store shows online in the hub's dashboard under Devices."
    );
    Ok(())
}

/// Asks before erasing, unless `--yes`. Without a terminal there is no one to ask.
fn confirm(target: &Target, yes: bool) -> Result<()> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(FlashError::NeedsConfirmation(target.path.clone()));
    }
    let what = match (&target.kind, &target.disk) {
        (TargetKind::File, _) => format!("the file {}", target.path.display()),
        (_, Some(d)) => format!(
            "{} ({} {}, {})",
            target.path.display(),
            d.vendor,
            d.model,
            Size(target.size).short()
        ),
        (_, None) => target.path.display().to_string(),
    };
    eprint!("Everything on {what} will be erased. Type yes to continue: ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(FlashError::io(
            "read the answer from",
            Path::new("standard input"),
        ))?;
    if answer.trim().eq_ignore_ascii_case("yes") {
        Ok(())
    } else {
        Err(FlashError::Cancelled(target.path.clone()))
    }
}
