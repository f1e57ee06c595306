//! Network namespaces for the chaos test, made with `ip` (iproute2) and
//! removed when [`Namespaces`] is dropped, also when the test panics.
//!
//! Each namespace gets one veth pair to the test's own namespace: the far end
//! `10.200.X.2/30` inside, the near end `10.200.X.1/30` outside, and loopback
//! up (the node's MQTT broker listens there). There is no route between
//! namespaces and no forwarding: a process inside reaches only the near end,
//! where the test's relay listens, so every byte between a node and the hub
//! passes the relay. Nothing here sends to any other address.

use std::net::Ipv4Addr;
use std::process::Command;

/// Namespace names start with this, then the test process's id, so a later run
/// can find and remove what a killed run left behind.
const PREFIX: &str = "e2echaos-";

/// Namespaces made for one test run.
pub struct Namespaces {
    names: Vec<String>,
    /// Third octet of the first namespace's /30s; the others follow.
    octet: u8,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("`ip` did not run ({e}); install iproute2"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Removes namespaces of earlier runs whose process is gone (a run killed with SIGKILL drops nothing).
fn remove_stale() {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        let Some(pid) = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('-').next())
        else {
            continue;
        };
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = ip(&["netns", "del", name]);
        }
    }
}

impl Namespaces {
    /// Makes `n` namespaces, or says why it cannot (no `ip`, or not allowed here).
    pub fn create(n: usize) -> Result<Namespaces, String> {
        remove_stale();
        let pid = std::process::id();
        // Four /30s per run, picked by process id so two runs at once rarely share an octet.
        let octet = ((pid % 60) * 4) as u8;
        let mut ns = Namespaces {
            names: vec![],
            octet,
        };
        for k in 0..n {
            let name = format!("{PREFIX}{pid}-{k}");
            ip(&["netns", "add", &name])?;
            ns.names.push(name.clone());
            let host = format!("ec{pid}h{k}");
            let inside = format!("{}/30", ns.inside(k));
            let outside = format!("{}/30", ns.outside(k));
            ip(&[
                "link", "add", &host, "type", "veth", "peer", "name", "v0", "netns", &name,
            ])?;
            ip(&["addr", "add", &outside, "dev", &host])?;
            ip(&["link", "set", &host, "up"])?;
            ip(&["-n", &name, "addr", "add", &inside, "dev", "v0"])?;
            ip(&["-n", &name, "link", "set", "v0", "up"])?;
            ip(&["-n", &name, "link", "set", "lo", "up"])?;
        }
        Ok(ns)
    }

    /// The address of namespace `k`'s end of its veth pair.
    pub fn inside(&self, k: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, 200, self.octet + k as u8, 2)
    }

    /// The address of the test's end of namespace `k`'s veth pair.
    pub fn outside(&self, k: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, 200, self.octet + k as u8, 1)
    }

    /// `cmd` run inside namespace `k` (`ip netns exec` execs the program, so the child's pid is
    /// the program's and SIGKILL reaches it), with `--bind` set to `bind`.
    pub fn command(&self, k: usize, cmd: &Command, bind: &str) -> Command {
        let mut inner = Command::new("ip");
        inner.args(["netns", "exec", &self.names[k]]);
        inner.arg(cmd.get_program());
        let mut args = cmd.get_args();
        while let Some(a) = args.next() {
            inner.arg(a);
            if a == "--bind" {
                inner.arg(bind);
                args.next();
            }
        }
        for (name, value) in cmd.get_envs() {
            match value {
                Some(v) => inner.env(name, v),
                None => inner.env_remove(name),
            };
        }
        inner
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        // Deleting a namespace destroys its veth pair, both ends.
        for name in &self.names {
            let _ = ip(&["netns", "del", name]);
        }
    }
}
