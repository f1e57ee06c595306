-- Refunds of web orders paid by card (issue 13). Full or partial, asked for by
-- a manager at the hub (`source` hub), by a manager at the store's till (a
-- `refund.requested` fact synced from the node: `source` node), by the store
-- cancelling a captured order (`source` store_cancel, id `{order}-cancel` on
-- both sides so the two askers are one refund), or made outside us at the
-- processor and learnt from its `charge.refunded` event (`source` processor).
--
-- A row is written before the processor is asked, and its call carries the key
-- `refund-{id}`: a hub that crashed between the call and its commit asks again
-- and gets the first refund, not a second one.
--
-- state: requested (from a node, not checked yet; `amount` NULL = all that
-- remains) | pending (checked: its amount is held against what was captured,
-- the processor not yet answered) | succeeded | declined (never more than was
-- captured: a request over the remainder, or on an order not paid by card, is
-- declined with `problem`). `recorded`: its outcome is in the store's log (a
-- `payment.refunded` or `refund.declined` fact), so the node hears of it.
CREATE TABLE card_refunds (
    id               TEXT PRIMARY KEY,
    order_id         TEXT NOT NULL,
    store_id         TEXT NOT NULL REFERENCES stores (id),
    amount           BIGINT,
    reason           TEXT,
    requested_by     TEXT NOT NULL,
    source           TEXT NOT NULL,
    idempotency_key  TEXT,
    state            TEXT NOT NULL,
    processor_ref    TEXT,
    problem          TEXT,
    recorded         BOOLEAN NOT NULL DEFAULT FALSE,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE UNIQUE INDEX card_refunds_key ON card_refunds (order_id, idempotency_key);
CREATE INDEX card_refunds_order ON card_refunds (order_id);
CREATE INDEX card_refunds_work ON card_refunds (state, recorded);
CREATE INDEX card_refunds_store ON card_refunds (store_id, updated_at);

-- When the processor captured the payment (Unix ms), for the day's reconciliation.
ALTER TABLE card_payments ADD COLUMN captured_at BIGINT;
CREATE INDEX card_payments_captured ON card_payments (store_id, captured_at);
-- The capture is in the store's log (a `payment.recorded` fact: the order is
-- paid), so the till does not ask the customer to pay again at pickup.
ALTER TABLE card_payments ADD COLUMN paid_recorded BOOLEAN NOT NULL DEFAULT FALSE;
