//! Progress of one phase (checking, writing, verifying): an indicatif bar with bytes,
//! speed and ETA on a terminal, plain lines every 10 % otherwise (CI logs, pipes).
//! Either way the phase ends with one summary line with its speed, which is where the
//! figures in BENCHMARKS.md come from.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::size::Size;

pub struct Progress {
    label: &'static str,
    total: u64,
    done: u64,
    started: Instant,
    shown: Shown,
}

enum Shown {
    Bar(ProgressBar),
    Lines { next_tenth: u64 },
}

impl Progress {
    pub fn start(label: &'static str, total: u64) -> Progress {
        let shown = if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(total);
            let style = ProgressStyle::with_template(
                "{msg:9} [{bar:32}] {bytes:>10}/{total_bytes:10} {binary_bytes_per_sec:>12} ETA {eta}",
            )
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar.set_message(label);
            bar.enable_steady_tick(Duration::from_millis(200));
            Shown::Bar(bar)
        } else {
            Shown::Lines { next_tenth: 1 }
        };
        Progress {
            label,
            total,
            done: 0,
            started: Instant::now(),
            shown,
        }
    }

    pub fn advance(&mut self, bytes: u64) {
        self.done += bytes;
        match &mut self.shown {
            Shown::Bar(bar) => bar.set_position(self.done),
            Shown::Lines { next_tenth } => {
                if self.total == 0 {
                    return;
                }
                let tenth = self.done.saturating_mul(10) / self.total;
                if tenth >= *next_tenth && tenth < 10 {
                    *next_tenth = tenth + 1;
                    eprintln!(
                        "{}: {}% ({} of {}, {})",
                        self.label,
                        tenth * 10,
                        Size(self.done).short(),
                        Size(self.total).short(),
                        speed(self.done, self.started.elapsed())
                    );
                }
            }
        }
    }

    /// Ends the phase with its summary line, e.g. `written: 512 MiB in 2.1 s (255 MB/s)`.
    pub fn finish(self, past: &str) {
        let elapsed = self.started.elapsed();
        if let Shown::Bar(bar) = &self.shown {
            bar.finish_and_clear();
        }
        eprintln!(
            "{past}: {} in {:.1} s ({})",
            Size(self.done).short(),
            elapsed.as_secs_f64(),
            speed(self.done, elapsed)
        );
    }

    /// Ends a phase measured in compressed bytes with a summary in raw bytes, e.g.
    /// `checked: 512 MiB (92 MiB compressed) in 1.2 s (447 MB/s)`.
    pub fn finish_raw(self, past: &str, raw: u64) {
        let elapsed = self.started.elapsed();
        if let Shown::Bar(bar) = &self.shown {
            bar.finish_and_clear();
        }
        eprintln!(
            "{past}: {} ({} compressed) in {:.1} s ({})",
            Size(raw).short(),
            Size(self.done).short(),
            elapsed.as_secs_f64(),
            speed(raw, elapsed)
        );
    }

    /// Ends the phase without a summary (it failed; the error says why).
    pub fn abandon(self) {
        if let Shown::Bar(bar) = &self.shown {
            bar.abandon();
        }
    }
}

/// Decimal megabytes per second, the unit disk makers print on the box.
pub fn speed(bytes: u64, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64().max(1e-6);
    format!("{:.0} MB/s", bytes as f64 / secs / 1e6)
}
