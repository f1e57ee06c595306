//! The architecture invariants of ARCHITECTURE.md that a machine can check,
//! read from `cargo metadata`'s resolved dependency graph.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

struct Graph {
    /// package id -> (name, normal dependency ids)
    nodes: HashMap<String, (String, Vec<String>)>,
    /// workspace member name -> id
    members: HashMap<String, String>,
}

fn graph() -> Graph {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: HashMap<String, String> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap().to_owned(),
                p["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let members = meta["workspace_members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| {
            let id = id.as_str().unwrap().to_owned();
            (names[&id].clone(), id)
        })
        .collect();
    let nodes = meta["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            let id = n["id"].as_str().unwrap().to_owned();
            let deps = n["deps"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| {
                    d["dep_kinds"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|k| k["kind"].is_null())
                })
                .map(|d| d["pkg"].as_str().unwrap().to_owned())
                .collect();
            (id.clone(), (names[&id].clone(), deps))
        })
        .collect();
    Graph { nodes, members }
}

impl Graph {
    /// Every crate `member` pulls in for a normal build.
    fn closure(&self, member: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![self.members[member].clone()];
        while let Some(id) = stack.pop() {
            for d in &self.nodes[&id].1 {
                if seen.insert(self.nodes[d].0.clone()) {
                    stack.push(d.clone());
                }
            }
        }
        seen
    }

    fn direct(&self, member: &str) -> BTreeSet<String> {
        self.nodes[&self.members[member]]
            .1
            .iter()
            .map(|d| self.nodes[d].0.clone())
            .collect()
    }
}

const IO: &[&str] = &[
    "tokio",
    "mio",
    "axum",
    "hyper",
    "tower",
    "reqwest",
    "rusqlite",
    "libsqlite3-sys",
    "sqlx",
    "rumqttd",
    "rumqttc",
    "serialport",
    "socket2",
];

fn assert_none_of(krate: &str, deps: &BTreeSet<String>, banned: &[&str]) {
    let found: Vec<_> = banned.iter().filter(|b| deps.contains(**b)).collect();
    assert!(
        found.is_empty(),
        "{krate} must not depend on {found:?} (see ARCHITECTURE.md)"
    );
}

/// Invariant: `crates/domain` does no IO and knows nothing of runtimes, the web or databases.
#[test]
fn domain_is_pure() {
    let g = graph();
    // The graph is read correctly: the server does pull in the runtime and the database.
    let node = g.closure("store-node");
    assert!(node.contains("tokio") && node.contains("rusqlite") && node.contains("domain"));
    assert_none_of("domain", &g.closure("domain"), IO);
}

/// Invariant: `crates/sync` is sans-IO: it opens no socket and needs no runtime.
#[test]
fn sync_is_sans_io() {
    let g = graph();
    assert_none_of("sync", &g.closure("sync"), IO);
}

/// Invariant: `crates/api-types`, the contract of both servers' APIs, links no server, runtime
/// or database, so a CLI or a desktop shell can speak to the hub or a node without them. The
/// graph is the workspace's, so its `openapi` feature is on as the servers use it.
#[test]
fn api_types_depend_on_no_server_runtime_or_database() {
    let g = graph();
    let closure = g.closure("api-types");
    assert!(
        closure.contains("domain") && closure.contains("serde"),
        "the scan sees api-types' dependencies: {closure:?}"
    );
    assert_none_of(
        "api-types",
        &closure,
        &[
            "store-node",
            "cloud-hub",
            "tokio",
            "mio",
            "axum",
            "hyper",
            "tower",
            "sqlx",
            "rusqlite",
            "libsqlite3-sys",
            "reqwest",
            "rumqttd",
            "rumqttc",
            "serialport",
            "socket2",
            "automerge",
        ],
    );
    let allowed = ["domain", "serde", "serde_json", "uuid", "utoipa"];
    let direct = g.direct("api-types");
    let other: Vec<_> = direct
        .iter()
        .filter(|d| !allowed.contains(&d.as_str()))
        .collect();
    assert!(
        other.is_empty(),
        "api-types depends directly only on {allowed:?}, not {other:?} (see ARCHITECTURE.md)"
    );
}

