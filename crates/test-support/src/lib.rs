//! What the tests and benchmarks that run the real servers share, so each does not
//! carry its own copy: starting `store-node` and `cloud-hub` as child processes and
//! waiting for their "listening on" lines ([`process`]), a free port, a temporary
//! directory, a throwaway certificate authority ([`tls`]), and the domain's [`ManualClock`] for tests that move time by hand.
//!
//! Used only as a dev-dependency by the servers' tests and `tests/` (`e2e-tests`), and
//! by `crates/loadgen` (itself a tool, never shipped). It spawns the server binaries by
//! path and links neither server crate, so it cannot break the rule that nothing
//! depends on a server.

pub mod process;
pub mod tls;

pub use domain::clock::{Clock, ManualClock, Millis};
pub use process::{Proc, START_TIMEOUT, Server, bin, hub_command, node_command, spawn, start};

/// A TCP port on 127.0.0.1 that was free a moment ago.
///
/// Another process may take it before the caller binds it, so prefer starting a server
/// on port 0 and reading the address it prints ([`spawn`]); this is for the rarer case
/// where the port must be known before the server starts (an address given to a peer
/// first, a restart that must come back on the same port).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .expect("binding 127.0.0.1:0")
        .port()
}

/// A new empty directory under the system's temporary directory, removed with
/// everything in it when dropped. Named `edge-test-*` so a leftover (from a killed
/// test run) says where it came from.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("edge-test-")
        .tempdir()
        .expect("creating a temporary directory")
}

/// What reads the wall clock itself: `SystemTime::now`, `UNIX_EPOCH`, chrono's
/// `now`, and the names of a server's system clock.
pub const WALL_CLOCK_READS: &[&str] = &[
    "SystemTime::now",
    "UNIX_EPOCH",
    "Utc::now",
    "Local::now",
    "SystemClock",
    "get_current_timestamp",
];

/// Scans the Rust sources under `src` (unit-test modules and comments aside)
/// for lines naming any of `forbidden`, except where `exempt(file, line)` says
/// so (`file` relative to `src`, with `/`). Returns how many files it read and
/// the offending lines as `src/<file>:<line>: <text>`. The servers' "time is a
/// port" tests use it.
pub fn wall_clock_reads(
    src: &std::path::Path,
    forbidden: &[&str],
    exempt: impl Fn(&str, &str) -> bool,
) -> (usize, Vec<String>) {
    let mut files = vec![src.to_path_buf()];
    let mut scanned = 0;
    let mut offenders = vec![];
    while let Some(p) = files.pop() {
        if p.is_dir() {
            let entries = std::fs::read_dir(&p).expect("a readable source directory");
            files.extend(entries.map(|e| e.expect("a directory entry").path()));
            continue;
        }
        if p.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let rel = p
            .strip_prefix(src)
            .expect("under src")
            .to_string_lossy()
            .replace('\\', "/");
        scanned += 1;
        let text = std::fs::read_to_string(&p).expect("a readable source file");
        let code = text.split("#[cfg(test)]\nmod tests").next().unwrap_or("");
        for (n, line) in code.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if forbidden.iter().any(|f| code.contains(f)) && !exempt(&rel, code) {
                offenders.push(format!("src/{rel}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    (scanned, offenders)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_free_port_can_be_bound() {
        let port = free_port();
        assert_ne!(port, 0);
        let l = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
        assert_eq!(l.local_addr().unwrap().port(), port);
    }

    #[test]
    fn a_temp_dir_is_removed_when_dropped() {
        let dir = temp_dir();
        let path = dir.path().to_owned();
        assert!(
            path.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("edge-test-")
        );
        std::fs::write(path.join("f"), b"x").unwrap();
        drop(dir);
        assert!(!path.exists());
    }

    #[test]
    fn the_manual_clock_is_the_domains() {
        let clock = ManualClock::new(Millis::EPOCH);
        clock.advance(std::time::Duration::from_secs(1));
        let port: &dyn Clock = &clock;
        assert_eq!(port.now().as_i64(), 1_000);
    }
}
