//! The sales report's reads: sums over the projections the ingest keeps
//! (`orders`' money columns, `order_lines`, `order_tenders`; migration 0010),
//! never the log. Each query covers a set of stores over `[from_ms, to_ms)` and
//! is answered from an index that holds every column it reads. Days and hours
//! are the caller's business: orders come back in 15-minute buckets of Unix
//! time (every time zone's offset is a multiple of 15 minutes), which the
//! caller turns into the store's local day and hour.

use sqlx::Row;

use super::Db;

/// Width of a time bucket, ms.
pub const BUCKET_MS: i64 = 15 * 60 * 1000;

/// The counted orders of one bucket, channel and currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderSums {
    /// Start of the bucket / `BUCKET_MS`.
    pub bucket: i64,
    pub channel: String,
    pub currency: String,
    pub orders: i64,
    pub total: i64,
    pub tax: i64,
    pub discount: i64,
    pub refunded: i64,
}

/// The counted lines of one item at one store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemSums {
    pub store_id: String,
    pub item_id: String,
    pub name: String,
    pub lines: i64,
    pub quantity: i64,
    pub sales: i64,
}

/// The payments of counted orders, per tender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenderSums {
    pub tender: String,
    pub payments: i64,
    pub amount: i64,
}

/// `$2, $3, ...`: one placeholder per store, after `skip` others.
fn marks(skip: usize, n: usize) -> String {
    (0..n)
        .map(|i| format!("${}", skip + i + 1))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Db {
    /// Counted orders (not cancelled or voided) created in `[from_ms, to_ms)` at `stores`.
    pub async fn sales_orders(
        &self,
        stores: &[String],
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<OrderSums>, sqlx::Error> {
        let sql = format!(
            "SELECT created_ms / {BUCKET_MS} AS bucket, channel, currency, COUNT(*) AS n, \
             CAST(SUM(total) AS BIGINT) AS total, CAST(SUM(tax) AS BIGINT) AS tax, \
             CAST(SUM(discount) AS BIGINT) AS discount, CAST(SUM(refunded) AS BIGINT) AS refunded \
             FROM orders WHERE store_id IN ({}) AND created_ms >= $1 AND created_ms < $2 \
             AND status NOT IN ('cancelled', 'voided') GROUP BY 1, 2, 3",
            marks(2, stores.len())
        );
        on_pool!(self, pool => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone())).bind(from_ms).bind(to_ms);
            for s in stores {
                q = q.bind(s.clone());
            }
            q.fetch_all(pool)
                .await?
                .iter()
                .map(|r| {
                    Ok(OrderSums {
                        bucket: r.try_get("bucket")?,
                        channel: r.try_get("channel")?,
                        currency: r.try_get("currency")?,
                        orders: r.try_get("n")?,
                        total: r.try_get("total")?,
                        tax: r.try_get("tax")?,
                        discount: r.try_get("discount")?,
                        refunded: r.try_get("refunded")?,
                    })
                })
                .collect()
        })
    }

    /// The lines of counted orders created in `[from_ms, to_ms)` at `stores`, per store and item.
    pub async fn sales_items(
        &self,
        stores: &[String],
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<ItemSums>, sqlx::Error> {
        let sql = format!(
            "SELECT store_id, item_id, MAX(name) AS name, COUNT(*) AS n, \
             CAST(SUM(quantity) AS BIGINT) AS quantity, CAST(SUM(sales) AS BIGINT) AS sales \
             FROM order_lines WHERE store_id IN ({}) AND created_ms >= $1 AND created_ms < $2 \
             GROUP BY store_id, item_id",
            marks(2, stores.len())
        );
        on_pool!(self, pool => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone())).bind(from_ms).bind(to_ms);
            for s in stores {
                q = q.bind(s.clone());
            }
            q.fetch_all(pool)
                .await?
                .iter()
                .map(|r| {
                    Ok(ItemSums {
                        store_id: r.try_get("store_id")?,
                        item_id: r.try_get("item_id")?,
                        name: r.try_get("name")?,
                        lines: r.try_get("n")?,
                        quantity: r.try_get("quantity")?,
                        sales: r.try_get("sales")?,
                    })
                })
                .collect()
        })
    }

    /// The payments of counted orders created in `[from_ms, to_ms)` at `stores`, per tender.
    pub async fn sales_tenders(
        &self,
        stores: &[String],
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<TenderSums>, sqlx::Error> {
        let sql = format!(
            "SELECT tender, COUNT(*) AS n, CAST(SUM(amount) AS BIGINT) AS amount \
             FROM order_tenders WHERE store_id IN ({}) AND created_ms >= $1 AND created_ms < $2 \
             AND counted = 1 GROUP BY tender",
            marks(2, stores.len())
        );
        on_pool!(self, pool => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone())).bind(from_ms).bind(to_ms);
            for s in stores {
                q = q.bind(s.clone());
            }
            q.fetch_all(pool)
                .await?
                .iter()
                .map(|r| {
                    Ok(TenderSums {
                        tender: r.try_get("tender")?,
                        payments: r.try_get("n")?,
                        amount: r.try_get("amount")?,
                    })
                })
                .collect()
        })
    }

    /// Which of `stores` still wait for their log to be projected once more
    /// (`order_replays`, migration 0005): one query for a whole organisation.
    pub async fn pending_replays(&self, stores: &[String]) -> Result<Vec<String>, sqlx::Error> {
        if stores.is_empty() {
            return Ok(vec![]);
        }
        let sql = format!(
            "SELECT store_id FROM order_replays WHERE store_id IN ({})",
            marks(0, stores.len())
        );
        on_pool!(self, pool => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
            for s in stores {
                q = q.bind(s.clone());
            }
            q.fetch_all(pool)
                .await?
                .iter()
                .map(|r| r.try_get("store_id"))
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_placeholder_per_store_after_the_window() {
        assert_eq!(super::marks(2, 3), "$3, $4, $5");
        assert_eq!(super::marks(0, 2), "$1, $2");
    }
}
