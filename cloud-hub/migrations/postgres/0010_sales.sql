-- The merchant's sales report reads projections kept with the orders
-- projection, in the same transaction, never the log per request:
-- - `orders` gains the order's tax, discount, amount given back and currency
--   (from its view's `totals` and `refunded`);
-- - `order_lines`: the lines of the orders the report counts (not cancelled or
--   voided, with a creation time), rewritten whenever the order changes;
-- - `order_tenders`: one row per `payment.recorded` fact (cash, card at the till,
--   online card), `counted` following its order's status.
-- The report groups by `created_ms` (the order's view), turned into the store's
-- local day and hour when read (in 15-minute buckets, so any time zone works).
ALTER TABLE orders ADD COLUMN tax BIGINT NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN discount BIGINT NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN refunded BIGINT NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN currency TEXT NOT NULL DEFAULT '';
CREATE INDEX orders_sales ON orders (store_id, created_ms, status, channel, currency, total, tax, discount, refunded);

CREATE TABLE order_lines (
    order_id    TEXT NOT NULL REFERENCES orders (id),
    line_no     BIGINT NOT NULL,
    store_id    TEXT NOT NULL,
    item_id     TEXT NOT NULL,
    name        TEXT NOT NULL,
    quantity    BIGINT NOT NULL,
    -- `line_total - discount` of the line, minor units.
    sales       BIGINT NOT NULL,
    created_ms  BIGINT NOT NULL,
    PRIMARY KEY (order_id, line_no)
);
CREATE INDEX order_lines_sales ON order_lines (store_id, created_ms, item_id, quantity, sales, name);

CREATE TABLE order_tenders (
    order_id    TEXT NOT NULL REFERENCES orders (id),
    payment_id  TEXT NOT NULL,
    store_id    TEXT NOT NULL,
    -- cash, card (at the till), online_card, other.
    tender      TEXT NOT NULL,
    amount      BIGINT NOT NULL,
    created_ms  BIGINT,
    counted     BIGINT NOT NULL,
    PRIMARY KEY (order_id, payment_id)
);
CREATE INDEX order_tenders_sales ON order_tenders (store_id, created_ms, counted, tender, amount);

-- One-time backfill from what the hub already holds: each order's view, and
-- the payment facts of the log. A number that is not a JSON integer counts 0.
CREATE FUNCTION pg_temp.int_of(v jsonb) RETURNS BIGINT LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN jsonb_typeof(v) = 'number' AND (v #>> '{}') ~ '^-?[0-9]{1,18}$'
        THEN (v #>> '{}')::BIGINT ELSE 0 END
$$;
CREATE FUNCTION pg_temp.text_of(v jsonb, n INT) RETURNS TEXT LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN jsonb_typeof(v) = 'string' THEN left(v #>> '{}', n) ELSE '' END
$$;

UPDATE orders SET
    tax = pg_temp.int_of(snapshot::jsonb -> 'totals' -> 'tax'),
    discount = pg_temp.int_of(snapshot::jsonb -> 'totals' -> 'discount'),
    refunded = pg_temp.int_of(snapshot::jsonb -> 'refunded'),
    currency = pg_temp.text_of(snapshot::jsonb -> 'totals' -> 'currency', 3);

INSERT INTO order_lines (order_id, line_no, store_id, item_id, name, quantity, sales, created_ms)
SELECT o.id, l.n - 1, o.store_id,
    pg_temp.text_of(l.v -> 'item_id', 64),
    pg_temp.text_of(l.v -> 'name', 200),
    pg_temp.int_of(l.v -> 'quantity'),
    pg_temp.int_of(l.v -> 'line_total') - pg_temp.int_of(l.v -> 'discount'),
    o.created_ms
FROM orders o
CROSS JOIN LATERAL jsonb_array_elements(
    CASE WHEN jsonb_typeof(o.snapshot::jsonb -> 'lines') = 'array' THEN o.snapshot::jsonb -> 'lines' ELSE '[]'::jsonb END
) WITH ORDINALITY AS l (v, n)
WHERE o.created_ms IS NOT NULL AND o.status NOT IN ('cancelled', 'voided');

INSERT INTO order_tenders (order_id, payment_id, store_id, tender, amount, created_ms, counted)
SELECT o.id,
    COALESCE(NULLIF(pg_temp.text_of(e.data::jsonb -> 'payment' -> 'id', 200), ''), e.id::TEXT),
    o.store_id,
    CASE
        WHEN e.data::jsonb -> 'payment' ->> 'method' = 'cash' THEN 'cash'
        WHEN e.data::jsonb -> 'payment' ->> 'method' = 'card' AND e.data::jsonb -> 'payment' -> 'online' = 'true'::jsonb THEN 'online_card'
        WHEN e.data::jsonb -> 'payment' ->> 'method' = 'card' THEN 'card'
        ELSE 'other'
    END,
    pg_temp.int_of(e.data::jsonb -> 'payment' -> 'amount'),
    o.created_ms,
    CASE WHEN o.status IN ('cancelled', 'voided') THEN 0 ELSE 1 END
FROM events e JOIN orders o ON o.id = e.subject AND o.store_id = e.store_id
WHERE e.kind = 'payment.recorded'
ON CONFLICT (order_id, payment_id) DO NOTHING;
