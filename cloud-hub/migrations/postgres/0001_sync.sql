-- The hub's stores, node credentials, the synced event log and shared documents.
-- Times are Unix milliseconds (BIGINT) so the same SQL runs on SQLite and PostgreSQL.

CREATE TABLE stores (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

-- Only the SHA-256 (hex) of a node token is kept.
CREATE TABLE node_tokens (
    token_hash  TEXT PRIMARY KEY,
    store_id    TEXT NOT NULL REFERENCES stores (id),
    node_label  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
CREATE INDEX node_tokens_store ON node_tokens (store_id);

-- Events as the nodes recorded them; dense per (store, origin).
CREATE TABLE events (
    id           UUID PRIMARY KEY,
    store_id     TEXT NOT NULL REFERENCES stores (id),
    origin       TEXT NOT NULL,
    seq          BIGINT NOT NULL CHECK (seq > 0),
    hlc          TEXT NOT NULL,
    kind         TEXT NOT NULL,
    subject      TEXT,
    data         TEXT NOT NULL,
    received_at  BIGINT NOT NULL,
    UNIQUE (store_id, origin, seq)
);

-- One automerge snapshot per store and document kind...
CREATE TABLE docs (
    store_id  TEXT NOT NULL REFERENCES stores (id),
    kind      TEXT NOT NULL,
    snapshot  BYTEA NOT NULL,
    PRIMARY KEY (store_id, kind)
);

-- ...plus the incremental saves since it, compacted into it every 100 chunks.
CREATE TABLE doc_chunks (
    store_id  TEXT NOT NULL REFERENCES stores (id),
    kind      TEXT NOT NULL,
    seq       BIGINT NOT NULL,
    bytes     BYTEA NOT NULL,
    PRIMARY KEY (store_id, kind, seq)
);
