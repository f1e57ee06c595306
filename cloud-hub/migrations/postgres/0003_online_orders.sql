-- Online ordering: the hub's projection of every order of a store (from the
-- events the hub writes and those it receives from the store's nodes), the
-- per-store counters the hub numbers web tickets with, where each node's sync
-- link stands (one row per node token and hub replica, so several replicas on
-- one database agree on whether a store is reachable), and the devices the
-- nodes report. Times are Unix milliseconds, as in 0001.

-- status_rank is `OrderStatus::rank`: a projection only ever raises it.
-- customer_id is set for orders a customer placed at the hub (NULL for orders
-- taken at the store); (customer_id, idempotency_key) makes a retried order the same order.
CREATE TABLE orders (
    id               TEXT PRIMARY KEY,
    store_id         TEXT NOT NULL REFERENCES stores (id),
    customer_id      TEXT REFERENCES users (id),
    idempotency_key  TEXT,
    ticket           TEXT NOT NULL,
    channel          TEXT NOT NULL,
    status           TEXT NOT NULL,
    status_rank      BIGINT NOT NULL,
    total            BIGINT NOT NULL,
    snapshot         TEXT NOT NULL,
    payment          TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX orders_store ON orders (store_id, created_at);
CREATE INDEX orders_customer ON orders (customer_id, created_at);
CREATE UNIQUE INDEX orders_customer_key ON orders (customer_id, idempotency_key);

CREATE TABLE store_counters (
    store_id  TEXT NOT NULL REFERENCES stores (id),
    name      TEXT NOT NULL,
    value     BIGINT NOT NULL,
    PRIMARY KEY (store_id, name)
);

-- A replica rewrites its rows while it holds connections (a heartbeat) and when
-- one opens or closes; `acked` is the node's version vector (JSON) as last acknowledged.
CREATE TABLE node_presence (
    token_hash    TEXT NOT NULL,
    replica       TEXT NOT NULL,
    store_id      TEXT NOT NULL REFERENCES stores (id),
    connections   BIGINT NOT NULL,
    acked         TEXT NOT NULL,
    last_seen_at  BIGINT NOT NULL,
    PRIMARY KEY (token_hash, replica)
);
CREATE INDEX node_presence_store ON node_presence (store_id);

-- The latest `device.health` / `device.status` event per device (by HLC).
CREATE TABLE node_devices (
    store_id    TEXT NOT NULL REFERENCES stores (id),
    device_id   TEXT NOT NULL,
    kind        TEXT,
    name        TEXT,
    health      TEXT NOT NULL,
    hlc         TEXT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (store_id, device_id)
);
