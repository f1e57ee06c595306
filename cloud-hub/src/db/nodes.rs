//! Pairing codes and enrolled store nodes (`docs/enrollment.md`). Same SQL text on SQLite and
//! PostgreSQL.
//!
//! Enrolling is one transaction: the code is read, marked used by the node's key, and the node
//! row inserted, or nothing. `enrolled_nodes.code_hash` is UNIQUE and the code is marked used
//! only `WHERE used_at IS NULL`, so two enrollments racing with one code make one node: the
//! loser re-reads and gets the winner's node when its key is the same, `invalid_code` otherwise.

use sqlx::Row;

use super::{BeginWrite, Db};

/// A pairing code as stored (never the code itself).
#[derive(Debug, Clone)]
pub struct PairingCodeRow {
    pub code_hash: String,
    pub code_id: String,
    pub store_id: String,
    pub label: Option<String>,
    pub created_by: String,
    pub created_by_name: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub used_by_key: Option<String>,
    pub revoked_at: Option<i64>,
}

/// An enrolled node.
#[derive(Debug, Clone)]
pub struct NodeRow {
    pub node_id: String,
    pub store_id: String,
    pub public_key: String,
    pub label: Option<String>,
    pub enrolled_at: i64,
    pub enrolled_by: String,
    pub enrolled_by_name: String,
    pub ticket_prefix: String,
    pub revoked_at: Option<i64>,
}

/// What an enrollment attempt came to.
#[derive(Debug)]
pub enum Enrollment {
    /// A new node.
    Enrolled(NodeRow),
    /// This key already enrolled with this code: its node.
    Again(NodeRow),
    /// Unknown, expired, used by another key, or revoked.
    Invalid,
    /// The code is for another store than the node said (the code stays usable).
    WrongStore,
}

/// A new node's row, less what the transaction decides (its ticket prefix).
#[derive(Debug)]
pub struct NewNode<'a> {
    pub node_id: &'a str,
    pub public_key: &'a str,
    pub label: Option<&'a str>,
    /// The store the node says it holds data for.
    pub store_id: Option<&'a str>,
}

const CODE_COLUMNS: &str = "c.code_hash, c.code_id, c.store_id, c.label, c.created_by, \
     COALESCE(u.name, u.email, 'Platform admin') AS created_by_name, c.created_at, c.expires_at, \
     c.used_at, c.used_by_key, c.revoked_at \
     FROM pairing_codes c LEFT JOIN users u ON u.id = c.created_by";

const NODE_COLUMNS: &str = "n.node_id, n.store_id, n.public_key, n.label, n.enrolled_at, \
     n.enrolled_by, COALESCE(u.name, u.email, 'Platform admin') AS enrolled_by_name, \
     n.ticket_prefix, n.revoked_at \
     FROM enrolled_nodes n LEFT JOIN users u ON u.id = n.enrolled_by";

/// A [`PairingCodeRow`] from a row of `SELECT {CODE_COLUMNS}`.
macro_rules! code_row {
    ($r:expr) => {{
        let r = $r;
        let name: String = r.try_get("created_by_name")?;
        Ok::<_, sqlx::Error>(PairingCodeRow {
            code_hash: r.try_get("code_hash")?,
            code_id: r.try_get("code_id")?,
            store_id: r.try_get("store_id")?,
            label: r.try_get("label")?,
            created_by: r.try_get("created_by")?,
            created_by_name: if name.is_empty() {
                "Someone".into()
            } else {
                name
            },
            created_at: r.try_get("created_at")?,
            expires_at: r.try_get("expires_at")?,
            used_at: r.try_get("used_at")?,
            used_by_key: r.try_get("used_by_key")?,
            revoked_at: r.try_get("revoked_at")?,
        })
    }};
}

/// A [`NodeRow`] from a row of `SELECT {NODE_COLUMNS}`.
macro_rules! node_row {
    ($r:expr) => {{
        let r = $r;
        let name: String = r.try_get("enrolled_by_name")?;
        Ok::<_, sqlx::Error>(NodeRow {
            node_id: r.try_get("node_id")?,
            store_id: r.try_get("store_id")?,
            public_key: r.try_get("public_key")?,
            label: r.try_get("label")?,
            enrolled_at: r.try_get("enrolled_at")?,
            enrolled_by: r.try_get("enrolled_by")?,
            enrolled_by_name: if name.is_empty() {
                "Someone".into()
            } else {
                name
            },
            ticket_prefix: r.try_get("ticket_prefix")?,
            revoked_at: r.try_get("revoked_at")?,
        })
    }};
}

