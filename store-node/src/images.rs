//! Menu pictures at the store, so the kiosk shows them with the internet down.
//!
//! A menu item's `image` may name a picture the hub keeps
//! (`/api/v1/public/images/<sha256>.<ext>`, see `api_types::hub::images`).
//! When the node syncs with a hub, this task fetches every picture its menu
//! names and it does not have yet, over plain HTTP from the hub's address
//! (the sync link's host and port, with the node token), checks that the
//! bytes hash to the name and are the kind it says, and keeps them as files in
//! `<data_dir>/images/`; `http::images` serves them at the same path as the
//! hub, so the relative URL in the menu works at the node's own apps.
//!
//! It never blocks ordering: it runs on its own task, outside the writer (the
//! files are not the database: a picture is a cache of the hub's copy, named
//! by its hash, written to a temporary file and renamed into place). It runs
//! at start-up, whenever the menu changes (`menu.changed` on the bus), when
//! the sync link comes back, and after a failure with exponential backoff
//! (2 s doubling to 10 minutes), so an unreachable hub is tried again later.
//!
//! Limits: one picture at most [`MAX_IMAGE_BYTES`] (the hub's upload limit),
//! all of them at most [`MAX_TOTAL_BYTES`] (256 MiB: 128 of the largest
//! pictures; a menu photo is usually 50 to 300 KB). To make room, pictures
//! the current menu no longer names are deleted; the menu's own never are,
//! and one that still does not fit is left unfetched (logged).

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use api_kit::https::{HttpsClient, HttpsError};
use api_types::hub::images::{ImageKind, ImageName};
use domain::fact::kind;
use domain::menu::Menu;
use sha2::{Digest, Sha256};
use tokio::sync::broadcast::error::RecvError;

use crate::state::AppState;

/// The largest picture the node takes (the hub's upload limit).
pub const MAX_IMAGE_BYTES: usize = 2 * 1024 * 1024;
/// The most the kept pictures may take on disk together.
pub const MAX_TOTAL_BYTES: u64 = 256 * 1024 * 1024;
/// How long one fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(30);
/// First wait after a failed round; doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(2);
const MAX_BACKOFF: Duration = Duration::from_secs(600);

