//! The servers as child processes, the way the cross-process tests and the load
//! generators run them: the real binary on port 0, its address read from the line it
//! prints once it listens (`store-node listening on http://ADDR`, `store-node mqtt on
//! ADDR`, `cloud-hub listening on http://ADDR`), killed and reaped when dropped.
//!
//! After the lines a caller waits for, stdout keeps being read (and thrown away) on a
//! thread of its own, so a chatty server never blocks on a full pipe nor dies writing
//! into a closed one. What happens to stderr is the command's business: [`spawn`]
//! discards it (tests), the benchmarks let it through.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// How long a process may take to print the lines [`start`] waits for. A node or hub
/// on a fresh database prints them within a second; a debug build on a loaded machine
/// within a few.
pub const START_TIMEOUT: Duration = Duration::from_secs(90);

/// A child process, killed (SIGKILL) and reaped when dropped, also when a test panics.
#[derive(Debug)]
pub struct Proc {
    pub child: Child,
}

impl Proc {
    /// The process id (for /proc samples).
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, then reaps it: to the process, a crash or a power cut. Doing it again
    /// does nothing.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts `cmd` with its stdout piped and reads stdout until it has printed a line
/// containing each of `markers`, in this order (other lines are skipped); returns the
/// process and, for each marker, the rest of its line, trimmed.
///
/// Fails, killing the process, when it closes stdout (exits) before printing them all,
/// or has not printed them within [`START_TIMEOUT`].
pub fn start(cmd: Command, markers: &[&str]) -> anyhow::Result<(Proc, Vec<String>)> {
    start_within(cmd, markers, START_TIMEOUT)
}

fn start_within(
    mut cmd: Command,
    markers: &[&str],
    timeout: Duration,
) -> anyhow::Result<(Proc, Vec<String>)> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {program}"))?;
    let stdout = child.stdout.take().context("stdout is not piped")?;
    let proc = Proc { child };
    let (tx, rx) = mpsc::channel();
    let wanted: Vec<String> = markers.iter().map(|m| (*m).to_owned()).collect();
    std::thread::spawn(move || {
        let mut out = BufReader::new(stdout);
        let mut line = Vec::new();
        for marker in &wanted {
            loop {
                line.clear();
                match out.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => return, // closed: the waiter sees the channel drop
                    Ok(_) => {}
                }
                let text = String::from_utf8_lossy(&line);
                if let Some(i) = text.find(marker.as_str()) {
                    let rest = text[i + marker.len()..].trim().to_owned();
                    if tx.send(rest).is_err() {
                        return; // the waiter gave up
                    }
                    break;
                }
            }
        }
        drop(tx);
        let _ = std::io::copy(&mut out, &mut std::io::sink());
    });
    let deadline = Instant::now() + timeout;
    let mut found = Vec::with_capacity(markers.len());
    for marker in markers {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(rest) => found.push(rest),
            Err(RecvTimeoutError::Timeout) => {
                bail!("{program} printed no line with {marker:?} within {timeout:?}")
            }
            Err(RecvTimeoutError::Disconnected) => {
                bail!("{program} ended before printing {marker:?}")
            }
        }
    }
    Ok((proc, found))
}

/// A server started by [`spawn`]: its process and the base URL it printed
/// (`http://127.0.0.1:PORT`).
#[derive(Debug)]
pub struct Server {
    pub proc: Proc,
    pub base: String,
}

/// Starts a server binary for a test: `RUST_LOG=warn` (over whatever the command says),
/// stderr discarded; waits for its `listening on http://ADDR` line. Panics when the
/// server does not come up.
pub fn spawn(mut cmd: Command) -> Server {
    cmd.env("RUST_LOG", "warn").stderr(Stdio::null());
    let (proc, mut found) = start(cmd, &["listening on "]).unwrap_or_else(|e| panic!("{e:#}"));
    Server {
        proc,
        base: found.remove(0),
    }
}

/// A binary of this workspace, from the target directory the caller was built into:
/// next to a benchmark's binary, one directory up from a test's (which lives in
/// `deps/`). `cargo test --workspace` builds the servers' binaries there.
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the path of the running executable");
    let mut dir = exe
        .parent()
        .expect("the executable is in a directory")
        .to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir.join(name)
}