impl Db {
    #[allow(clippy::too_many_arguments)]
    pub async fn insert_pairing_code(
        &self,
        code_hash: &str,
        code_id: &str,
        store_id: &str,
        label: Option<&str>,
        created_by: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<(), sqlx::Error> {
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO pairing_codes (code_hash, code_id, store_id, label, created_by, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(code_hash.to_owned())
        .bind(code_id.to_owned())
        .bind(store_id.to_owned())
        .bind(label.map(str::to_owned))
        .bind(created_by.to_owned())
        .bind(now)
        .bind(expires_at)
        .execute(pool)
        .await
        .map(|_| ()))
    }

    /// A store's codes not used yet, newest first.
    pub async fn unused_pairing_codes(
        &self,
        store_id: &str,
    ) -> Result<Vec<PairingCodeRow>, sqlx::Error> {
        let sql = format!(
            "SELECT {CODE_COLUMNS} WHERE c.store_id = $1 AND c.used_at IS NULL \
             ORDER BY c.created_at DESC, c.code_id LIMIT 200"
        );
        on_pool!(self, pool => {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(store_id.to_owned())
                .fetch_all(pool)
                .await?;
            rows.iter().map(|r| code_row!(r)).collect()
        })
    }

    /// Revokes a code of `store_id` (keeping the first revocation time); `None` when there is none.
    pub async fn revoke_pairing_code(
        &self,
        store_id: &str,
        code_id: &str,
        now: i64,
    ) -> Result<Option<PairingCodeRow>, sqlx::Error> {
        let sql = format!("SELECT {CODE_COLUMNS} WHERE c.store_id = $1 AND c.code_id = $2");
        on_pool!(self, pool => {
            sqlx::query(
                "UPDATE pairing_codes SET revoked_at = COALESCE(revoked_at, $3) WHERE store_id = $1 AND code_id = $2",
            )
            .bind(store_id.to_owned())
            .bind(code_id.to_owned())
            .bind(now)
            .execute(pool)
            .await?;
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(store_id.to_owned())
                .bind(code_id.to_owned())
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(|r| code_row!(r)).transpose()
        })
    }

    /// Node tokens and enrolled nodes of a store: the next node's number.
    pub async fn count_store_nodes(&self, store_id: &str) -> Result<usize, sqlx::Error> {
        let n: i64 = on_pool!(self, pool => sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM node_tokens WHERE store_id = $1) \
                  + (SELECT COUNT(*) FROM enrolled_nodes WHERE store_id = $1)",
        )
        .bind(store_id.to_owned())
        .fetch_one(pool)
        .await?);
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Enrolls a node with the code whose hash is `code_hash`, at `now` (see the module doc).
    pub async fn enroll(
        &self,
        code_hash: &str,
        node: NewNode<'_>,
        now: i64,
    ) -> Result<Enrollment, sqlx::Error> {
        match self.try_enroll(code_hash, &node, now).await {
            Err(sqlx::Error::Database(d)) if d.is_unique_violation() => {
                // Lost a race for this code: whoever won decides.
                self.enrollment_again(code_hash, node.public_key).await
            }
            other => other,
        }
    }

    /// The node this key made with this code, if it did.
    async fn enrollment_again(
        &self,
        code_hash: &str,
        public_key: &str,
    ) -> Result<Enrollment, sqlx::Error> {
        let sql = format!("SELECT {NODE_COLUMNS} WHERE n.code_hash = $1");
        let row = on_pool!(self, pool => {
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(code_hash.to_owned())
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(|r| node_row!(r)).transpose()?
        });
        Ok(match row {
            Some(n) if n.public_key == public_key => Enrollment::Again(n),
            _ => Enrollment::Invalid,
        })
    }

