//! A store's shared documents as the HTTP handlers reach them: the store's
//! live state (404 `not_found` for a store that does not exist), and one edit
//! of a document, saved and pushed to the store's nodes.

use std::sync::Arc;

use sync::doc::{DocKind, SharedDoc};

use super::error::{ApiError, ApiResult};
use crate::hub::{HUB_REPLICA, Hub, StoreError, StoreState};

/// A store's live state (its documents loaded on first use); 404 `not_found`
/// for a store that does not exist, 500 when it cannot be loaded.
pub(crate) async fn open_store(hub: &Hub, id: &str) -> ApiResult<Arc<StoreState>> {
    match hub.store(id).await {
        Ok(s) => Ok(s),
        Err(StoreError::NotFound) => Err(ApiError::not_found("store")),
        Err(e) => Err(ApiError::internal(e)),
    }
}

/// Changes one of a store's shared documents (created empty if missing), saves it and tells the
/// store's open sync connections to push it to the nodes. When `edit` fails nothing is saved now
/// (a partial change stays in memory and goes out with the next save, as automerge keeps it).
pub(crate) async fn edit_doc<T>(
    hub: &Hub,
    store_id: &str,
    kind: DocKind,
    edit: impl FnOnce(&mut SharedDoc) -> ApiResult<T>,
) -> ApiResult<T> {
    let store = open_store(hub, store_id).await?;
    let mut g = store.docs.lock().await;
    let doc = g
        .docs
        .entry(kind)
        .or_insert_with(|| SharedDoc::new(kind, HUB_REPLICA.as_bytes()));
    let out = edit(doc)?;
    g.save(&hub.db, store_id, &[kind]).await?;
    store.notify(0);
    Ok(out)
}
