#!/usr/bin/env bash
# Live demo of everything that exists so far: the store node with the demo
# menu and staff serving the POS, kitchen display and kiosk; virtual receipt
# and kitchen printers (TCP and a serial line) that draw every ticket as a PNG;
# a ZVT card terminal simulator; a KDS screen's MQTT credentials; a few sample
# orders printed, paid by cash and card and moving through the kitchen; the
# cloud hub with online orders, one paid at pickup and one by card through a
# local fake Stripe (no internet). Prints where to look; Ctrl-C stops everything.
#
#   NODE_PORT=8080 HUB_PORT=9090 MQTT_PORT=1884 PRINTER_PORT=9101 STRIPE_PORT=12111 KEEP=1 scripts/demo.sh
#   (KEEP=1 keeps the previous demo's data; MQTT is not on 1883 because a system broker may own it)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/edge-target}"
NODE_PORT="${NODE_PORT:-8080}"
HUB_PORT="${HUB_PORT:-9090}"
MQTT_PORT="${MQTT_PORT:-1884}"
PRINTER_PORT="${PRINTER_PORT:-9101}"
STRIPE_PORT="${STRIPE_PORT:-12111}"
DATA="$PWD/demo-data"
BIN="$CARGO_TARGET_DIR/release"

scripts/setup.sh
echo "==> building the store node, hub and device simulators (release; the first build takes a few minutes)"
cargo build --release --locked -p store-node -p cloud-hub -p fake-stripe
cargo build --release --locked -p drivers --bins
echo "==> building the web apps"
npm run -s build >/dev/null

[ "${KEEP:-0}" = 1 ] || rm -rf "$DATA"
mkdir -p "$DATA"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

wait_for_line() { # file pattern
  for _ in $(seq 1 100); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "gave up waiting for '$2' in $1" >&2; cat "$1" >&2; exit 1
}

# Card payments go to a local fake of Stripe's API (ours, crates/fake-stripe): its
# payment page, its ledger and its signed webhooks to the hub.
STRIPE="http://127.0.0.1:$STRIPE_PORT"
WHSEC="whsec_demo_$(date +%s)"
"$BIN/fake-stripe" --bind "127.0.0.1:$STRIPE_PORT" --secret-key sk_test_demo --webhook-secret "$WHSEC" \
  --webhook-url "http://127.0.0.1:$HUB_PORT/api/v1/payments/stripe/webhook" >"$DATA/stripe.out" 2>"$DATA/stripe.log" &
pids+=($!)
wait_for_line "$DATA/stripe.out" "listening"

# The hub: its own SQLite file, an admin token for this demo, one store.
ADMIN="demo-admin-token-$(date +%s)"
HUB="http://127.0.0.1:$HUB_PORT"
HUB_ADMIN_TOKEN="$ADMIN" STRIPE_SECRET_KEY=sk_test_demo STRIPE_WEBHOOK_SECRET="$WHSEC" \
  "$BIN/cloud-hub" --bind "127.0.0.1:$HUB_PORT" --database-url "sqlite://$DATA/hub.db?mode=rwc" \
  --stripe-api-base "$STRIPE" --public-url "$HUB" --web-dir apps/customer/dist \
  >"$DATA/hub.out" 2>"$DATA/hub.log" &
pids+=($!)
wait_for_line "$DATA/hub.out" "listening"
admin() { curl -sf -X"$1" "$HUB$2" -H "authorization: Bearer $ADMIN" -H 'content-type: application/json' ${3:+-d "$3"}; }
admin POST /api/v1/admin/stores '{"id":"store-1","name":"Harbor Street Kitchen"}' >/dev/null
# The node enrolls as an installer's box would: a pairing code made at the hub, typed into
# `store-node enroll`; the node makes its own key and signs its sync link with it (docs/enrollment.md).
PAIRING_CODE=$(admin POST /api/v1/admin/stores/store-1/pairing-codes '{"label":"demo node"}' | python3 -c 'import sys,json; print(json.load(sys.stdin)["code"])')
"$BIN/store-node" --data-dir "$DATA/node" enroll --hub "$HUB" --code "$PAIRING_CODE" --label "Demo counter box" \
  >"$DATA/enroll.out" 2>"$DATA/enroll.log"
