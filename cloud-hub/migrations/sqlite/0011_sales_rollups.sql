-- The sales report and the overview's "today" read sums kept at ingest instead
-- of grouping every order and line of a range per request (issue 15: p99 under
-- 100 ms for an organisation of 50 stores and 200,000 orders). Each table is
-- the sum of the projections of migration 0010 (`orders`, `order_lines`,
-- `order_tenders`) by the store's LOCAL day (and hour): `day` is the local
-- date as days from 0001-01-01 (chrono's `num_days_from_ce`), taken from the
-- start of the order's 15-minute bucket of Unix time, as the report did.
--
-- A store's rows are summed in the time zone written in `sales_rollup_stores`.
-- A store without a row there has no rollups yet: the ingest leaves it alone,
-- and the first report or overview that reads it sums them from the
-- projections (`db::sales`, the backfill of existing orders), as it does again
-- when the store's time zone has changed since.
CREATE TABLE sales_rollup_stores (
    store_id    TEXT PRIMARY KEY,
    tz          TEXT NOT NULL
) WITHOUT ROWID;

-- Orders per local day, hour, channel, currency and class of status:
-- `sale` (every status the report counts but `refunded`), `refunded`
-- (counted by the report, not by the overview's sales), `void` (cancelled,
-- voided: counted by neither).
CREATE TABLE sales_hours (
    store_id    TEXT NOT NULL,
    day         BIGINT NOT NULL,
    hour        BIGINT NOT NULL,
    channel     TEXT NOT NULL,
    currency    TEXT NOT NULL,
    class       TEXT NOT NULL,
    orders      BIGINT NOT NULL,
    total       BIGINT NOT NULL,
    tax         BIGINT NOT NULL,
    discount    BIGINT NOT NULL,
    refunded    BIGINT NOT NULL,
    PRIMARY KEY (store_id, day, hour, channel, currency, class)
) WITHOUT ROWID;

-- The lines of counted orders (`order_lines`) per local day and item; the
-- name is part of the key, so the report's `MAX(name)` stays what it was.
CREATE TABLE sales_item_days (
    store_id    TEXT NOT NULL,
    day         BIGINT NOT NULL,
    item_id     TEXT NOT NULL,
    name        TEXT NOT NULL,
    lines       BIGINT NOT NULL,
    quantity    BIGINT NOT NULL,
    sales       BIGINT NOT NULL,
    PRIMARY KEY (store_id, day, item_id, name)
) WITHOUT ROWID;

-- The counted payments (`order_tenders`, `counted = 1`) per local day and tender.
CREATE TABLE sales_tender_days (
    store_id    TEXT NOT NULL,
    day         BIGINT NOT NULL,
    tender      TEXT NOT NULL,
    payments    BIGINT NOT NULL,
    amount      BIGINT NOT NULL,
    PRIMARY KEY (store_id, day, tender)
) WITHOUT ROWID;

-- The ingest changes the sums with the projections it writes. Any other
-- change of the projections (an operator's SQL, a backfill such as 0010's)
-- makes the store's sums stale: the triggers below forget the store's zone,
-- so the next reader sums them again. The ingest marks its own writes with a
-- row in `sales_writer`, inserted and deleted inside its transaction (write
-- transactions are one at a time on SQLite, so no one else ever sees it).
CREATE TABLE sales_writer (n BIGINT);

CREATE TRIGGER orders_sales_ins AFTER INSERT ON orders
WHEN NOT EXISTS (SELECT 1 FROM sales_writer)
BEGIN DELETE FROM sales_rollup_stores WHERE store_id = NEW.store_id; END;
CREATE TRIGGER orders_sales_upd AFTER UPDATE OF store_id, created_ms, status, channel, currency, total, tax, discount, refunded ON orders
WHEN NOT EXISTS (SELECT 1 FROM sales_writer)
BEGIN DELETE FROM sales_rollup_stores WHERE store_id IN (OLD.store_id, NEW.store_id); END;
CREATE TRIGGER orders_sales_del AFTER DELETE ON orders
WHEN NOT EXISTS (SELECT 1 FROM sales_writer)
BEGIN DELETE FROM sales_rollup_stores WHERE store_id = OLD.store_id; END;

CREATE TRIGGER order_lines_sales_ins AFTER INSERT ON order_lines
WHEN NOT EXISTS (SELECT 1 FROM sales_writer)
BEGIN DELETE FROM sales_rollup_stores WHERE store_id = NEW.store_id; END;
CREATE TRIGGER order_lines_sales_upd AFTER UPDATE OF store_id, created_ms, item_id, name, quantity, sales ON order_lines
WHEN NOT EXISTS (SELECT 1 FROM sales_writer)
BEGIN DELETE FROM sales_rollup_stores WHERE store_id IN (OLD.store_id, NEW.store_id); END;
CREATE TRIGGER order_lines_sales_del AFTER DELETE ON order_lines
WHEN NOT EXISTS (SELECT 1 FROM sales_writer)
BEGIN DELETE FROM sales_rollup_stores WHERE store_id = OLD.store_id; END;

CREATE TRIGGER order_tenders_sales_ins AFTER INSERT ON order_tenders
WHEN NOT EXISTS (SELECT 1 FROM sales_writer)
BEGIN DELETE FROM sales_rollup_stores WHERE store_id = NEW.store_id; END;
CREATE TRIGGER order_tenders_sales_upd AFTER UPDATE OF store_id, created_ms, counted, tender, amount ON order_tenders
WHEN NOT EXISTS (SELECT 1 FROM sales_writer)
BEGIN DELETE FROM sales_rollup_stores WHERE store_id IN (OLD.store_id, NEW.store_id); END;
CREATE TRIGGER order_tenders_sales_del AFTER DELETE ON order_tenders
WHEN NOT EXISTS (SELECT 1 FROM sales_writer)
BEGIN DELETE FROM sales_rollup_stores WHERE store_id = OLD.store_id; END;
