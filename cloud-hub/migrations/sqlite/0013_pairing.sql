-- Pairing codes and enrolled store nodes (issue 16, docs/enrollment.md).
--
-- A pairing code is kept only as the SHA-256 of its normalised form; its public
-- id is the first 16 hex digits of that hash. `created_by` is the account that
-- made it (a user id, or `admin-token`). Used once: `used_at`/`used_by_key`.
CREATE TABLE pairing_codes (
    code_hash    TEXT PRIMARY KEY,
    code_id      TEXT NOT NULL UNIQUE,
    store_id     TEXT NOT NULL REFERENCES stores (id),
    label        TEXT,
    created_by   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    used_at      BIGINT,
    used_by_key  TEXT,
    revoked_at   BIGINT
);
CREATE INDEX pairing_codes_store ON pairing_codes (store_id);

-- A node enrolled with a code and its own Ed25519 key (base64url). `code_hash`
-- is UNIQUE: two enrollments racing with one code make one node.
CREATE TABLE enrolled_nodes (
    node_id        TEXT PRIMARY KEY,
    store_id       TEXT NOT NULL REFERENCES stores (id),
    public_key     TEXT NOT NULL UNIQUE,
    label          TEXT,
    enrolled_at    BIGINT NOT NULL,
    enrolled_by    TEXT NOT NULL,
    code_hash      TEXT NOT NULL UNIQUE REFERENCES pairing_codes (code_hash),
    ticket_prefix  TEXT NOT NULL,
    revoked_at     BIGINT
);
CREATE INDEX enrolled_nodes_store ON enrolled_nodes (store_id);