/// Why a picture was not fetched or kept.
#[derive(Debug, thiserror::Error)]
pub enum PictureError {
    #[error("the hub is unreachable: {0}")]
    Unreachable(String),
    #[error("the hub answered {0}")]
    Status(u16),
    #[error("the picture is over {MAX_IMAGE_BYTES} bytes")]
    TooLarge,
    #[error("the bytes do not hash to the picture's name")]
    HashMismatch,
    #[error("the bytes are not a {0} picture")]
    WrongKind(&'static str),
    #[error("keeping it would take the pictures over {MAX_TOTAL_BYTES} bytes")]
    Full,
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// The pictures kept on disk: `<data_dir>/images/<sha256>.<ext>`.
#[derive(Debug, Clone)]
pub struct Pictures {
    dir: PathBuf,
    max_total: u64,
}

impl Pictures {
    /// The node's pictures, in its data directory.
    pub fn of(data_dir: &Path) -> Pictures {
        Pictures::at(data_dir.join("images"), MAX_TOTAL_BYTES)
    }

    /// Pictures kept in `dir`, at most `max_total` bytes together.
    pub fn at(dir: PathBuf, max_total: u64) -> Pictures {
        Pictures { dir, max_total }
    }

    fn path(&self, name: &ImageName) -> PathBuf {
        self.dir.join(name.file_name())
    }

    pub fn has(&self, name: &ImageName) -> bool {
        self.path(name).is_file()
    }

    /// A kept picture's bytes; None when the node does not have it.
    pub async fn read(&self, name: &ImageName) -> std::io::Result<Option<Vec<u8>>> {
        match tokio::fs::read(self.path(name)).await {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The kept pictures and their sizes.
    fn kept(&self) -> std::io::Result<Vec<(ImageName, u64)>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
            Err(e) => return Err(e),
        };
        let mut out = vec![];
        for entry in entries {
            let entry = entry?;
            let Some(name) = entry.file_name().to_str().and_then(ImageName::parse) else {
                continue; // a temporary file, or something not ours
            };
            out.push((name, entry.metadata()?.len()));
        }
        Ok(out)
    }

    /// Keeps checked bytes under `name` (blocking IO: call off the runtime).
    /// Pictures not in `keep` are deleted when needed to stay under the limit.
    pub fn store(
        &self,
        name: &ImageName,
        bytes: &[u8],
        keep: &HashSet<ImageName>,
    ) -> Result<(), PictureError> {
        std::fs::create_dir_all(&self.dir)?;
        let kept = self.kept()?;
        let mut total: u64 = kept.iter().map(|(_, n)| n).sum();
        let size = bytes.len() as u64;
        for (old, n) in &kept {
            if total + size <= self.max_total {
                break;
            }
            if !keep.contains(old) {
                std::fs::remove_file(self.path(old))?;
                total -= n;
                tracing::info!(image = %old.file_name(), "picture the menu no longer names removed");
            }
        }
        if total + size > self.max_total {
            return Err(PictureError::Full);
        }
        let tmp = self.dir.join(format!("{}.part", name.file_name()));
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, self.path(name))?;
        Ok(())
    }
}

/// The pictures of the hub's a menu names (other `image` values are left alone).
pub fn named_by(menu: &Menu) -> HashSet<ImageName> {
    menu.items
        .iter()
        .filter_map(|i| i.image.as_deref())
        .filter_map(ImageName::from_url)
        .collect()
}

/// Checks fetched bytes against their name: the hash, and the kind by the first bytes.
pub fn verify(name: &ImageName, bytes: &[u8]) -> Result<(), PictureError> {
    if hex::encode(Sha256::digest(bytes)) != name.sha256 {
        return Err(PictureError::HashMismatch);
    }
    if ImageKind::sniff(bytes) != Some(name.kind) {
        return Err(PictureError::WrongKind(name.kind.label()));
    }
    Ok(())
}

/// The hub's HTTP address from its sync URL: `ws://host:port/...` -> `http://host:port`.
pub fn http_base(sync_url: &str) -> Option<String> {
    let uri: axum::http::Uri = sync_url.parse().ok()?;
    let scheme = match uri.scheme_str()? {
        "ws" => "http",
        "wss" => "https",
        _ => return None,
    };
    Some(format!("{scheme}://{}", uri.authority()?))
}

/// The client pictures are fetched with: [`FETCH_TIMEOUT`] each, at most [`MAX_IMAGE_BYTES`].
pub fn client(tls: &std::sync::Arc<rustls::ClientConfig>) -> HttpsClient {
    crate::tls::hub_http(tls, FETCH_TIMEOUT, MAX_IMAGE_BYTES)
}

/// Fetches one picture from the hub at `base` and checks it. Pictures are public
/// at the hub; a node with a legacy token still sends it.
pub async fn fetch(
    http: &HttpsClient,
    base: &str,
    token: Option<&str>,
    name: &ImageName,
) -> Result<Vec<u8>, PictureError> {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = bearer
        .iter()
        .map(|b| ("authorization", b.as_str()))
        .collect();
    let r = http
        .get(&format!("{base}{}", name.url()), &headers)
        .await
        .map_err(|e| match e {
            HttpsError::TooLarge(_) => PictureError::TooLarge,
            e => PictureError::Unreachable(e.to_string()),
        })?;
    if !r.status.is_success() {
        return Err(PictureError::Status(r.status.as_u16()));
    }
    verify(name, &r.body)?;
    Ok(r.body.to_vec())
}

/// How one round went.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Round {
    /// Pictures fetched and kept.
    pub fetched: usize,
    /// Pictures still missing (to try again later).
    pub missing: usize,
}

/// Fetches the pictures `menu` names that `pictures` lacks, one after another.
pub async fn fetch_missing(
    http: &HttpsClient,
    base: &str,
    token: Option<&str>,
    pictures: &Pictures,
    menu: &Menu,
) -> Round {
    let wanted = named_by(menu);
    let mut round = Round::default();
    for name in &wanted {
        if pictures.has(name) {
            continue;
        }
        let kept = match fetch(http, base, token, name).await {
            Ok(bytes) => {
                let (p, n, keep) = (pictures.clone(), name.clone(), wanted.clone());
                tokio::task::spawn_blocking(move || p.store(&n, &bytes, &keep))
                    .await
                    .unwrap_or_else(|e| Err(std::io::Error::other(e).into()))
            }
            Err(e) => Err(e),
        };
        match kept {
            Ok(()) => {
                round.fetched += 1;
                tracing::info!(image = %name.file_name(), "menu picture fetched from the hub");
            }
            Err(e) => {
                round.missing += 1;
                tracing::warn!(image = %name.file_name(), error = %e, "menu picture not fetched; will try again");
            }
        }
    }
    round
}