grep "enrolled" "$DATA/enroll.out"

STORE_NODE__STORE__ID=store-1 STORE_NODE__STORE__NAME="Harbor Street Kitchen" STORE_NODE__STORE__RECEIPT_LINES="[\"12 Harbor Street, Springfield\", \"Tel 555-0100\"]" \
  "$BIN/store-node" --demo --bind "127.0.0.1:$NODE_PORT" --mqtt-bind "127.0.0.1:$MQTT_PORT" --data-dir "$DATA/node" --web-dir apps --log-format pretty \
  >"$DATA/node.out" 2>"$DATA/node.log" &
pids+=($!)
wait_for_line "$DATA/node.out" "listening"
NODE="http://127.0.0.1:$NODE_PORT"

json_field() { python3 -c "import sys,json; print(json.load(sys.stdin)$1)"; }
login() { curl -sf -XPOST "$NODE/api/v1/auth/login" -H 'content-type: application/json' \
  -d "{\"staff_id\":\"$1\",\"pin\":\"$2\"}" | json_field '["token"]'; }
CASHIER=$(login cashier 3000)
KITCHEN=$(login kitchen 4000)
MANAGER=$(login manager 2000)

# Virtual devices: printers that decode what they receive and draw it as PNG, and a card terminal.
PRINTED="$DATA/printed"
mkdir -p "$PRINTED"
printer() { # name where(--tcp ADDR | --pty)
  local name=$1; shift
  "$BIN/virtual-printer" "$@" --name "$name" --out "$PRINTED" >"$DATA/printer-$name.out" 2>"$DATA/printer-$name.log" &
  pids+=($!)
  wait_for_line "$DATA/printer-$name.out" "listening on"
}
printer receipt --tcp "127.0.0.1:$PRINTER_PORT"
printer grill --tcp "127.0.0.1:$((PRINTER_PORT + 1))"
printer bar --tcp "127.0.0.1:$((PRINTER_PORT + 2))"
printer pizza --pty
PIZZA_TTY=$(sed -n 's/^virtual printer pizza listening on //p' "$DATA/printer-pizza.out")
"$BIN/zvt-sim" --pty --scenario approve >"$DATA/terminal.out" 2>"$DATA/terminal.log" &
pids+=($!)
wait_for_line "$DATA/terminal.out" "listening on pty"
TERMINAL_TTY=$(sed -n 's/^zvt-sim: listening on pty \([^ ]*\).*/\1/p' "$DATA/terminal.out")

echo "==> registering the devices with the store node (as the manager)"
register() { curl -sf -XPOST "$NODE/api/v1/devices" -H "authorization: Bearer $MANAGER" \
  -H 'content-type: application/json' -H "idempotency-key: demo-device-$1" -d "$2"; }
register front '{"id":"front","kind":"receipt_printer","name":"Front counter","transport":{"type":"tcp","host":"127.0.0.1","port":'"$PRINTER_PORT"'}}' >/dev/null
register grill '{"id":"grill-printer","kind":"kitchen_printer","name":"Grill","station":"grill","transport":{"type":"tcp","host":"127.0.0.1","port":'"$((PRINTER_PORT + 1))"'}}' >/dev/null
register bar '{"id":"bar-printer","kind":"kitchen_printer","name":"Bar","station":"bar","transport":{"type":"tcp","host":"127.0.0.1","port":'"$((PRINTER_PORT + 2))"'}}' >/dev/null
register pizza '{"id":"pizza-printer","kind":"kitchen_printer","name":"Pizza oven","station":"pizza","transport":{"type":"serial","path":"'"$PIZZA_TTY"'","baud":19200}}' >/dev/null
register drawer '{"id":"till","kind":"cash_drawer","name":"Till","transport":{"type":"via_printer","printer_id":"front"}}' >/dev/null
register terminal '{"id":"terminal","kind":"card_terminal","name":"Counter terminal","transport":{"type":"serial","path":"'"$TERMINAL_TTY"'","baud":9600}}' >/dev/null
KDS_PASS=$(register kds '{"id":"kds-grill","kind":"kds_screen","name":"Grill screen","station":"grill","transport":{"type":"mqtt"}}' | json_field '["mqtt"]["password"]')
echo "   receipt, grill, bar printers on TCP $PRINTER_PORT-$((PRINTER_PORT + 2)); pizza printer on $PIZZA_TTY; card terminal on $TERMINAL_TTY"
order() { curl -sf -XPOST "$NODE/api/v1/orders" -H "authorization: Bearer $CASHIER" \
  -H 'content-type: application/json' -H "idempotency-key: demo-$1" -d "$2"; }
