-- The merchant's order list reads the orders projection (0003) instead of
-- replaying a store's log per request. It filters on when an order was
-- created as its view says: `created_ms`, NULL when the view gives no time
-- (such an order passes no time filter). `created_at` stays what it was: that
-- time, or when the hub first saw the order.
ALTER TABLE orders ADD COLUMN created_ms BIGINT;
UPDATE orders SET created_ms = (snapshot::jsonb ->> 'created_ms')::BIGINT
WHERE jsonb_typeof(snapshot::jsonb -> 'created_ms') = 'number'
  AND (snapshot::jsonb ->> 'created_ms') ~ '^[0-9]{1,18}$';
CREATE INDEX orders_store_created_ms ON orders (store_id, created_ms);

-- Stores whose log the hub projects once more before it lists their orders:
-- the projection did not take every order fact the list showed (events older
-- than 0003, order views the projection could not read then).
CREATE TABLE order_replays (
    store_id  TEXT PRIMARY KEY REFERENCES stores (id)
);
INSERT INTO order_replays (store_id) SELECT DISTINCT store_id FROM events;
