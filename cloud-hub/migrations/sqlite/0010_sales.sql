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
-- the payment facts of the log.
UPDATE orders SET
    tax = CASE WHEN json_type(snapshot, '$.totals.tax') = 'integer' THEN json_extract(snapshot, '$.totals.tax') ELSE 0 END,
    discount = CASE WHEN json_type(snapshot, '$.totals.discount') = 'integer' THEN json_extract(snapshot, '$.totals.discount') ELSE 0 END,
    refunded = CASE WHEN json_type(snapshot, '$.refunded') = 'integer' THEN json_extract(snapshot, '$.refunded') ELSE 0 END,
    currency = CASE WHEN json_type(snapshot, '$.totals.currency') = 'text' THEN substr(json_extract(snapshot, '$.totals.currency'), 1, 3) ELSE '' END
WHERE json_valid(snapshot);

INSERT INTO order_lines (order_id, line_no, store_id, item_id, name, quantity, sales, created_ms)
SELECT o.id, l.key, o.store_id,
    CASE WHEN json_type(l.value, '$.item_id') = 'text' THEN substr(json_extract(l.value, '$.item_id'), 1, 64) ELSE '' END,
    CASE WHEN json_type(l.value, '$.name') = 'text' THEN substr(json_extract(l.value, '$.name'), 1, 200) ELSE '' END,
    CASE WHEN json_type(l.value, '$.quantity') = 'integer' THEN json_extract(l.value, '$.quantity') ELSE 0 END,
    (CASE WHEN json_type(l.value, '$.line_total') = 'integer' THEN json_extract(l.value, '$.line_total') ELSE 0 END)
      - (CASE WHEN json_type(l.value, '$.discount') = 'integer' THEN json_extract(l.value, '$.discount') ELSE 0 END),
    o.created_ms
FROM orders o, json_each(o.snapshot, '$.lines') l
WHERE json_valid(o.snapshot) AND json_type(o.snapshot, '$.lines') = 'array'
  AND o.created_ms IS NOT NULL AND o.status NOT IN ('cancelled', 'voided');

INSERT INTO order_tenders (order_id, payment_id, store_id, tender, amount, created_ms, counted)
SELECT o.id,
    COALESCE(CASE WHEN json_type(e.data, '$.payment.id') = 'text' THEN json_extract(e.data, '$.payment.id') END, e.id),
    o.store_id,
    CASE
        WHEN json_extract(e.data, '$.payment.method') = 'cash' THEN 'cash'
        WHEN json_extract(e.data, '$.payment.method') = 'card' AND json_type(e.data, '$.payment.online') = 'true' THEN 'online_card'
        WHEN json_extract(e.data, '$.payment.method') = 'card' THEN 'card'
        ELSE 'other'
    END,
    CASE WHEN json_type(e.data, '$.payment.amount') = 'integer' THEN json_extract(e.data, '$.payment.amount') ELSE 0 END,
    o.created_ms,
    CASE WHEN o.status IN ('cancelled', 'voided') THEN 0 ELSE 1 END
FROM events e JOIN orders o ON o.id = e.subject AND o.store_id = e.store_id
WHERE e.kind = 'payment.recorded' AND json_valid(e.data)
ON CONFLICT (order_id, payment_id) DO NOTHING;
