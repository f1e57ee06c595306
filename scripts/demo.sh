#!/usr/bin/env bash
# Live demo of everything that exists so far: the store node with the demo
# menu and staff serving the POS, kitchen display and kiosk, a few sample
# orders moving through the kitchen, and the cloud hub. Prints where to look;
# Ctrl-C stops everything.
#
#   NODE_PORT=8080 HUB_PORT=9090 KEEP=1 scripts/demo.sh   (KEEP=1 keeps the previous demo's data)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/edge-target}"
NODE_PORT="${NODE_PORT:-8080}"
HUB_PORT="${HUB_PORT:-9090}"
DATA="$PWD/demo-data"
BIN="$CARGO_TARGET_DIR/release"

scripts/setup.sh
echo "==> building the store node and hub (release; the first build takes a few minutes)"
cargo build --release --locked -p store-node -p cloud-hub
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

# The hub: its own SQLite file, an admin token for this demo, one store and a token for its node.
ADMIN="demo-admin-token-$(date +%s)"
HUB="http://127.0.0.1:$HUB_PORT"
HUB_ADMIN_TOKEN="$ADMIN" "$BIN/cloud-hub" --bind "127.0.0.1:$HUB_PORT" --database-url "sqlite://$DATA/hub.db?mode=rwc" \
  >"$DATA/hub.out" 2>"$DATA/hub.log" &
pids+=($!)
wait_for_line "$DATA/hub.out" "listening"
admin() { curl -sf -X"$1" "$HUB$2" -H "authorization: Bearer $ADMIN" -H 'content-type: application/json' ${3:+-d "$3"}; }
admin POST /api/v1/admin/stores '{"id":"store-1","name":"Harbor Street Kitchen"}' >/dev/null
NODE_TOKEN=$(admin POST /api/v1/admin/stores/store-1/node-tokens '{"label":"demo node"}' | python3 -c 'import sys,json; print(json.load(sys.stdin)["token"])')

STORE_NODE__STORE__ID=store-1 STORE_NODE__HUB__URL="ws://127.0.0.1:$HUB_PORT/api/v1/sync" STORE_NODE__HUB__TOKEN="$NODE_TOKEN" \
  "$BIN/store-node" --demo --bind "127.0.0.1:$NODE_PORT" --data-dir "$DATA/node" --web-dir apps --log-format pretty \
  >"$DATA/node.out" 2>"$DATA/node.log" &
pids+=($!)
wait_for_line "$DATA/node.out" "listening"
NODE="http://127.0.0.1:$NODE_PORT"

json_field() { python3 -c "import sys,json; print(json.load(sys.stdin)$1)"; }
login() { curl -sf -XPOST "$NODE/api/v1/auth/login" -H 'content-type: application/json' \
  -d "{\"staff_id\":\"$1\",\"pin\":\"$2\"}" | json_field '["token"]'; }
CASHIER=$(login cashier 3000)
KITCHEN=$(login kitchen 4000)
order() { curl -sf -XPOST "$NODE/api/v1/orders" -H "authorization: Bearer $CASHIER" \
  -H 'content-type: application/json' -H "idempotency-key: demo-$1" -d "$2"; }
move() { curl -sf -XPOST "$NODE/api/v1/orders/$1/$2" -H "authorization: Bearer $KITCHEN" >/dev/null; }

echo "==> placing sample orders"
A=$(order 1 '{"channel":"pos","fulfillment":"dine_in","table":"12","lines":[{"item_id":"harbor-classic-burger","quantity":2,"modifiers":["burger-doneness-medium","burger-bun-brioche","burger-addons-bacon"],"note":"no pickles"},{"item_id":"fountain-soda","quantity":2,"modifiers":["drink-size-large","soda-choice-cola"]}]}')
B=$(order 2 '{"channel":"pos","fulfillment":"takeaway","customer_name":"Sam","lines":[{"item_id":"margherita-pizza","quantity":1,"modifiers":["pizza-size-12in","pizza-crust-thin"]}]}')
for o in "$A" "$B"; do
  echo "$o" | python3 -c 'import sys,json; o=json.load(sys.stdin); t=o["totals"]; print("   %s  %d line(s)  total %.2f %s  (%s)" % (o["ticket"], len(o["lines"]), t["total"]/100, t["currency"], o["status"]))'
done
move "$(echo "$A" | json_field '["id"]')" accept
move "$(echo "$A" | json_field '["id"]')" start

cat <<MSG

==> the demo is running (Ctrl-C stops it)

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
  Logs                $DATA/node.log  $DATA/hub.log
  Database            $DATA/node/store.db  (sqlite3 "$DATA/node/store.db" 'select ticket,status from orders')

  Demo staff (id / PIN):
$(sed -n '/demo staff/,$p' "$DATA/node.out" | tail -n +2)

  Try it:
    TOKEN=\$(curl -s -XPOST $NODE/api/v1/auth/login -H 'content-type: application/json' -d '{"staff_id":"cashier","pin":"3000"}' | python3 -c 'import sys,json;print(json.load(sys.stdin)["token"])')
    curl -s "$NODE/api/v1/orders?status=placed,accepted,in_preparation" -H "authorization: Bearer \$TOKEN"
    curl -s $NODE/api/v1/menu -H "authorization: Bearer \$TOKEN" | head -c 400
MSG
wait "${pids[@]}"
