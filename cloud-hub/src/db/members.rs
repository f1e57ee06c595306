//! Staff management queries: who works at a store (memberships and pending
//! invitations), changing a member's role, removing a member (and ending their
//! sessions), withdrawing an invitation. Same SQL text on SQLite and
//! PostgreSQL, as in the parent module.
//!
//! Changes that must keep an organisation-wide owner run in one transaction
//! that first touches the organisation's row (`UPDATE orgs SET name = name`):
//! on PostgreSQL that row lock serialises concurrent changes of one
//! organisation, on SQLite it takes the write lock up front, so two owners
//! demoting each other at once cannot leave the organisation without one.

use sqlx::Row;

use super::{BeginWrite, Db};

/// A membership with its user's email and name.
#[derive(Debug, Clone)]
pub struct MemberRow {
    pub user_id: String,
    pub email: String,
    pub name: String,
    /// `None`: every store of the organisation.
    pub store_id: Option<String>,
    pub role: String,
    pub created_at: i64,
}

/// An invitation nobody has accepted yet (its token is never read back).
#[derive(Debug, Clone)]
pub struct PendingInvitationRow {
    pub id: String,
    pub email: String,
    pub store_id: Option<String>,
    pub role: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// What changing or removing a membership did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberChange {
    Done,
    /// No such membership in that organisation.
    NotFound,
    /// It would leave the organisation without an organisation-wide owner.
    LastOwner,
}

/// What withdrawing an invitation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvitationWithdrawal {
    Withdrawn,
    NotFound,
    /// Already accepted: remove the member instead.
    Accepted,
}

/// SQL that counts an organisation's organisation-wide owners (`$1`: the organisation).
const COUNT_OWNERS: &str = "SELECT COUNT(*) AS n FROM memberships WHERE org_id = $1 AND store_id IS NULL AND role = 'owner'";
/// Takes the organisation's row lock (PostgreSQL) or the write lock (SQLite) for the transaction.
pub(super) const LOCK_ORG: &str = "UPDATE orgs SET name = name WHERE id = $1";

