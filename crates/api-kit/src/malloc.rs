//! glibc's malloc, tuned for servers that hash passwords with Argon2.
//!
//! Each password or PIN check allocates Argon2's 19 MiB on a blocking thread.
//! glibc's malloc by default raises its mmap threshold after the first such
//! free and then keeps those blocks in per-thread arenas (40 parallel sign-ins
//! left a store node at 837 MB RSS for good). [`tune`] starts the binary again,
//! once, with `GLIBC_TUNABLES` fixing the mmap threshold at 128 KiB (large
//! blocks go back to the OS when freed) and allowing two arenas: a fresh demo
//! node then holds 18 MB and stays near 21 MB through sign-ins (mimalloc, tried
//! first, held 53 MB idle and 100 MB after them; BENCHMARKS.md, "Store node
//! memory"). An operator's own `GLIBC_TUNABLES` is left as it is.

/// What the servers ask of glibc's malloc.
pub const MALLOC_TUNABLES: &str = "glibc.malloc.mmap_threshold=131072:glibc.malloc.arena_max=2";

/// Replaces this process with itself under [`MALLOC_TUNABLES`] (same pid and
/// arguments), unless `GLIBC_TUNABLES` is already set. glibc reads tunables
/// only at start-up, and a `mallopt` call would need `unsafe`. Call it first in
/// `main`, before any thread starts. Should the exec fail, the server runs with
/// the defaults and says so on stderr (`name` is the binary's name).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn tune(name: &str) {
    use std::os::unix::process::CommandExt;
    if std::env::var_os("GLIBC_TUNABLES").is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut args = std::env::args_os();
    let mut cmd = std::process::Command::new(exe);
    if let Some(arg0) = args.next() {
        cmd.arg0(arg0);
    }
    let err = cmd.args(args).env("GLIBC_TUNABLES", MALLOC_TUNABLES).exec();
    eprintln!(
        "{name}: running with glibc's default malloc settings (restarting with {MALLOC_TUNABLES} failed: {err})"
    );
}

/// Elsewhere the allocator is left as it is.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn tune(_name: &str) {}