move() { curl -sf -XPOST "$NODE/api/v1/orders/$1/$2" -H "authorization: Bearer $KITCHEN" >/dev/null; }

echo "==> placing sample orders"
A=$(order 1 '{"channel":"pos","fulfillment":"dine_in","table":"12","lines":[{"item_id":"harbor-classic-burger","quantity":2,"modifiers":["burger-doneness-medium","burger-bun-brioche","burger-addons-bacon"],"note":"no pickles"},{"item_id":"fountain-soda","quantity":2,"modifiers":["drink-size-large","soda-choice-cola"]}]}')
B=$(order 2 '{"channel":"pos","fulfillment":"takeaway","customer_name":"Sam","lines":[{"item_id":"margherita-pizza","quantity":1,"modifiers":["pizza-size-12in","pizza-crust-thin"]}]}')
for o in "$A" "$B"; do
  echo "$o" | python3 -c 'import sys,json; o=json.load(sys.stdin); t=o["totals"]; print("   %s  %d line(s)  total %.2f %s  (%s)" % (o["ticket"], len(o["lines"]), t["total"]/100, t["currency"], o["status"]))'
done
pay() { curl -sf -XPOST "$NODE/api/v1/orders/$1/payments" -H "authorization: Bearer $CASHIER" \
  -H 'content-type: application/json' -H "idempotency-key: demo-pay-$1" -d "$2"; }
echo "==> paying: table 12 in cash (the drawer opens, the receipt prints), Sam by card (the terminal approves)"
A_ID=$(echo "$A" | json_field '["id"]')
B_ID=$(echo "$B" | json_field '["id"]')
A_DUE=$(echo "$A" | json_field '["totals"]["total"]')
pay "$A_ID" "{\"method\":\"cash\",\"tendered\":$((A_DUE + 500))}" | json_field '["payment"]["change"]' | sed 's/^/   change due (minor units): /'
pay "$B_ID" '{"method":"card"}' | json_field '["payment"]["reference"]' | sed 's/^/   card approved, terminal reference: /'
move "$A_ID" accept
move "$A_ID" start

echo "==> a customer orders online at the hub (pickup); sync brings it to the node's kitchen printer"
admin PUT /api/v1/stores/store-1/settings '{"online_ordering":true,"pickup_lead_minutes":15}' >/dev/null
CUSTOMER=$(curl -sf -XPOST "$HUB/api/v1/auth/signup" -H 'content-type: application/json' -H 'idempotency-key: demo-signup' \
  -d '{"email":"robin@example.com","password":"plum-kettle-73-orbit","name":"Robin"}' | json_field '["access_token"]')
# The hub takes orders once the node is connected and its menu has synced.
for _ in $(seq 1 100); do
  curl -sf "$HUB/api/v1/public/stores/store-1/menu" | json_field '["ordering"]["accepting"]' 2>/dev/null | grep -q True && break
  sleep 0.1
done
W=$(curl -sf -XPOST "$HUB/api/v1/stores/store-1/orders" -H "authorization: Bearer $CUSTOMER" -H 'content-type: application/json' \
  -H 'idempotency-key: demo-web-1' -d '{"lines":[{"item_id":"shoestring-fries","quantity":2,"modifiers":[]}],"note":"extra salt"}')
W_ID=$(echo "$W" | json_field '["id"]')
echo "$W" | python3 -c 'import sys,json; o=json.load(sys.stdin); t=o["totals"]; print("   %s  %d line(s)  total %.2f %s  (%s, pay at pickup)" % (o["ticket"], len(o["lines"]), t["total"]/100, t["currency"], o["status"]))'

