//! Customers' profiles (migration 0008): phone, saved notes and favourites
//! beside the account's name.

use sqlx::Row;

use super::{BeginWrite, Db};
use api_types::hub::online::{Favourite, ProfileUpdate};

/// What `customer_profiles` holds of a customer (defaults when they have no row yet).
#[derive(Debug, Clone, Default)]
pub struct ProfileRow {
    pub phone: Option<String>,
    pub saved_notes: Vec<String>,
    pub favourites: Vec<Favourite>,
}

fn decode<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, sqlx::Error> {
    serde_json::from_str(text).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

fn encode<T: serde::Serialize>(v: &T) -> Result<String, sqlx::Error> {
    serde_json::to_string(v).map_err(|e| sqlx::Error::Encode(Box::new(e)))
}

impl Db {
    /// A customer's profile row (defaults when none was saved).
    pub async fn profile(&self, user_id: &str) -> Result<ProfileRow, sqlx::Error> {
        on_pool!(self, pool => {
            let row = sqlx::query(
                "SELECT phone, saved_notes, favourites FROM customer_profiles WHERE user_id = $1",
            )
            .bind(user_id.to_owned())
            .fetch_optional(pool)
            .await?;
            match row {
                None => Ok(ProfileRow::default()),
                Some(r) => Ok(ProfileRow {
                    phone: r.try_get("phone")?,
                    saved_notes: decode(&r.try_get::<String, _>("saved_notes")?)?,
                    favourites: decode(&r.try_get::<String, _>("favourites")?)?,
                }),
            }
        })
    }

    /// Applies a checked update: the name on the account, the rest on the profile, in one transaction.
    pub async fn update_profile(
        &self,
        user_id: &str,
        u: &ProfileUpdate,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        let current = self.profile(user_id).await?;
        let phone = match &u.phone {
            Some(p) if p.is_empty() => None,
            Some(p) => Some(p.clone()),
            None => current.phone,
        };
        let notes = encode(u.saved_notes.as_ref().unwrap_or(&current.saved_notes))?;
        let favourites = encode(u.favourites.as_ref().unwrap_or(&current.favourites))?;
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            if let Some(name) = &u.name {
                sqlx::query("UPDATE users SET name = $1 WHERE id = $2")
                    .bind(name.clone())
                    .bind(user_id.to_owned())
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query(
                "INSERT INTO customer_profiles (user_id, phone, saved_notes, favourites, updated_at) \
                 VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (user_id) DO UPDATE SET phone = excluded.phone, saved_notes = excluded.saved_notes, \
                 favourites = excluded.favourites, updated_at = excluded.updated_at",
            )
            .bind(user_id.to_owned())
            .bind(phone)
            .bind(notes)
            .bind(favourites)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await
        })
    }
}
