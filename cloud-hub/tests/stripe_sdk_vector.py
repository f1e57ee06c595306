# Produces the Stripe-SDK vector pasted into cloud-hub/tests/stripe_webhook.rs (SDK_*).
# python3 -m venv /work/venv-stripe && /work/venv-stripe/bin/pip install stripe   (stripe 16.1.0)
# /work/venv-stripe/bin/python cloud-hub/tests/stripe_sdk_vector.py
# prints: the stripe package version, the payload, the Stripe-Signature header.
import json, stripe
from stripe import WebhookSignature
payload = json.dumps({
  "id": "evt_1QsdkVectorA", "object": "event", "api_version": "2025-09-30.clover",
  "created": 1733000000, "livemode": False, "pending_webhooks": 1,
  "request": {"id": None, "idempotency_key": None},
  "type": "checkout.session.completed",
  "data": {"object": {
    "id": "cs_test_a1B2c3", "object": "checkout.session", "amount_total": 2350,
    "client_reference_id": "ord_42", "currency": "usd", "mode": "payment",
    "payment_intent": "pi_3QsdkA", "payment_status": "unpaid", "status": "complete",
    "metadata": {"order_id": "ord_42", "store_id": "st_7"}, "url": None}}
}, separators=(",", ":"))
secret = "whsec_sdkVectorSecret0123456789"
t = 1733000005
header = WebhookSignature.generate_signature_header(payload, secret, timestamp=t)
WebhookSignature.verify_header(payload, header, secret)
print(stripe.VERSION)
print(payload)
print(header)