    async fn try_enroll(
        &self,
        code_hash: &str,
        node: &NewNode<'_>,
        now: i64,
    ) -> Result<Enrollment, sqlx::Error> {
        let code_sql = format!("SELECT {CODE_COLUMNS} WHERE c.code_hash = $1");
        let node_sql = format!("SELECT {NODE_COLUMNS} WHERE n.code_hash = $1");
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let code = sqlx::query(sqlx::AssertSqlSafe(code_sql))
                .bind(code_hash.to_owned())
                .fetch_optional(&mut *tx)
                .await?;
            let Some(code) = code.as_ref().map(|r| code_row!(r)).transpose()? else {
                return Ok(Enrollment::Invalid);
            };
            if code.used_at.is_some() {
                drop(tx);
                return self.enrollment_again(code_hash, node.public_key).await;
            }
            if code.revoked_at.is_some() || code.expires_at <= now {
                return Ok(Enrollment::Invalid);
            }
            if node.store_id.is_some_and(|s| s != code.store_id) {
                return Ok(Enrollment::WrongStore);
            }
            let n: i64 = sqlx::query_scalar(
                "SELECT (SELECT COUNT(*) FROM node_tokens WHERE store_id = $1) \
                      + (SELECT COUNT(*) FROM enrolled_nodes WHERE store_id = $1)",
            )
            .bind(code.store_id.clone())
            .fetch_one(&mut *tx)
            .await?;
            let prefix = domain::ticket::node_prefix(usize::try_from(n).unwrap_or(0)).to_string();
            let marked = sqlx::query(
                "UPDATE pairing_codes SET used_at = $2, used_by_key = $3 WHERE code_hash = $1 AND used_at IS NULL",
            )
            .bind(code_hash.to_owned())
            .bind(now)
            .bind(node.public_key.to_owned())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if marked != 1 {
                drop(tx);
                return self.enrollment_again(code_hash, node.public_key).await;
            }
            sqlx::query(
                "INSERT INTO enrolled_nodes (node_id, store_id, public_key, label, enrolled_at, enrolled_by, code_hash, ticket_prefix) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(node.node_id.to_owned())
            .bind(code.store_id.clone())
            .bind(node.public_key.to_owned())
            .bind(node.label.map(str::to_owned))
            .bind(now)
            .bind(code.created_by.clone())
            .bind(code_hash.to_owned())
            .bind(prefix)
            .execute(&mut *tx)
            .await?;
            let row = sqlx::query(sqlx::AssertSqlSafe(node_sql))
                .bind(code_hash.to_owned())
                .fetch_one(&mut *tx)
                .await?;
            let row = node_row!(&row)?;
            tx.commit().await?;
            Ok(Enrollment::Enrolled(row))
        })
    }

    /// A store's enrolled nodes, oldest first.
    pub async fn store_enrolled_nodes(&self, store_id: &str) -> Result<Vec<NodeRow>, sqlx::Error> {
        let sql = format!(
            "SELECT {NODE_COLUMNS} WHERE n.store_id = $1 ORDER BY n.enrolled_at, n.node_id"
        );
        on_pool!(self, pool => {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(store_id.to_owned())
                .fetch_all(pool)
                .await?;
            rows.iter().map(|r| node_row!(r)).collect()
        })
    }

    pub async fn enrolled_node(&self, node_id: &str) -> Result<Option<NodeRow>, sqlx::Error> {
        let sql = format!("SELECT {NODE_COLUMNS} WHERE n.node_id = $1");
        on_pool!(self, pool => {
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(node_id.to_owned())
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(|r| node_row!(r)).transpose()
        })
    }

    /// Revokes a node of `store_id` (keeping the first revocation time); `None` when there is none.
    pub async fn revoke_enrolled_node(
        &self,
        store_id: &str,
        node_id: &str,
        now: i64,
    ) -> Result<Option<NodeRow>, sqlx::Error> {
        let n = on_pool!(self, pool => sqlx::query(
            "UPDATE enrolled_nodes SET revoked_at = COALESCE(revoked_at, $3) WHERE store_id = $1 AND node_id = $2",
        )
        .bind(store_id.to_owned())
        .bind(node_id.to_owned())
        .bind(now)
        .execute(pool)
        .await?
        .rows_affected());
        if n == 0 {
            return Ok(None);
        }
        self.enrolled_node(node_id).await
    }
}
