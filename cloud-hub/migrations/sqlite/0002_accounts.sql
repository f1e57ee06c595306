-- Accounts and tenancy: organisations own stores; users (customers, staff,
-- platform admins) sign in with email and password; staff belong to an
-- organisation (or one of its stores) through memberships created by accepting
-- an invitation. Refresh tokens rotate within a family; the Ed25519 keys that
-- sign access tokens are shared by every hub replica through this database.
-- Secrets (invitation and refresh tokens) are kept only as SHA-256 (hex).
-- Ids are UUIDv7 text; times are Unix milliseconds (BIGINT), as in 0001.

CREATE TABLE orgs (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

-- Stores made before organisations existed keep NULL: only platform admins reach them.
ALTER TABLE stores ADD COLUMN org_id TEXT REFERENCES orgs (id);
CREATE INDEX stores_org ON stores (org_id);

-- The email is stored lower-cased, so UNIQUE is case-insensitive.
CREATE TABLE users (
    id                   TEXT PRIMARY KEY,
    email                TEXT NOT NULL UNIQUE,
    password_hash        TEXT NOT NULL,
    kind                 TEXT NOT NULL CHECK (kind IN ('customer', 'staff', 'admin')),
    name                 TEXT NOT NULL,
    created_at           BIGINT NOT NULL,
    password_changed_at  BIGINT NOT NULL
);

-- A staff member's role in an organisation: in all its stores (store_id NULL) or in one.
CREATE TABLE memberships (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id),
    org_id      TEXT NOT NULL REFERENCES orgs (id),
    store_id    TEXT REFERENCES stores (id),
    role        TEXT NOT NULL CHECK (role IN ('owner', 'manager', 'cashier', 'kitchen')),
    created_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX memberships_scope ON memberships (user_id, org_id, COALESCE(store_id, ''));
CREATE INDEX memberships_org ON memberships (org_id);

CREATE TABLE invitations (
    id           TEXT PRIMARY KEY,
    token_hash   TEXT NOT NULL UNIQUE,
    org_id       TEXT NOT NULL REFERENCES orgs (id),
    store_id     TEXT REFERENCES stores (id),
    role         TEXT NOT NULL CHECK (role IN ('owner', 'manager', 'cashier', 'kitchen')),
    email        TEXT NOT NULL,
    invited_by   TEXT REFERENCES users (id),
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    accepted_at  BIGINT,
    accepted_by  TEXT REFERENCES users (id)
);
CREATE INDEX invitations_org ON invitations (org_id);

-- Every refresh rotates: the presented token gets `replaced_by` (the new token's
-- hash) and the new one joins the same family. Presenting a token that was
-- already replaced revokes the whole family (reuse detection). An access token
-- carries its family id and is refused once the family is revoked.
CREATE TABLE refresh_tokens (
    token_hash   TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id),
    family_id    TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    revoked_at   BIGINT,
    replaced_by  TEXT
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

-- Ed25519 keys that sign access tokens (PKCS#8 v2 DER and the raw 32-byte public key).
-- The newest unretired key signs; every unretired key verifies and is in the JWKS.
CREATE TABLE signing_keys (
    kid          TEXT PRIMARY KEY,
    private_key  BLOB NOT NULL,
    public_key   BLOB NOT NULL,
    created_at   BIGINT NOT NULL,
    retired_at   BIGINT
);

-- Idempotency-Key: (principal, key) -> the first answer, sealed (ChaCha20-Poly1305)
-- because it may carry tokens. status 0 marks a request still running.
CREATE TABLE idempotency (
    principal     TEXT NOT NULL,
    key           TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    status        INTEGER NOT NULL,
    body          BLOB,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (principal, key)
);