/// Invariant: dependencies point one way: domain <- sync, drivers, api-types <- servers. Nothing depends on a server.
#[test]
fn dependencies_point_one_way() {
    let g = graph();
    let ours: BTreeSet<String> = g.members.keys().cloned().collect();
    let internal =
        |m: &str| -> BTreeSet<String> { g.direct(m).intersection(&ours).cloned().collect() };
    assert!(
        internal("domain").is_empty(),
        "domain depends on no other crate of ours"
    );
    for lib in ["sync", "drivers", "api-types"] {
        let deps = internal(lib);
        assert!(
            deps.iter().all(|d| d == "domain"),
            "{lib} may depend only on domain, not {deps:?}"
        );
    }
    for member in g.members.keys() {
        for server in ["store-node", "cloud-hub"] {
            if member != server {
                assert!(
                    !g.closure(member).contains(server),
                    "{member} depends on the server crate {server}"
                );
            }
        }
    }
}

/// The `.rs` files under `dir`, recursively.
fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("source directory reads") {
        let path = entry.expect("directory entry reads").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Whether `code` (comments removed, whitespace squeezed out) names the module `http` of
/// `crate` or `super`: a path (`crate::http::…`) or an item of a grouped import
/// (`crate::{db, http::error}`).
fn names_http(code: &str) -> bool {
    for root in ["crate::", "super::"] {
        let mut rest = code;
        while let Some(at) = rest.find(root) {
            let after = &rest[at + root.len()..];
            if after.starts_with("http::")
                || after.starts_with("http;")
                || after.starts_with("http,")
                || after.starts_with("http}")
            {
                return true;
            }
            if let Some(group) = after.strip_prefix('{') {
                let (mut depth, mut item) = (0usize, String::new());
                for c in group.chars() {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => break,
                        '}' => depth -= 1,
                        ',' if depth == 0 => {
                            if item == "http" || item.starts_with("http::") {
                                return true;
                            }
                            item.clear();
                            continue;
                        }
                        _ => {}
                    }
                    item.push(c);
                }
                if item == "http" || item.starts_with("http::") {
                    return true;
                }
            }
            rest = after;
        }
    }
    false
}

/// Invariant: in the store node, HTTP is an edge. Only `http/` (the handlers) and `lib.rs`
/// (which serves them) use `crate::http`; the services (`orders`, `menu`), the devices, the
/// sync client and the rest never reach up into it, so they can be called without HTTP and
/// the module graph has no cycle through the handlers.
#[test]
fn store_node_services_do_not_import_http() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../store-node/src");
    let mut files = vec![];
    rust_files(&src, &mut files);
    assert!(
        files.iter().any(|f| f.ends_with("orders/mod.rs")),
        "the scan finds the store node's sources"
    );
    let mut offenders = vec![];
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap();
        if rel.starts_with("http") || rel == std::path::Path::new("lib.rs") {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        let code: String = text
            .lines()
            .map(|l| l.split("//").next().unwrap_or(""))
            .flat_map(|l| l.chars().filter(|c| !c.is_whitespace()))
            .collect();
        if names_http(&code) {
            offenders.push(rel.display().to_string());
        }
    }
    assert!(
        offenders.is_empty(),
        "only store-node/src/http/ and lib.rs may use crate::http (ARCHITECTURE.md); found in {offenders:?}"
    );
}

#[test]
fn the_http_import_scan_sees_paths_and_groups() {
    assert!(names_http("usecrate::http::error::ApiError;"));
    assert!(names_http("letx=super::http::orders::load(c);"));
    assert!(names_http("usecrate::{db::Db,http::menu};"));
    assert!(names_http("usecrate::{http,db};"));
    assert!(!names_http("useaxum::http::StatusCode;"));
    assert!(!names_http(
        "usecrate::{db::Db,https};usecrate::http_client;"
    ));
}

/// The event kinds of a store's log. Their names live in `crates/domain` (`domain::fact::kind`);
/// the servers and the sync protocol use those constants, so a kind is spelt in one place.
const EVENT_KINDS: [&str; 7] = [
    "order.created",
    "order.changed",
    "payment.recorded",
    "payment.refunded",
    "menu.changed",
    "device.health",
    "device.status",
];