echo "==> another customer order, paid by card: it reaches the kitchen once paid and is charged when the kitchen accepts it"
C=$(curl -sf -XPOST "$HUB/api/v1/stores/store-1/orders" -H "authorization: Bearer $CUSTOMER" -H 'content-type: application/json' \
  -H 'idempotency-key: demo-web-card-1' -d '{"lines":[{"item_id":"house-garden-salad","quantity":1,"modifiers":["salad-dressing-ranch"]}],"payment":"card"}')
C_ID=$(echo "$C" | json_field '["id"]')
C_PAGE=$(echo "$C" | json_field '["payment"]["checkout_url"]')
echo "   payment page: $C_PAGE  (the customer presses Pay there; the demo does it for them)"
curl -sf -XPOST "$STRIPE/_fake/checkout/${C_PAGE##*/}/pay" >/dev/null
card_state() { curl -sf "$HUB/api/v1/me/orders/$C_ID" -H "authorization: Bearer $CUSTOMER" | json_field "$1"; }
for _ in $(seq 1 100); do [ "$(card_state '["status"]')" = placed ] && break; sleep 0.1; done
move "$C_ID" accept
for _ in $(seq 1 100); do [ "$(card_state '["payment"]["state"]')" = captured ] && break; sleep 0.1; done
echo "   $(card_state '["ticket"]')  paid by card: $(card_state '["payment"]["state"]') $(card_state '["payment"]["captured"]') cents (accepted by the kitchen)"
echo "==> the manager at the till gives 2.00 of it back (the hub holds the payment: asked through sync, made there)"
curl -sf -XPOST "$NODE/api/v1/orders/$C_ID/online-refunds" -H "authorization: Bearer $MANAGER" -H 'content-type: application/json' \
  -H 'idempotency-key: demo-refund-1' -d '{"amount":200,"reason":"the dressing was missing"}' >/dev/null
for _ in $(seq 1 100); do [ "$(card_state '["payment"]["refunded"]')" = 200 ] && break; sleep 0.1; done
echo "   refunded to the card: $(card_state '["payment"]["refunded"]') cents"
echo "==> a manager invited at the hub signs in at the node with their hub account (works offline too)"
INVITE=$(admin POST /api/v1/orgs/default/invitations '{"email":"morgan@example.com","role":"manager","store_id":"store-1"}' | json_field '["token"]')
MORGAN=$(curl -sf -XPOST "$HUB/api/v1/auth/accept-invitation" -H 'content-type: application/json' \
  -d "{\"token\":\"$INVITE\",\"name\":\"Morgan Manager\",\"password\":\"plum-kettle-73-orbit\"}" | json_field '["access_token"]')
# The node checks hub tokens against the keys the hub sent it over sync (and keeps them).
for _ in $(seq 1 100); do curl -sf "$NODE/api/v1/auth/me" -H "authorization: Bearer $MORGAN" >/dev/null && break; sleep 0.1; done
curl -sf "$NODE/api/v1/auth/me" -H "authorization: Bearer $MORGAN" | sed 's/^/   the node says: /'
echo "==> the owner joins the organisation at the hub (the merchant dashboard's sign-in)"
OWNER_INVITE=$(admin POST /api/v1/orgs/default/invitations '{"email":"olive@example.com","role":"owner"}' | json_field '["token"]')
curl -sf -XPOST "$HUB/api/v1/auth/accept-invitation" -H 'content-type: application/json' \
  -d "{\"token\":\"$OWNER_INVITE\",\"name\":\"Olive Owner\",\"password\":\"plum-kettle-73-orbit\"}" >/dev/null
echo
# The printers have the tickets and receipts a moment after each commit (the web order's after sync).
for _ in $(seq 1 50); do [ "$(ls "$PRINTED"/*.png 2>/dev/null | wc -l)" -ge 7 ] && break; sleep 0.1; done

cat <<MSG

