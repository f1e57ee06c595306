//! `virtual-printer`: an ESC/POS printer on your screen. It listens on TCP
//! (like a network printer on port 9100) or on a pseudo-terminal (like a
//! serial printer), and writes every job it receives as a text file and a
//! PNG picture of the paper. See `virtual-printer --help`.
//!
//! Stop it with Ctrl-C: the default signal handling ends the process at once,
//! which is clean here because job files are written to a temporary name and
//! renamed, so a file on disk is always whole, and the OS closes the socket
//! or pty.

use clap::Parser;
use drivers::escpos_status::Status;
use drivers::printer_sim::{SimOptions, VirtualPrinter};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// A virtual ESC/POS receipt/kitchen printer.
///
/// Point the store node (or anything that speaks ESC/POS) at it, and each job
/// appears in the output folder as NNNN-<name>.txt and NNNN-<name>.png.
/// Real-time status requests (DLE EOT) are answered; --paper-out and
/// --cover-open make it report those problems.
///
/// Examples:
///   virtual-printer --tcp 127.0.0.1:9100 --name kitchen-grill --out ./printed
///   virtual-printer --pty --name bar
#[derive(Debug, Parser)]
#[command(name = "virtual-printer", version, verbatim_doc_comment)]
#[command(group(clap::ArgGroup::new("listen").required(true).args(["tcp", "pty"])))]
struct Args {
    /// Listen on this TCP address like a network printer (port 0 picks a free port).
    #[arg(long, value_name = "ADDR")]
    tcp: Option<String>,

    /// Create a pseudo-terminal like a serial printer; its device path is printed.
    #[arg(long)]
    pty: bool,

    /// Printer name, used in messages and file names.
    #[arg(long, default_value = "printer")]
    name: String,

    /// Folder for the printed jobs (created if missing).
    #[arg(long, value_name = "DIR", default_value = "./printed")]
    out: PathBuf,

    /// Characters per line: 48 for 80 mm paper, 32 for 58 mm.
    #[arg(long, default_value_t = 48, value_parser = clap::value_parser!(u16).range(8..=255))]
    columns: u16,

    /// Report "paper out" to status requests.
    #[arg(long)]
    paper_out: bool,

    /// Report "cover open" to status requests.
    #[arg(long)]
    cover_open: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let opts = SimOptions {
        out_dir: Some(args.out.clone()),
        name: args.name.clone(),
        columns: args.columns,
        ..SimOptions::default()
    };
    let started = match &args.tcp {
        Some(addr) => VirtualPrinter::tcp(addr, opts),
        None => VirtualPrinter::pty(opts),
    };
    let printer = match started {
        Ok(p) => p,
        Err(e) => {
            eprintln!("virtual-printer: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    if args.paper_out || args.cover_open {
        printer.set_status(Status {
            online: false,
            paper_out: args.paper_out,
            cover_open: args.cover_open,
            ..Status::default()
        });
    }
    let place = printer
        .addr()
        .map(|a| a.to_string())
        .or_else(|| printer.device_path())
        .unwrap_or_default();
    println!("virtual printer {} listening on {place}", args.name);
    eprintln!(
        "writing jobs to {} (press Ctrl-C to stop)",
        args.out.display()
    );
    loop {
        let Some(job) = printer.wait_job(Duration::from_secs(3600)) else {
            continue;
        };
        let lines = job.page.lines.len();
        let mut what = format!("{lines} line{}", if lines == 1 { "" } else { "s" });
        if job.drawer_kicks > 0 {
            what.push_str(", drawer kick");
        }
        match &job.png_path {
            Some(png) => println!("printed job {} ({what}) -> {}", job.number, png.display()),
            None => println!("printed job {} ({what}), not saved", job.number),
        }
    }
}
