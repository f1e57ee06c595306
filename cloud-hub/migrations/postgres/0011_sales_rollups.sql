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
);

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
    -- The sums ride in the key's index, so a report reads the index alone.
    PRIMARY KEY (store_id, day, hour, channel, currency, class) INCLUDE (orders, total, tax, discount, refunded)
);

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
    PRIMARY KEY (store_id, day, item_id, name) INCLUDE (lines, quantity, sales)
);

-- The counted payments (`order_tenders`, `counted = 1`) per local day and tender.
CREATE TABLE sales_tender_days (
    store_id    TEXT NOT NULL,
    day         BIGINT NOT NULL,
    tender      TEXT NOT NULL,
    payments    BIGINT NOT NULL,
    amount      BIGINT NOT NULL,
    PRIMARY KEY (store_id, day, tender) INCLUDE (payments, amount)
);

-- The ingest changes the sums with the projections it writes. Any other
-- change of the projections (an operator's SQL, a backfill such as 0010's)
-- makes the store's sums stale: the triggers below forget the store's zone,
-- so the next reader sums them again. The ingest marks its own writes with
-- the transaction-local setting `hub.sales_writer` = 'on'.
CREATE FUNCTION sales_rollup_stale() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('hub.sales_writer', true) IS DISTINCT FROM 'on' THEN
        IF TG_OP <> 'INSERT' THEN
            DELETE FROM sales_rollup_stores WHERE store_id = OLD.store_id;
        END IF;
        IF TG_OP <> 'DELETE' THEN
            DELETE FROM sales_rollup_stores WHERE store_id = NEW.store_id;
        END IF;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER orders_sales_stale
AFTER INSERT OR DELETE OR UPDATE OF store_id, created_ms, status, channel, currency, total, tax, discount, refunded ON orders
FOR EACH ROW EXECUTE FUNCTION sales_rollup_stale();
CREATE TRIGGER order_lines_sales_stale
AFTER INSERT OR DELETE OR UPDATE OF store_id, created_ms, item_id, name, quantity, sales ON order_lines
FOR EACH ROW EXECUTE FUNCTION sales_rollup_stale();
CREATE TRIGGER order_tenders_sales_stale
AFTER INSERT OR DELETE OR UPDATE OF store_id, created_ms, counted, tender, amount ON order_tenders
FOR EACH ROW EXECUTE FUNCTION sales_rollup_stale();