==> the demo is running (Ctrl-C stops it)

  Order online        $HUB/        the customer's shop: find the store, order, pay by card on the fake
                      Stripe page, watch the order live (sign in as robin@example.com / plum-kettle-73-orbit)
  Merchant dashboard  $HUB/dashboard/   sign in as olive@example.com / plum-kettle-73-orbit (owner):
                      every store at a glance, live orders, menu, settings, people, devices, sales
                      (morgan@example.com, a manager, sees what a manager may)
  POS (counter)       $NODE/pos/      sign in as Casey Cashier, PIN 3000
  Kitchen display     $NODE/kds/      sign in as Kim Kitchen, PIN 4000
  Self-order kiosk    $NODE/kiosk/    set up with "Self-order kiosk", PIN 5000
  Store node API      $NODE/api/v1            (OpenAPI: $NODE/api/v1/openapi.json)
  Health / metrics    $NODE/healthz  $NODE/readyz  $NODE/metrics
  Live events (WS)    ws://127.0.0.1:$NODE_PORT/api/v1/events?cursor=0&token=$KITCHEN
  Cloud hub           $HUB/healthz   (the node syncs to it; admin token: $ADMIN)
    orders at the hub   curl -s $HUB/api/v1/stores/store-1/orders -H "authorization: Bearer $ADMIN"
    menu at the hub     curl -s $HUB/api/v1/stores/store-1/menu -H "authorization: Bearer $ADMIN"
    sync status         curl -s $NODE/api/v1/sync/status -H "authorization: Bearer $KITCHEN"
  Online ordering     a customer (robin@example.com / plum-kettle-73-orbit) placed order $W_ID at the hub
    the store, public   curl -s $HUB/api/v1/public/stores/store-1/menu | head -c 400
    track it live (WS)  ws://127.0.0.1:$HUB_PORT/api/v1/me/orders/$W_ID/events?access_token=$CUSTOMER
                        (the access token lives 15 minutes; sign in again: POST $HUB/api/v1/auth/login)
                        (then mark it ready at the KDS or: curl -XPOST $NODE/api/v1/orders/$W_ID/accept|start|ready -H "authorization: Bearer $KITCHEN")
  Card payments       order $C_ID was paid on the fake Stripe's page and captured when the kitchen accepted it
    its refunds         curl -s $HUB/api/v1/stores/store-1/orders/$C_ID/refunds -H "authorization: Bearer $ADMIN"
    today's money       curl -s "$HUB/api/v1/stores/store-1/payments/reconciliation?format=csv" -H "authorization: Bearer $ADMIN"
    the fake's ledger   curl -s $STRIPE/_fake/ledger
    its webhooks        curl -s $STRIPE/_fake/deliveries
  Hub staff at the till  morgan@example.com / plum-kettle-73-orbit (manager, invited at the hub):
                        curl -s $NODE/api/v1/auth/me -H "authorization: Bearer $MORGAN"
                        (the node checks the hub's token itself, also with the hub stopped)
  Printed tickets     $PRINTED/   (one .png and .txt per ticket, receipt and drawer kick; open the PNGs)
$(ls "$PRINTED"/*.png 2>/dev/null | sed 's/^/                        /')
  Devices             curl -s $NODE/api/v1/devices -H "authorization: Bearer $MANAGER"
  Print queue         curl -s "$NODE/api/v1/print-jobs?state=dead" -H "authorization: Bearer $MANAGER"
  KDS screen on MQTT  mosquitto_sub -h 127.0.0.1 -p $MQTT_PORT -i kds-grill -u kds-grill -P $KDS_PASS -t 'store/store-1/broadcast/#' -v
                      (an outside MQTT client as the registered grill screen; order updates arrive as you ring them up)
  Logs                $DATA/node.log  $DATA/hub.log  $DATA/stripe.log  $DATA/printer-*.out  $DATA/terminal.out
  Database            $DATA/node/store.db  (sqlite3 "$DATA/node/store.db" 'select ticket,status from orders')

  Demo staff (id / PIN):
$(sed -n '/demo staff/,$p' "$DATA/node.out" | tail -n +2)

  Try it:
    TOKEN=\$(curl -s -XPOST $NODE/api/v1/auth/login -H 'content-type: application/json' -d '{"staff_id":"cashier","pin":"3000"}' | python3 -c 'import sys,json;print(json.load(sys.stdin)["token"])')
    curl -s "$NODE/api/v1/orders?status=placed,accepted,in_preparation" -H "authorization: Bearer \$TOKEN"
    curl -s $NODE/api/v1/menu -H "authorization: Bearer \$TOKEN" | head -c 400
MSG
wait "${pids[@]}"
