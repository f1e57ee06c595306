//! The account tables' queries: organisations, users, memberships,
//! invitations, refresh tokens, signing keys and stored idempotent answers.
//! Same SQL text on SQLite and PostgreSQL, as in the parent module.

use sqlx::Row;

use super::{BeginWrite, Db};

/// A user as stored (the email lower-cased).
#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: String,
    pub email: String,
    pub password_hash: String,
    pub kind: String,
    pub name: String,
    pub created_at: i64,
    pub password_changed_at: i64,
}

/// A membership with its organisation's name.
#[derive(Debug, Clone)]
pub struct MembershipRow {
    pub org_id: String,
    pub org_name: String,
    pub store_id: Option<String>,
    pub role: String,
}

#[derive(Debug, Clone)]
pub struct InvitationRow {
    pub id: String,
    pub org_id: String,
    pub store_id: Option<String>,
    pub role: String,
    pub email: String,
    pub expires_at: i64,
    pub accepted_at: Option<i64>,
}

/// An invitation to insert; only the token's hash is kept.
#[derive(Debug, Clone)]
pub struct NewInvitation<'a> {
    pub id: &'a str,
    pub token_hash: &'a str,
    pub org_id: &'a str,
    pub store_id: Option<&'a str>,
    pub role: &'a str,
    pub email: &'a str,
    pub invited_by: Option<&'a str>,
    pub now: i64,
    pub expires_at: i64,
}

#[derive(Debug, Clone)]
pub struct RefreshRow {
    pub user_id: String,
    pub family_id: String,
    pub expires_at: i64,
    pub revoked: bool,
    pub replaced: bool,
}

/// What the extractor needs to know about a signed-in user, per request.
#[derive(Debug, Clone)]
pub struct SessionState {
    pub kind: String,
    pub password_changed_at: i64,
    /// The token's session (refresh family) is neither revoked nor logged out.
    pub live: bool,
}

/// A stored signing key.
#[derive(Debug, Clone)]
pub struct KeyRow {
    pub kid: String,
    pub private_key: Vec<u8>,
    pub public_key: Vec<u8>,
    pub created_at: i64,
}

/// Accepting an invitation did not happen because...
#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    #[error("the invitation was already accepted")]
    AlreadyAccepted,
    #[error("an account with this email exists")]
    EmailTaken,
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
}

/// Where an `Idempotency-Key` stands.
#[derive(Debug)]
pub enum Reservation {
    /// Not seen before (or abandoned): the caller runs the request and completes or releases it.
    Fresh,
    /// Another request with this key is running.
    InFlight,
    /// Answered before: the request hash, status and sealed body.
    Done {
        request_hash: String,
        status: u16,
        body: Vec<u8>,
    },
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

macro_rules! user_from_row {
    ($row:expr) => {{
        let row = $row;
        UserRow {
            id: row.try_get("id")?,
            email: row.try_get("email")?,
            password_hash: row.try_get("password_hash")?,
            kind: row.try_get("kind")?,
            name: row.try_get("name")?,
            created_at: row.try_get("created_at")?,
            password_changed_at: row.try_get("password_changed_at")?,
        }
    }};
}

impl Db {
    // ---- organisations and stores ----

    /// Creates an organisation; false when the id exists.
    pub async fn create_org(&self, id: &str, name: &str, now: i64) -> Result<bool, sqlx::Error> {
        let n = on_pool!(self, pool => sqlx::query(
            "INSERT INTO orgs (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
        )
        .bind(id.to_owned())
        .bind(name.to_owned())
        .bind(now)
        .execute(pool)
        .await?
        .rows_affected());
        Ok(n == 1)
    }

    pub async fn org_name(&self, id: &str) -> Result<Option<String>, sqlx::Error> {
        on_pool!(self, pool => {
            let row = sqlx::query("SELECT name FROM orgs WHERE id = $1")
                .bind(id.to_owned())
                .fetch_optional(pool)
                .await?;
            row.map(|r| r.try_get("name")).transpose()
        })
    }

    /// The organisation of a store: `None` when there is no such store,
    /// `Some(None)` for a store made before organisations.
    pub async fn store_org(&self, store_id: &str) -> Result<Option<Option<String>>, sqlx::Error> {
        on_pool!(self, pool => {
            let row = sqlx::query("SELECT org_id FROM stores WHERE id = $1")
                .bind(store_id.to_owned())
                .fetch_optional(pool)
                .await?;
            row.map(|r| r.try_get::<Option<String>, _>("org_id")).transpose()
        })
    }

