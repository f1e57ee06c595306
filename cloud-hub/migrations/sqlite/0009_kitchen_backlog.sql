-- The latest `kitchen.backlog` fact per store (by HLC): how many kitchen
-- tickets are open at the store's node and how old the oldest is. Online
-- ordering quotes later pickups and pauses from it (the store's `backlog_*`
-- settings). `stations` is the fact's per-station list (JSON).
CREATE TABLE kitchen_backlog (
    store_id         TEXT PRIMARY KEY REFERENCES stores (id),
    open_tickets     BIGINT NOT NULL,
    oldest_age_secs  BIGINT NOT NULL,
    stations         TEXT NOT NULL,
    reported_ms      BIGINT NOT NULL,
    hlc              TEXT NOT NULL,
    updated_at       BIGINT NOT NULL
);
