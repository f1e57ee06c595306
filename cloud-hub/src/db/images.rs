//! Menu pictures (migration 0012): the bytes, named by their SHA-256, and which
//! store uploaded which. Written once: the same bytes again change nothing.

use sqlx::Row;

use super::{BeginWrite, Db};

/// A stored picture, as the public route serves it.
#[derive(Debug, Clone)]
pub struct ImageRow {
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// What an upload stores: a picture checked by the handler.
#[derive(Debug, Clone)]
pub struct NewImage<'a> {
    pub sha256: &'a str,
    pub content_type: &'a str,
    pub bytes: &'a [u8],
    pub width: u32,
    pub height: u32,
}

impl Db {
    /// Keeps a picture (once, whoever uploads the same bytes) and notes that
    /// `store_id` uploaded it, in one transaction.
    pub async fn put_image(
        &self,
        store_id: &str,
        image: &NewImage<'_>,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        let size =
            i64::try_from(image.bytes.len()).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "INSERT INTO images (sha256, content_type, bytes, size, width, height, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (sha256) DO NOTHING",
            )
            .bind(image.sha256.to_owned())
            .bind(image.content_type.to_owned())
            .bind(image.bytes.to_vec())
            .bind(size)
            .bind(i64::from(image.width))
            .bind(i64::from(image.height))
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO store_images (store_id, sha256, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (store_id, sha256) DO NOTHING",
            )
            .bind(store_id.to_owned())
            .bind(image.sha256.to_owned())
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await
        })
    }

    /// A picture by its SHA-256 (None when the hub has none).
    pub async fn image(&self, sha256: &str) -> Result<Option<ImageRow>, sqlx::Error> {
        on_pool!(self, pool => {
            let row = sqlx::query("SELECT content_type, bytes FROM images WHERE sha256 = $1")
                .bind(sha256.to_owned())
                .fetch_optional(pool)
                .await?;
            row.map(|r| {
                Ok(ImageRow {
                    content_type: r.try_get("content_type")?,
                    bytes: r.try_get("bytes")?,
                })
            })
            .transpose()
        })
    }
}