impl Db {
    /// The memberships of an organisation that cover a store (organisation-wide ones and that store's).
    pub async fn store_members(
        &self,
        org_id: &str,
        store_id: &str,
    ) -> Result<Vec<MemberRow>, sqlx::Error> {
        on_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT m.user_id, u.email, u.name, m.store_id, m.role, m.created_at FROM memberships m \
                 JOIN users u ON u.id = m.user_id \
                 WHERE m.org_id = $1 AND (m.store_id IS NULL OR m.store_id = $2) \
                 ORDER BY u.email, COALESCE(m.store_id, '')",
            )
            .bind(org_id.to_owned())
            .bind(store_id.to_owned())
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|row| {
                    Ok(MemberRow {
                        user_id: row.try_get("user_id")?,
                        email: row.try_get("email")?,
                        name: row.try_get("name")?,
                        store_id: row.try_get("store_id")?,
                        role: row.try_get("role")?,
                        created_at: row.try_get("created_at")?,
                    })
                })
                .collect()
        })
    }

    /// The invitations of an organisation, not accepted and not expired at `now`, that cover a store.
    pub async fn store_invitations(
        &self,
        org_id: &str,
        store_id: &str,
        now: i64,
    ) -> Result<Vec<PendingInvitationRow>, sqlx::Error> {
        on_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT id, email, store_id, role, created_at, expires_at FROM invitations \
                 WHERE org_id = $1 AND (store_id IS NULL OR store_id = $2) \
                 AND accepted_at IS NULL AND expires_at > $3 ORDER BY created_at, id",
            )
            .bind(org_id.to_owned())
            .bind(store_id.to_owned())
            .bind(now)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|row| {
                    Ok(PendingInvitationRow {
                        id: row.try_get("id")?,
                        email: row.try_get("email")?,
                        store_id: row.try_get("store_id")?,
                        role: row.try_get("role")?,
                        created_at: row.try_get("created_at")?,
                        expires_at: row.try_get("expires_at")?,
                    })
                })
                .collect()
        })
    }

    /// Gives a user's membership in one scope (`store_id`, `None` for the
    /// whole organisation) a new role, unless that demotes the last
    /// organisation-wide owner.
    pub async fn set_member_role(
        &self,
        org_id: &str,
        user_id: &str,
        store_id: Option<&str>,
        role: &str,
    ) -> Result<MemberChange, sqlx::Error> {
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query(LOCK_ORG).bind(org_id.to_owned()).execute(&mut *tx).await?;
            let current = sqlx::query(
                "SELECT role FROM memberships WHERE user_id = $1 AND org_id = $2 AND (store_id = $3 OR (store_id IS NULL AND CAST($3 AS TEXT) IS NULL))",
            )
            .bind(user_id.to_owned())
            .bind(org_id.to_owned())
            .bind(store_id.map(str::to_owned))
            .fetch_optional(&mut *tx)
            .await?;
            let Some(current) = current else {
                return Ok(MemberChange::NotFound);
            };
            let current: String = current.try_get("role")?;
            if store_id.is_none() && current == "owner" && role != "owner" {
                let n: i64 = sqlx::query(COUNT_OWNERS)
                    .bind(org_id.to_owned())
                    .fetch_one(&mut *tx)
                    .await?
                    .try_get("n")?;
                if n <= 1 {
                    return Ok(MemberChange::LastOwner);
                }
            }
            sqlx::query(
                "UPDATE memberships SET role = $4 WHERE user_id = $1 AND org_id = $2 AND (store_id = $3 OR (store_id IS NULL AND CAST($3 AS TEXT) IS NULL))",
            )
            .bind(user_id.to_owned())
            .bind(org_id.to_owned())
            .bind(store_id.map(str::to_owned))
            .bind(role.to_owned())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(MemberChange::Done)
        })
    }

    /// Removes a user from an organisation (every membership they hold in it)
    /// and ends all their sessions, unless they are its last
    /// organisation-wide owner.
    pub async fn remove_member(
        &self,
        org_id: &str,
        user_id: &str,
        now: i64,
    ) -> Result<MemberChange, sqlx::Error> {
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query(LOCK_ORG).bind(org_id.to_owned()).execute(&mut *tx).await?;
            let held = sqlx::query(
                "SELECT store_id, role FROM memberships WHERE user_id = $1 AND org_id = $2",
            )
            .bind(user_id.to_owned())
            .bind(org_id.to_owned())
            .fetch_all(&mut *tx)
            .await?;
            if held.is_empty() {
                return Ok(MemberChange::NotFound);
            }
            let mut owner = false;
            for row in &held {
                let store: Option<String> = row.try_get("store_id")?;
                let role: String = row.try_get("role")?;
                owner |= store.is_none() && role == "owner";
            }
            if owner {
                let n: i64 = sqlx::query(COUNT_OWNERS)
                    .bind(org_id.to_owned())
                    .fetch_one(&mut *tx)
                    .await?
                    .try_get("n")?;
                if n <= 1 {
                    return Ok(MemberChange::LastOwner);
                }
            }
            sqlx::query("DELETE FROM memberships WHERE user_id = $1 AND org_id = $2")
                .bind(user_id.to_owned())
                .bind(org_id.to_owned())
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE refresh_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL")
                .bind(user_id.to_owned())
                .bind(now)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(MemberChange::Done)
        })
    }

    /// Withdraws an invitation of an organisation that nobody accepted yet: its token stops working.
    pub async fn withdraw_invitation(
        &self,
        org_id: &str,
        id: &str,
    ) -> Result<InvitationWithdrawal, sqlx::Error> {
        on_pool!(self, pool => {
            let n = sqlx::query(
                "DELETE FROM invitations WHERE id = $1 AND org_id = $2 AND accepted_at IS NULL",
            )
            .bind(id.to_owned())
            .bind(org_id.to_owned())
            .execute(pool)
            .await?
            .rows_affected();
            if n == 1 {
                return Ok(InvitationWithdrawal::Withdrawn);
            }
            let exists = sqlx::query("SELECT 1 FROM invitations WHERE id = $1 AND org_id = $2")
                .bind(id.to_owned())
                .bind(org_id.to_owned())
                .fetch_optional(pool)
                .await?
                .is_some();
            Ok(if exists {
                InvitationWithdrawal::Accepted
            } else {
                InvitationWithdrawal::NotFound
            })
        })
    }
}