/// Starts the fetcher when the node syncs with a hub; it ends when the event bus closes.
pub fn spawn(state: Arc<AppState>) -> Option<tokio::task::JoinHandle<()>> {
    let hub = state.config.hub.as_ref()?;
    let Some(base) = http_base(&hub.url) else {
        tracing::warn!(url = %hub.url, "menu pictures are not fetched: the hub URL has no HTTP address");
        return None;
    };
    Some(tokio::spawn(run(state, base)))
}

async fn run(state: Arc<AppState>, base: String) {
    let token = state
        .config
        .hub
        .as_ref()
        .map(|h| h.token.expose().to_owned())
        .filter(|t| !t.is_empty());
    let http = client(&state.hub_tls);
    let pictures = Pictures::of(&state.config.data_dir);
    let mut bus = state.bus.subscribe();
    let mut link = state.sync_changed.subscribe();
    let mut backoff = FIRST_BACKOFF;
    loop {
        let menu = match state.db.read(crate::menu::load_menu).await {
            Ok(m) => m.map(|m| m.menu),
            Err(e) => {
                tracing::warn!(error = %e, "menu pictures: the menu cannot be read");
                None
            }
        };
        let round = match &menu {
            Some(menu) => fetch_missing(&http, &base, token.as_deref(), &pictures, menu).await,
            None => Round::default(),
        };
        let retry = if round.missing > 0 {
            let wait = backoff;
            backoff = (backoff * 2).min(MAX_BACKOFF);
            Some(wait)
        } else {
            backoff = FIRST_BACKOFF;
            None
        };
        // Wait for a menu change; while pictures are missing, also for the retry
        // time or the sync link coming back (the hub is reachable again).
        tokio::select! {
            closed = menu_changed(&mut bus) => if closed { return },
            _ = link_back(&state, &mut link), if retry.is_some() => {}
            _ = tokio::time::sleep(retry.unwrap_or(MAX_BACKOFF)), if retry.is_some() => {}
        }
    }
}

/// Waits until the sync link goes from down to up (never, once the node stops).
async fn link_back(state: &AppState, link: &mut tokio::sync::watch::Receiver<u64>) {
    let connected = || state.sync.lock().map(|h| h.connected).unwrap_or(false);
    let mut was = connected();
    loop {
        if link.changed().await.is_err() {
            return std::future::pending().await;
        }
        let now = connected();
        if now && !was {
            return;
        }
        was = now;
    }
}