    /// The stores of an organisation: (id, name), by id.
    pub async fn org_stores(&self, org_id: &str) -> Result<Vec<(String, String)>, sqlx::Error> {
        on_pool!(self, pool => {
            let rows = sqlx::query("SELECT id, name FROM stores WHERE org_id = $1 ORDER BY id")
                .bind(org_id.to_owned())
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|r| Ok((r.try_get("id")?, r.try_get("name")?)))
                .collect()
        })
    }

    /// The ids of an organisation's stores, in order.
    pub async fn org_store_ids(&self, org_id: &str) -> Result<Vec<String>, sqlx::Error> {
        Ok(self
            .org_stores(org_id)
            .await?
            .into_iter()
            .map(|(id, _)| id)
            .collect())
    }

    // ---- users ----

    /// Inserts a user; false when the email is taken.
    pub async fn insert_user(&self, u: &UserRow) -> Result<bool, sqlx::Error> {
        let r = on_pool!(self, pool => sqlx::query(
            "INSERT INTO users (id, email, password_hash, kind, name, created_at, password_changed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(u.id.clone())
        .bind(u.email.clone())
        .bind(u.password_hash.clone())
        .bind(u.kind.clone())
        .bind(u.name.clone())
        .bind(u.created_at)
        .bind(u.password_changed_at)
        .execute(pool)
        .await
        .map(|_| ()));
        match r {
            Ok(_) => Ok(true),
            Err(e) if is_unique_violation(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub async fn user_by_email(&self, email: &str) -> Result<Option<UserRow>, sqlx::Error> {
        on_pool!(self, pool => {
            let row = sqlx::query(
                "SELECT id, email, password_hash, kind, name, created_at, password_changed_at FROM users WHERE email = $1",
            )
                .bind(email.to_owned())
                .fetch_optional(pool)
                .await?;
            match row {
                None => Ok(None),
                Some(row) => Ok(Some(user_from_row!(row))),
            }
        })
    }

    pub async fn user_by_id(&self, id: &str) -> Result<Option<UserRow>, sqlx::Error> {
        on_pool!(self, pool => {
            let row = sqlx::query(
                "SELECT id, email, password_hash, kind, name, created_at, password_changed_at FROM users WHERE id = $1",
            )
                .bind(id.to_owned())
                .fetch_optional(pool)
                .await?;
            match row {
                None => Ok(None),
                Some(row) => Ok(Some(user_from_row!(row))),
            }
        })
    }

    /// Replaces a hash with a stronger one of the same password (sessions stay valid).
    pub async fn upgrade_password_hash(
        &self,
        user_id: &str,
        old_hash: &str,
        new_hash: &str,
    ) -> Result<(), sqlx::Error> {
        on_pool!(self, pool => sqlx::query(
            "UPDATE users SET password_hash = $3 WHERE id = $1 AND password_hash = $2",
        )
        .bind(user_id.to_owned())
        .bind(old_hash.to_owned())
        .bind(new_hash.to_owned())
        .execute(pool)
        .await
        .map(|_| ()))
    }

    /// Sets a new password and revokes every refresh token of the user, in one transaction.
    pub async fn change_password(
        &self,
        user_id: &str,
        new_hash: &str,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query("UPDATE users SET password_hash = $2, password_changed_at = $3 WHERE id = $1")
                .bind(user_id.to_owned())
                .bind(new_hash.to_owned())
                .bind(now)
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE refresh_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL")
                .bind(user_id.to_owned())
                .bind(now)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// The per-request check of a signed-in user: kind, last password change,
    /// and whether the session `family` is still live. `None` when the user is gone.
    pub async fn session_state(
        &self,
        user_id: &str,
        family: &str,
    ) -> Result<Option<SessionState>, sqlx::Error> {
        on_pool!(self, pool => {
            let row = sqlx::query(
                "SELECT u.kind, u.password_changed_at, CAST(CASE WHEN EXISTS (\
                     SELECT 1 FROM refresh_tokens r WHERE r.family_id = $2 AND r.user_id = u.id \
                     AND r.revoked_at IS NULL AND r.replaced_by IS NULL) THEN 1 ELSE 0 END AS BIGINT) AS live \
                 FROM users u WHERE u.id = $1",
            )
            .bind(user_id.to_owned())
            .bind(family.to_owned())
            .fetch_optional(pool)
            .await?;
            match row {
                None => Ok(None),
                Some(row) => Ok(Some(SessionState {
                    kind: row.try_get("kind")?,
                    password_changed_at: row.try_get("password_changed_at")?,
                    live: row.try_get::<i64, _>("live")? == 1,
                })),
            }
        })
    }

    // ---- memberships ----

    /// Every membership of a user, with the organisations' names.
    pub async fn memberships(&self, user_id: &str) -> Result<Vec<MembershipRow>, sqlx::Error> {
        on_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT m.org_id, o.name AS org_name, m.store_id, m.role FROM memberships m \
                 JOIN orgs o ON o.id = m.org_id WHERE m.user_id = $1 ORDER BY m.org_id, m.store_id",
            )
            .bind(user_id.to_owned())
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|row| {
                    Ok(MembershipRow {
                        org_id: row.try_get("org_id")?,
                        org_name: row.try_get("org_name")?,
                        store_id: row.try_get("store_id")?,
                        role: row.try_get("role")?,
                    })
                })
                .collect()
        })
    }

    /// A user's memberships in one organisation: (store or None for all stores, role).
    pub async fn org_roles(
        &self,
        user_id: &str,
        org_id: &str,
    ) -> Result<Vec<(Option<String>, String)>, sqlx::Error> {
        on_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT store_id, role FROM memberships WHERE user_id = $1 AND org_id = $2",
            )
            .bind(user_id.to_owned())
            .bind(org_id.to_owned())
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|row| Ok((row.try_get("store_id")?, row.try_get("role")?)))
                .collect()
        })
    }

    /// Every (store, role) a user's memberships give: an organisation-wide
    /// membership gives its role in each of the organisation's stores.
    pub async fn store_grants(&self, user_id: &str) -> Result<Vec<(String, String)>, sqlx::Error> {
        on_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT s.id AS store_id, m.role FROM memberships m \
                 JOIN stores s ON s.org_id = m.org_id AND (m.store_id IS NULL OR m.store_id = s.id) \
                 WHERE m.user_id = $1 ORDER BY s.id",
            )
            .bind(user_id.to_owned())
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|row| Ok((row.try_get("store_id")?, row.try_get("role")?)))
                .collect()
        })
    }

    /// Whether a store belongs to an organisation.
    pub async fn store_in_org(&self, store_id: &str, org_id: &str) -> Result<bool, sqlx::Error> {
        on_pool!(self, pool => Ok(sqlx::query("SELECT 1 FROM stores WHERE id = $1 AND org_id = $2")
            .bind(store_id.to_owned())
            .bind(org_id.to_owned())
            .fetch_optional(pool)
            .await?
            .is_some()))
    }

    // ---- invitations ----

    pub async fn insert_invitation(&self, i: &NewInvitation<'_>) -> Result<(), sqlx::Error> {
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO invitations (id, token_hash, org_id, store_id, role, email, invited_by, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(i.id.to_owned())
        .bind(i.token_hash.to_owned())
        .bind(i.org_id.to_owned())
        .bind(i.store_id.map(str::to_owned))
        .bind(i.role.to_owned())
        .bind(i.email.to_owned())
        .bind(i.invited_by.map(str::to_owned))
        .bind(i.now)
        .bind(i.expires_at)
        .execute(pool)
        .await
        .map(|_| ()))
    }

    pub async fn invitation(&self, token_hash: &str) -> Result<Option<InvitationRow>, sqlx::Error> {
        on_pool!(self, pool => {
            let row = sqlx::query(
                "SELECT id, org_id, store_id, role, email, expires_at, accepted_at FROM invitations WHERE token_hash = $1",
            )
            .bind(token_hash.to_owned())
            .fetch_optional(pool)
            .await?;
            match row {
                None => Ok(None),
                Some(row) => Ok(Some(InvitationRow {
                    id: row.try_get("id")?,
                    org_id: row.try_get("org_id")?,
                    store_id: row.try_get("store_id")?,
                    role: row.try_get("role")?,
                    email: row.try_get("email")?,
                    expires_at: row.try_get("expires_at")?,
                    accepted_at: row.try_get("accepted_at")?,
                })),
            }
        })
    }

    /// Accepts an invitation in one transaction: creates `new_user` when given
    /// (else the membership goes to `user_id`), and gives that user the
    /// invitation's role in its scope, unless they already hold a role there
    /// that it would not raise: an invitation only adds or promotes. Lowering
    /// a role is `set_member_role`'s job, with its rules (owners only, never
    /// the last owner), which an inviter, often a manager, could not pass.
    /// Returns the role the user holds in that scope afterwards.
    pub async fn accept_invitation(
        &self,
        inv: &InvitationRow,
        user_id: &str,
        new_user: Option<&UserRow>,
        now: i64,
    ) -> Result<String, AcceptError> {
        let role = on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            // Serialised with role changes and removals, which count owners under the same lock.
            sqlx::query(super::members::LOCK_ORG).bind(inv.org_id.clone()).execute(&mut *tx).await?;
            // The user first: the invitation records who accepted it (a foreign key).
            if let Some(u) = new_user {
                let r = sqlx::query(
                    "INSERT INTO users (id, email, password_hash, kind, name, created_at, password_changed_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(u.id.clone())
                .bind(u.email.clone())
                .bind(u.password_hash.clone())
                .bind(u.kind.clone())
                .bind(u.name.clone())
                .bind(u.created_at)
                .bind(u.password_changed_at)
                .execute(&mut *tx)
                .await;
                match r {
                    Ok(_) => {}
                    Err(e) if is_unique_violation(&e) => return Err(AcceptError::EmailTaken),
                    Err(e) => return Err(e.into()),
                }
            }
            let n = sqlx::query(
                "UPDATE invitations SET accepted_at = $2, accepted_by = $3 WHERE id = $1 AND accepted_at IS NULL",
            )
            .bind(inv.id.clone())
            .bind(now)
            .bind(user_id.to_owned())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n != 1 {
                return Err(AcceptError::AlreadyAccepted);
            }
            let held: Option<String> = sqlx::query(
                "SELECT role FROM memberships WHERE user_id = $1 AND org_id = $2 AND COALESCE(store_id, '') = COALESCE($3, '')",
            )
            .bind(user_id.to_owned())
            .bind(inv.org_id.clone())
            .bind(inv.store_id.clone())
            .fetch_optional(&mut *tx)
            .await?
            .map(|row| row.try_get("role"))
            .transpose()?;
            if let Some(held) = held.filter(|held| rank(held) >= rank(&inv.role)) {
                tx.commit().await?;
                held
            } else {
                sqlx::query(
                    "DELETE FROM memberships WHERE user_id = $1 AND org_id = $2 AND COALESCE(store_id, '') = COALESCE($3, '')",
                )
                .bind(user_id.to_owned())
                .bind(inv.org_id.clone())
                .bind(inv.store_id.clone())
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO memberships (id, user_id, org_id, store_id, role, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(uuid::Uuid::now_v7().to_string())
                .bind(user_id.to_owned())
                .bind(inv.org_id.clone())
                .bind(inv.store_id.clone())
                .bind(inv.role.clone())
                .bind(now)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                inv.role.clone()
            }
        });
        Ok(role)
    }

    // ---- refresh tokens ----

    pub async fn insert_refresh(
        &self,
        token_hash: &str,
        user_id: &str,
        family: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<(), sqlx::Error> {
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, user_id, family_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash.to_owned())
        .bind(user_id.to_owned())
        .bind(family.to_owned())
        .bind(now)
        .bind(expires_at)
        .execute(pool)
        .await
        .map(|_| ()))
    }

    pub async fn refresh_token(&self, token_hash: &str) -> Result<Option<RefreshRow>, sqlx::Error> {
        on_pool!(self, pool => {
            let row = sqlx::query(
                "SELECT user_id, family_id, expires_at, revoked_at, replaced_by FROM refresh_tokens WHERE token_hash = $1",
            )
            .bind(token_hash.to_owned())
            .fetch_optional(pool)
            .await?;
            match row {
                None => Ok(None),
                Some(row) => Ok(Some(RefreshRow {
                    user_id: row.try_get("user_id")?,
                    family_id: row.try_get("family_id")?,
                    expires_at: row.try_get("expires_at")?,
                    revoked: row.try_get::<Option<i64>, _>("revoked_at")?.is_some(),
                    replaced: row.try_get::<Option<String>, _>("replaced_by")?.is_some(),
                })),
            }
        })
    }

    /// Replaces `old` by `new` in its family, in one transaction; false when
    /// `old` was already replaced or revoked (by a concurrent use): the caller
    /// treats that as reuse.
    pub async fn rotate_refresh(
        &self,
        old: &str,
        new: &str,
        row: &RefreshRow,
        now: i64,
        expires_at: i64,
    ) -> Result<bool, sqlx::Error> {
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let n = sqlx::query(
                "UPDATE refresh_tokens SET replaced_by = $2 WHERE token_hash = $1 AND replaced_by IS NULL AND revoked_at IS NULL",
            )
            .bind(old.to_owned())
            .bind(new.to_owned())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n != 1 {
                return Ok(false);
            }
            sqlx::query(
                "INSERT INTO refresh_tokens (token_hash, user_id, family_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(new.to_owned())
            .bind(row.user_id.clone())
            .bind(row.family_id.clone())
            .bind(now)
            .bind(expires_at)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Revokes every token of a session (family); how many were still live.
    pub async fn revoke_family(&self, family: &str, now: i64) -> Result<u64, sqlx::Error> {
        on_pool!(self, pool => Ok(sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL",
        )
        .bind(family.to_owned())
        .bind(now)
        .execute(pool)
        .await?
        .rows_affected()))
    }

    /// Staff sessions ended (revoked) at or after `since` (Unix ms), newest first, at most
    /// `limit`: `(session id, when it ended)`. Not per store: a member removed from a store
    /// no longer has a membership to find them by, and a session id is no credential.
    pub async fn ended_staff_sessions(
        &self,
        since: i64,
        limit: usize,
    ) -> Result<Vec<(String, i64)>, sqlx::Error> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        on_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT r.family_id, MAX(r.revoked_at) AS ended_at FROM refresh_tokens r \
                 JOIN users u ON u.id = r.user_id \
                 WHERE r.revoked_at >= $1 AND u.kind = 'staff' \
                 GROUP BY r.family_id ORDER BY ended_at DESC LIMIT $2",
            )
            .bind(since)
            .bind(limit)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|row| Ok((row.try_get("family_id")?, row.try_get("ended_at")?)))
                .collect()
        })
    }

    // ---- signing keys ----

    /// The unretired signing keys.
    pub async fn signing_keys(&self) -> Result<Vec<KeyRow>, sqlx::Error> {
        on_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT kid, private_key, public_key, created_at FROM signing_keys WHERE retired_at IS NULL",
            )
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|row| {
                    Ok(KeyRow {
                        kid: row.try_get("kid")?,
                        private_key: row.try_get("private_key")?,
                        public_key: row.try_get("public_key")?,
                        created_at: row.try_get("created_at")?,
                    })
                })
                .collect()
        })
    }

    pub async fn insert_signing_key(&self, k: &KeyRow) -> Result<(), sqlx::Error> {
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO signing_keys (kid, private_key, public_key, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(k.kid.clone())
        .bind(k.private_key.clone())
        .bind(k.public_key.clone())
        .bind(k.created_at)
        .execute(pool)
        .await
        .map(|_| ()))
    }

    /// Every signing key, retired ones too: (kid, created_at, retired_at), oldest first.
    pub async fn signing_key_list(&self) -> Result<Vec<(String, i64, Option<i64>)>, sqlx::Error> {
        on_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT kid, created_at, retired_at FROM signing_keys ORDER BY created_at, kid",
            )
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|row| Ok((row.try_get("kid")?, row.try_get("created_at")?, row.try_get("retired_at")?)))
                .collect()
        })
    }

    /// Retires an unretired key; false when there is no such key.
    pub async fn retire_signing_key(&self, kid: &str, now: i64) -> Result<bool, sqlx::Error> {
        on_pool!(self, pool => Ok(sqlx::query(
            "UPDATE signing_keys SET retired_at = $2 WHERE kid = $1 AND retired_at IS NULL",
        )
        .bind(kid.to_owned())
        .bind(now)
        .execute(pool)
        .await?
        .rows_affected() == 1))
    }

    // ---- idempotency ----

    /// Claims `(principal, key)` for a request; a claim older than `stale_before`
    /// that never completed (its replica died) is taken over.
    pub async fn idem_reserve(
        &self,
        principal: &str,
        key: &str,
        request_hash: &str,
        now: i64,
        stale_before: i64,
    ) -> Result<Reservation, sqlx::Error> {
        on_pool!(self, pool => {
            let n = sqlx::query(
                "INSERT INTO idempotency (principal, key, request_hash, status, created_at) VALUES ($1, $2, $3, 0, $4) \
                 ON CONFLICT (principal, key) DO NOTHING",
            )
            .bind(principal.to_owned())
            .bind(key.to_owned())
            .bind(request_hash.to_owned())
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected();
            if n == 1 {
                return Ok(Reservation::Fresh);
            }
            let row = sqlx::query(
                "SELECT request_hash, status, body, created_at FROM idempotency WHERE principal = $1 AND key = $2",
            )
            .bind(principal.to_owned())
            .bind(key.to_owned())
            .fetch_optional(pool)
            .await?;
            let Some(row) = row else {
                // Released between the two statements: the caller may simply retry.
                return Ok(Reservation::InFlight);
            };
            let status: i32 = row.try_get("status")?;
            if status != 0 {
                return Ok(Reservation::Done {
                    request_hash: row.try_get("request_hash")?,
                    status: u16::try_from(status).unwrap_or(500),
                    body: row.try_get::<Option<Vec<u8>>, _>("body")?.unwrap_or_default(),
                });
            }
            let created: i64 = row.try_get("created_at")?;
            if created >= stale_before {
                return Ok(Reservation::InFlight);
            }
            let taken = sqlx::query(
                "UPDATE idempotency SET created_at = $3, request_hash = $4 \
                 WHERE principal = $1 AND key = $2 AND status = 0 AND created_at = $5",
            )
            .bind(principal.to_owned())
            .bind(key.to_owned())
            .bind(now)
            .bind(request_hash.to_owned())
            .bind(created)
            .execute(pool)
            .await?
            .rows_affected();
            Ok(if taken == 1 { Reservation::Fresh } else { Reservation::InFlight })
        })
    }

    /// Stores the answer to a reserved key.
    pub async fn idem_complete(
        &self,
        principal: &str,
        key: &str,
        status: u16,
        sealed_body: Vec<u8>,
    ) -> Result<(), sqlx::Error> {
        on_pool!(self, pool => sqlx::query(
            "UPDATE idempotency SET status = $3, body = $4 WHERE principal = $1 AND key = $2",
        )
        .bind(principal.to_owned())
        .bind(key.to_owned())
        .bind(i32::from(status))
        .bind(sealed_body)
        .execute(pool)
        .await
        .map(|_| ()))
    }

    /// Drops the answers (and abandoned claims) older than `before`.
    pub async fn idem_purge(&self, before: i64) -> Result<u64, sqlx::Error> {
        on_pool!(self, pool => Ok(sqlx::query("DELETE FROM idempotency WHERE created_at < $1")
            .bind(before)
            .execute(pool)
            .await?
            .rows_affected()))
    }

    /// Deletes refresh tokens that expired before `before`: their sessions are
    /// over (an access token lives minutes, a refresh token weeks), and an
    /// expired token is refused whether or not its row is there.
    pub async fn purge_refresh_tokens(&self, before: i64) -> Result<u64, sqlx::Error> {
        on_pool!(self, pool => Ok(sqlx::query("DELETE FROM refresh_tokens WHERE expires_at < $1")
            .bind(before)
            .execute(pool)
            .await?
            .rows_affected()))
    }

    /// Deletes invitations never accepted that expired before `before`.
    /// Accepted ones stay: they record who invited whom.
    pub async fn purge_invitations(&self, before: i64) -> Result<u64, sqlx::Error> {
        on_pool!(self, pool => Ok(sqlx::query(
            "DELETE FROM invitations WHERE accepted_at IS NULL AND expires_at < $1",
        )
        .bind(before)
        .execute(pool)
        .await?
        .rows_affected()))
    }

    /// Forgets a reserved key whose request failed (a retry runs again).
    pub async fn idem_release(&self, principal: &str, key: &str) -> Result<(), sqlx::Error> {
        on_pool!(self, pool => sqlx::query(
            "DELETE FROM idempotency WHERE principal = $1 AND key = $2 AND status = 0",
        )
        .bind(principal.to_owned())
        .bind(key.to_owned())
        .execute(pool)
        .await
        .map(|_| ()))
    }
}

/// A staff role's standing, for "does this invitation raise the role held":
/// owner above manager above the counter and kitchen roles (which are peers).
fn rank(role: &str) -> u8 {
    match role {
        "owner" => 3,
        "manager" => 2,
        _ => 1,
    }
}
