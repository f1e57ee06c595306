//! `virtual-printer`: an ESC/POS printer on your screen. It listens on TCP
//! (like a network printer on port 9100) or on a pseudo-terminal (like a
//! serial printer), and writes every job it receives as a text file and a
//! PNG picture of the paper. See `virtual-printer --help`.
//!
//! While it runs, a line on standard input changes what it reports to status
//! requests (DLE EOT), as if someone opened the cover or the roll ran out:
//! `paper-out`, `paper-low`, `cover-open` or `ok`. It answers each with a
//! `status <command>` line on standard output once the next status request will
//! see it, so a test can wait for that line instead of sleeping.
//!
//! Stop it with Ctrl-C: the default signal handling ends the process at once,
//! which is clean here because job files are written to a temporary name and
//! renamed, so a file on disk is always whole, and the OS closes the socket
//! or pty.

use clap::Parser;
use drivers::escpos_status::Status;
use drivers::printer_sim::{SimOptions, VirtualPrinter};
use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// A virtual ESC/POS receipt/kitchen printer.
///
/// Point the store node (or anything that speaks ESC/POS) at it, and each job
/// appears in the output folder as NNNN-<name>.txt and NNNN-<name>.png.
/// Real-time status requests (DLE EOT) are answered; --paper-out and
/// --cover-open make it report those problems from the start. While it runs,
/// type `paper-out`, `paper-low`, `cover-open` or `ok` (and Enter) to change
/// what it reports.
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
    let printer = Arc::new(printer);
    let place = printer
        .addr()
        .map(|a| a.to_string())
        .or_else(|| printer.device_path())
        .unwrap_or_default();
    println!("virtual printer {} listening on {place}", args.name);
    eprintln!(
        "writing jobs to {} (type paper-out, paper-low, cover-open or ok to change its status; press Ctrl-C to stop)",
        args.out.display()
    );
    {
        let printer = Arc::clone(&printer);
        // Ends with standard input (closed, or /dev/null); the printer goes on printing.
        std::thread::spawn(move || {
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                let command = line.trim();
                if command.is_empty() {
                    continue;
                }
                match status_for(command) {
                    Some(s) => {
                        printer.set_status(s);
                        println!("status {command}");
                    }
                    None => eprintln!(
                        "virtual-printer: {command:?} is not a command; type paper-out, paper-low, cover-open or ok"
                    ),
                }
            }
        });
    }
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

/// What a standard-input command makes the printer report.
fn status_for(command: &str) -> Option<Status> {
    let ok = Status {
        online: true,
        ..Status::default()
    };
    match command {
        "ok" => Some(ok),
        "paper-low" => Some(Status {
            paper_near_end: true,
            ..ok
        }),
        "paper-out" => Some(Status {
            online: false,
            paper_out: true,
            ..Status::default()
        }),
        "cover-open" => Some(Status {
            online: false,
            cover_open: true,
            ..Status::default()
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_set_the_status_requests_see() {
        assert!(status_for("paper-out").is_some_and(|s| s.paper_out && !s.online));
        assert!(status_for("cover-open").is_some_and(|s| s.cover_open && !s.online));
        assert!(
            status_for("paper-low").is_some_and(|s| s.paper_near_end && s.online && !s.paper_out)
        );
        assert_eq!(
            status_for("ok"),
            Some(Status {
                online: true,
                ..Status::default()
            })
        );
        assert_eq!(status_for("paper"), None);
    }
}