/// Waits for the next `menu.changed` (true when the bus closed: the node stops).
async fn menu_changed(
    bus: &mut tokio::sync::broadcast::Receiver<Arc<crate::events::StoredEvent>>,
) -> bool {
    loop {
        match bus.recv().await {
            Ok(ev) if ev.kind == kind::MENU_CHANGED => return false,
            Ok(_) => continue,
            // Missed some: one of them may have been a menu change.
            Err(RecvError::Lagged(_)) => return false,
            Err(RecvError::Closed) => return true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name_of(bytes: &[u8], kind: ImageKind) -> ImageName {
        ImageName::new(hex::encode(Sha256::digest(bytes)), kind)
    }

    fn png(fill: u8, len: usize) -> Vec<u8> {
        let mut b = b"\x89PNG\r\n\x1a\n".to_vec();
        b.resize(len, fill);
        b
    }

    #[test]
    fn fetched_bytes_must_hash_to_their_name_and_be_their_kind() {
        let bytes = png(1, 40);
        let name = name_of(&bytes, ImageKind::Png);
        assert!(verify(&name, &bytes).is_ok());
        assert!(matches!(
            verify(&name, &png(2, 40)),
            Err(PictureError::HashMismatch)
        ));
        let as_jpeg = name_of(&bytes, ImageKind::Jpeg);
        assert!(matches!(
            verify(&as_jpeg, &bytes),
            Err(PictureError::WrongKind("JPEG"))
        ));
    }

    #[test]
    fn the_hub_address_comes_from_the_sync_url() {
        assert_eq!(
            http_base("ws://127.0.0.1:8080/api/v1/sync").as_deref(),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(
            http_base("wss://hub.example/api/v1/sync").as_deref(),
            Some("https://hub.example")
        );
        assert_eq!(http_base("ftp://x/y"), None);
    }

    /// A hub that is down is tried again on the next round; bytes that do not
    /// hash to their name are never kept; a picture the node has is not fetched again.
    #[tokio::test]
    async fn a_failed_fetch_is_tried_again_and_a_forged_picture_is_never_kept() {
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

        let good = png(7, 64);
        let name = name_of(&good, ImageKind::Png);
        // The hub answers the good bytes under any name: this one's are forged.
        let forged = name_of(&png(8, 64), ImageKind::Png);
        let down = Arc::new(AtomicBool::new(true));
        let asked = Arc::new(AtomicUsize::new(0));
        let (d, a, bytes) = (down.clone(), asked.clone(), good.clone());
        let hub = axum::Router::new().route(
            "/api/v1/public/images/{name}",
            axum::routing::get(move |headers: axum::http::HeaderMap| {
                let (d, a, bytes) = (d.clone(), a.clone(), bytes.clone());
                async move {
                    a.fetch_add(1, Ordering::SeqCst);
                    let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
                    if auth != Some("Bearer node-token") {
                        return (axum::http::StatusCode::UNAUTHORIZED, vec![]);
                    }
                    if d.load(Ordering::SeqCst) {
                        return (axum::http::StatusCode::SERVICE_UNAVAILABLE, vec![]);
                    }
                    (axum::http::StatusCode::OK, bytes)
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, hub).await });

        let mut menu = crate::demo::menu();
        menu.items[0].image = Some(name.url());
        menu.items[1].image = Some(forged.url());
        menu.items[2].image = Some("/kiosk/art/local.png".into()); // not the hub's: left alone
        let dir = tempfile::tempdir().unwrap();
        let pictures = Pictures::at(dir.path().join("images"), MAX_TOTAL_BYTES);
        let tls = crate::tls::client_config(None).unwrap();
        let http = client(&tls);
        let round =
            async || fetch_missing(&http, &base, Some("node-token"), &pictures, &menu).await;

        assert_eq!(
            round().await,
            Round {
                fetched: 0,
                missing: 2
            }
        );
        assert!(!pictures.has(&name));
        down.store(false, Ordering::SeqCst);
        assert_eq!(
            round().await,
            Round {
                fetched: 1,
                missing: 1
            }
        );
        assert_eq!(pictures.read(&name).await.unwrap(), Some(good));
        assert!(!pictures.has(&forged));
        let before = asked.load(Ordering::SeqCst);
        assert_eq!(
            round().await,
            Round {
                fetched: 0,
                missing: 1
            }
        );
        assert_eq!(
            asked.load(Ordering::SeqCst),
            before + 1,
            "only the forged one is asked for again"
        );
    }

    /// Over the limit, pictures the menu no longer names make room; the menu's own never do.
    #[test]
    fn room_is_made_from_pictures_the_menu_no_longer_names() {
        let dir = tempfile::tempdir().unwrap();
        let store = Pictures::at(dir.path().join("images"), 100);
        let (a, b, c) = (png(1, 40), png(2, 40), png(3, 40));
        let (na, nb, nc) = (
            name_of(&a, ImageKind::Png),
            name_of(&b, ImageKind::Png),
            name_of(&c, ImageKind::Png),
        );
        let keep: HashSet<_> = [na.clone(), nb.clone(), nc.clone()].into();
        store.store(&na, &a, &keep).unwrap();
        store.store(&nb, &b, &keep).unwrap();
        // 120 > 100 and everything is wanted: refused, nothing deleted.
        assert!(matches!(
            store.store(&nc, &c, &keep),
            Err(PictureError::Full)
        ));
        assert!(store.has(&na) && store.has(&nb) && !store.has(&nc));
        // The menu dropped `a`: it makes room for `c`.
        let keep: HashSet<_> = [nb.clone(), nc.clone()].into();
        store.store(&nc, &c, &keep).unwrap();
        assert!(!store.has(&na) && store.has(&nb) && store.has(&nc));
        // No temporary files are left behind.
        let files = std::fs::read_dir(dir.path().join("images"))
            .unwrap()
            .count();
        assert_eq!(files, 2);
    }
}
