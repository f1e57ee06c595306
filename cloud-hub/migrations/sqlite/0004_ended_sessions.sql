-- Store nodes are told which staff sessions ended recently (sign-out, password
-- change, removal), so they refuse those sessions' access tokens too: the hub
-- finds them by when their refresh tokens were revoked.
CREATE INDEX refresh_tokens_revoked ON refresh_tokens (revoked_at);