/// `code` without its comments (`// …` to the end of the line, `/* … */`, nested), its string,
/// raw string and char literals kept as they are, so `//` inside a string is not a comment.
fn without_comments(code: &str) -> String {
    let c: Vec<char> = code.chars().collect();
    let ident = |ch: char| ch.is_alphanumeric() || ch == '_';
    let mut out = String::new();
    let mut i = 0;
    while i < c.len() {
        let next = c.get(i + 1).copied();
        if c[i] == '/' && next == Some('/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if c[i] == '/' && next == Some('*') {
            let mut depth = 0usize;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c[i] == 'r'
            && (i == 0 || !ident(c[i - 1]) || (c[i - 1] == 'b' && (i < 2 || !ident(c[i - 2]))))
            && {
                let hashes = c[i + 1..].iter().take_while(|&&h| h == '#').count();
                c.get(i + 1 + hashes) == Some(&'"')
            }
        {
            // A raw string: r"…", r#"…"#.
            let hashes = c[i + 1..].iter().take_while(|&&h| h == '#').count();
            let start = i;
            i += hashes + 2;
            while i < c.len() {
                if c[i] == '"' && c[i + 1..].iter().take_while(|&&h| h == '#').count() >= hashes {
                    i += 1 + hashes;
                    break;
                }
                i += 1;
            }
            out.extend(&c[start..i.min(c.len())]);
        } else if c[i] == '"' {
            let start = i;
            i += 1;
            while i < c.len() && c[i] != '"' {
                i += if c[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.extend(&c[start..i.min(c.len())]);
        } else if c[i] == '\'' && (next == Some('\\') || c.get(i + 2) == Some(&'\'')) {
            // A char literal ('"', '\''); otherwise a lifetime, copied as it is.
            let start = i;
            i += if next == Some('\\') { 3 } else { 2 };
            while i < c.len() && c[i] != '\'' {
                i += 1;
            }
            i += 1;
            out.extend(&c[start..i.min(c.len())]);
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

/// A source file's text before its unit-test module (`#[cfg(test)]` then `mod …`).
fn before_test_module(text: &str) -> &str {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut at = 0;
    for (n, line) in lines.iter().enumerate() {
        if line.trim() == "#[cfg(test)]"
            && lines[n + 1..]
                .iter()
                .map(|l| l.trim())
                .find(|l| !l.is_empty() && !l.starts_with("#["))
                .is_some_and(|l| l.starts_with("mod ") || l.starts_with("pub mod "))
        {
            return &text[..at];
        }
        at += line.len();
    }
    text
}

/// The event kinds that `text` (a Rust source file, tests and comments aside) spells as string literals.
fn event_kind_literals(text: &str) -> Vec<&'static str> {
    let code = without_comments(before_test_module(text));
    EVENT_KINDS
        .into_iter()
        .filter(|k| code.contains(&format!("\"{k}\"")))
        .collect()
}

/// Invariant: the event kinds are named by the domain only. The store node, the hub and
/// the sync protocol use `domain::fact::kind`, never a string of their own, so the names
/// on the wire have one definition (unit tests and comments may spell them).
#[test]
fn event_kinds_are_named_only_by_the_domain() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let domain = std::fs::read_to_string(root.join("crates/domain/src/fact.rs")).unwrap();
    assert_eq!(
        event_kind_literals(&domain),
        EVENT_KINDS,
        "the scan finds the kinds where the domain names them"
    );
    let mut offenders = vec![];
    for dir in ["store-node/src", "cloud-hub/src", "crates/sync/src"] {
        let src = root.join(dir);
        let mut files = vec![];
        rust_files(&src, &mut files);
        assert!(!files.is_empty(), "the scan finds the sources of {dir}");
        for file in &files {
            let rel = file.strip_prefix(&src).unwrap();
            if rel.iter().any(|c| c == "tests" || c == "tests.rs") {
                continue;
            }
            let text = std::fs::read_to_string(file).unwrap();
            for k in event_kind_literals(&text) {
                offenders.push(format!("{dir}/{}: {k:?}", rel.display()));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "event kinds are spelt only in crates/domain (use domain::fact::kind); found {offenders:#?}"
    );
}

#[test]
fn the_event_kind_scan_skips_comments_and_unit_tests() {
    assert_eq!(
        event_kind_literals(r#"let k = "order.created";"#),
        ["order.created"]
    );
    assert_eq!(
        event_kind_literals(
            r##"let u = "http://x"; let k = r#"menu.changed"#; // "device.health""##
        ),
        ["menu.changed"],
        "`//` in a string is no comment, a raw string is a literal, a comment is not code"
    );
    assert_eq!(
        event_kind_literals("let q = '\"'; f(\"device.status\"); /* \"order.changed\" */"),
        ["device.status"]
    );
    assert_eq!(
        event_kind_literals(
            "fn a<'x>(s: &'x str) {}\n/// \"payment.recorded\"\nfn b() {}\n#[cfg(test)]\nmod tests {\n    const K: &str = \"payment.refunded\";\n}\n"
        ),
        Vec::<&str>::new()
    );
}
