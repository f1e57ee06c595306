//! `zvt-sim`: a simulated ZVT card terminal for demos and manual tests.
//! Listens on a pseudo terminal or TCP, plays one scenario, and prints one
//! line per authorization it receives. Stop it with Ctrl-C.
//!
//! ```text
//! zvt-sim --pty --scenario approve
//! zvt-sim --tcp 127.0.0.1:20007 --scenario decline --decline-code 0x05
//! ```

use std::time::Duration;

use clap::{ArgGroup, Parser, ValueEnum};
use drivers::zvt::spec;
use drivers::zvt::{Scenario, SimOutcome, TerminalSim};

#[derive(Debug, Parser)]
#[command(about = "Simulated ZVT payment terminal", group(ArgGroup::new("port").required(true).args(["pty", "tcp"])))]
struct Args {
    /// Listen on a new pseudo terminal; its device path is printed.
    #[arg(long)]
    pty: bool,
    /// Listen on this TCP address, e.g. 127.0.0.1:20007.
    #[arg(long, value_name = "ADDR")]
    tcp: Option<String>,
    /// What the terminal does with each payment.
    #[arg(long, value_enum, default_value_t = ScenarioArg::Approve)]
    scenario: ScenarioArg,
    /// Result code for `--scenario decline` (decimal or 0x-hex).
    #[arg(long, value_parser = parse_code, default_value = "0x05")]
    decline_code: u8,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ScenarioArg {
    Approve,
    Decline,
    Timeout,
    Cancel,
    Busy,
    Garbage,
}

fn parse_code(text: &str) -> Result<u8, String> {
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u8::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.map_err(|e| format!("{text}: {e}"))
}

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let scenario = match args.scenario {
        ScenarioArg::Approve => Scenario::Approve,
        ScenarioArg::Decline => Scenario::Decline {
            code: args.decline_code,
        },
        ScenarioArg::Timeout => Scenario::Timeout,
        ScenarioArg::Cancel => Scenario::CancelledByCustomer,
        ScenarioArg::Busy => Scenario::Busy,
        ScenarioArg::Garbage => Scenario::Garbage,
    };
    let sim = match &args.tcp {
        Some(addr) => TerminalSim::tcp(addr, scenario)?,
        None => TerminalSim::pty(scenario)?,
    };
    match (sim.device_path(), sim.addr()) {
        (Some(path), _) => println!("zvt-sim: listening on pty {path} (scenario {scenario:?})"),
        (_, Some(addr)) => println!("zvt-sim: listening on tcp {addr} (scenario {scenario:?})"),
        _ => println!("zvt-sim: listening (scenario {scenario:?})"),
    }

    let mut printed = 0;
    let mut aborts_printed = 0;
    loop {
        let transactions = sim.wait_for(Duration::from_secs(1), |t| {
            t.len() > printed || t.iter().filter(|t| t.abort_received).count() > aborts_printed
        });
        for transaction in &transactions[printed..] {
            let outcome = match &transaction.outcome {
                SimOutcome::Approved {
                    trace,
                    receipt_no,
                    card,
                } => {
                    format!("approved trace {trace:06} receipt {receipt_no:04} ({card})")
                }
                SimOutcome::Declined { code } => {
                    format!("declined 0x{code:02X} ({})", spec::result_code_text(*code))
                }
                SimOutcome::Cancelled => "cancelled by customer".to_owned(),
                SimOutcome::Busy => "refused: busy".to_owned(),
                SimOutcome::NoAnswer => "no answer (waiting for abort)".to_owned(),
                SimOutcome::Garbage => "answered with garbage".to_owned(),
            };
            println!(
                "amount {}.{:02} currency {}: {outcome}",
                transaction.amount / 100,
                transaction.amount % 100,
                transaction.currency_numeric
            );
        }
        printed = transactions.len();
        let aborts = transactions.iter().filter(|t| t.abort_received).count();
        if aborts > aborts_printed {
            println!("abort (06 B0) received from the ECR");
            aborts_printed = aborts;
        }
    }
}
