-- Card payments of web orders (issue 13). A row is written before the card
-- processor is asked anything, and every call to it carries an idempotency key
-- derived from `order_id` (`checkout-{order}`, `capture-{order}`,
-- `cancel-{order}`), so a hub that crashed between a call and its commit asks
-- again and gets the first answer instead of a second payment.
--
-- The order itself (its `W-` ticket, its `order.created` event, its row in
-- `orders`) is placed only once the payment is authorised: until then it is
-- `pending` here, and nothing reaches the kitchen.
--
-- state: creating (no checkout yet, or its creation in doubt) | open (the
-- customer is on the payment page) | authorized (held; the order is at the
-- store) | captured (the store accepted) | cancelled (the hold was released:
-- the store rejected or cancelled, or did not accept in time) | expired (never
-- paid: abandoned, expired; nothing was charged).
CREATE TABLE card_payments (
    order_id         TEXT PRIMARY KEY,
    store_id         TEXT NOT NULL REFERENCES stores (id),
    customer_id      TEXT NOT NULL REFERENCES users (id),
    idempotency_key  TEXT NOT NULL,
    pending          TEXT NOT NULL,
    amount           BIGINT NOT NULL,
    currency         TEXT NOT NULL,
    state            TEXT NOT NULL,
    checkout_id      TEXT,
    checkout_url     TEXT,
    expires_at       BIGINT NOT NULL,
    payment_id       TEXT,
    charge_id        TEXT,
    captured         BIGINT NOT NULL DEFAULT 0,
    refunded         BIGINT NOT NULL DEFAULT 0,
    accept_by        BIGINT,
    problem          TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE UNIQUE INDEX card_payments_key ON card_payments (customer_id, idempotency_key);
CREATE INDEX card_payments_state ON card_payments (state, updated_at);
CREATE INDEX card_payments_checkout ON card_payments (checkout_id);
CREATE INDEX card_payments_payment ON card_payments (payment_id);

-- Webhook events already handled, by the processor's event id: a replay changes nothing.
CREATE TABLE payment_events (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    received_at  BIGINT NOT NULL
);