/// The demo store node (`program`, the `store-node` binary) with its data in
/// `data_dir`, HTTP and MQTT on free loopback ports (never MQTT's 1883: a system
/// mosquitto listens there), logging warnings only. It prints
/// `store-node listening on http://ADDR`, then `store-node mqtt on ADDR`.
pub fn node_command(program: &Path, data_dir: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.args([
        "--demo",
        "--bind",
        "127.0.0.1:0",
        "--mqtt-bind",
        "127.0.0.1:0",
        "--data-dir",
    ])
    .arg(data_dir)
    .env("RUST_LOG", "warn");
    cmd
}

/// The cloud hub (`program`, the `cloud-hub` binary) on a free loopback port over
/// `database_url` (`sqlite://…?mode=rwc` or `postgres://…`), logging warnings only. It
/// prints `cloud-hub listening on http://ADDR`. Set `HUB_ADMIN_TOKEN` for an admin.
pub fn hub_command(program: &Path, database_url: &str) -> Command {
    let mut cmd = Command::new(program);
    cmd.args(["--bind", "127.0.0.1:0", "--database-url", database_url])
        .env("RUST_LOG", "warn");
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", script]);
        cmd
    }

    #[test]
    fn start_returns_the_rest_of_each_marked_line_in_order() {
        let (mut p, found) = start(
            sh("echo booting; echo 'x listening on http://127.0.0.1:9 '; \
                echo noise; echo 'x mqtt on 127.0.0.1:10'; exec sleep 30"),
            &["x listening on ", "x mqtt on "],
        )
        .unwrap();
        assert_eq!(found, ["http://127.0.0.1:9", "127.0.0.1:10"]);
        assert!(p.child.try_wait().unwrap().is_none(), "still running");
        p.kill();
        assert!(p.child.try_wait().unwrap().is_some(), "killed and reaped");
    }

    #[test]
    fn a_process_that_ends_before_its_line_is_an_error() {
        let e = start(sh("echo something else"), &["listening on "]).unwrap_err();
        assert!(e.to_string().contains("ended before printing"), "{e}");
    }

    #[test]
    fn a_process_that_never_prints_its_line_is_an_error_and_is_killed() {
        let e = start_within(
            sh("echo nothing useful; exec sleep 30"),
            &["listening on "],
            Duration::from_millis(300),
        )
        .unwrap_err();
        assert!(e.to_string().contains("within"), "{e}");
    }

    #[test]
    fn stdout_keeps_being_drained_after_the_lines() {
        // 4 MiB after the line: far more than a pipe holds, so the process finishes only
        // when someone reads it.
        let (mut p, _) = start(
            sh("echo 'listening on x'; head -c 4194304 /dev/zero; exit 7"),
            &["listening on "],
        )
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(s) = p.child.try_wait().unwrap() {
                break s;
            }
            assert!(
                Instant::now() < deadline,
                "the process is stuck on a full pipe"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(status.code(), Some(7));
    }

    #[test]
    fn a_dropped_proc_is_killed() {
        let (p, _) = start(
            sh("echo 'listening on x'; exec sleep 30"),
            &["listening on "],
        )
        .unwrap();
        let pid = p.id();
        drop(p);
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "killed and reaped, so gone from /proc"
        );
    }

    #[test]
    fn spawn_reads_the_base_url() {
        let s = spawn(sh(
            "echo 'fake listening on http://127.0.0.1:9'; exec sleep 30",
        ));
        assert_eq!(s.base, "http://127.0.0.1:9");
    }

    #[test]
    fn bin_looks_next_to_the_test_binarys_directory() {
        let path = bin("store-node");
        assert!(path.ends_with("store-node"));
        assert!(!path.parent().unwrap().ends_with("deps"), "{path:?}");
    }

    #[test]
    fn the_commands_put_the_servers_on_free_loopback_ports() {
        let node = node_command(Path::new("store-node"), Path::new("/tmp/n"));
        let args: Vec<_> = node.get_args().map(|a| a.to_str().unwrap()).collect();
        assert_eq!(
            args,
            [
                "--demo",
                "--bind",
                "127.0.0.1:0",
                "--mqtt-bind",
                "127.0.0.1:0",
                "--data-dir",
                "/tmp/n"
            ]
        );
        let hub = hub_command(Path::new("cloud-hub"), "sqlite://x?mode=rwc");
        let args: Vec<_> = hub.get_args().map(|a| a.to_str().unwrap()).collect();
        assert_eq!(
            args,
            [
                "--bind",
                "127.0.0.1:0",
                "--database-url",
                "sqlite://x?mode=rwc"
            ]
        );
    }
}
