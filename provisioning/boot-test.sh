#!/usr/bin/env bash
# Boot test of the store-node disk image (CI runs it): build the image (cached), flash it with store-flash
# to a file with a real cloud hub's URL and a pairing code, boot it under qemu-system-x86_64 (software
# emulation, UEFI firmware from OVMF, systemd-boot from the disk), and check that
#   1. the node enrolls with the code and the hub lists it online;
#   2. a cashier created at the hub signs in at the node (through a forwarded port) with a PIN and places
#      an order, which syncs to the hub;
#   3. after a power cut (kill -9 of qemu) and a second boot from the same disk, the node comes back
#      enrolled: the hub lists one node for the store, online again, the code file is gone from the
#      config partition, and the hub saw one enrollment.
# Prints timings and PASS or FAIL; on failure the tail of the serial console log.
#
#   provisioning/boot-test.sh [--keep]      (--keep: leave the work directory for a look afterwards)
#
# The hub serves HTTPS with a throwaway CA (BOOT_TEST_PLAIN_HTTP=1: plain http, allowed on the test disk
# only). Environment: CARGO_TARGET_DIR (binaries), EDGE_CACHE (image cache), BOOT_TEST_DIR (work directory),
# BOOT_DEADLINE_S (per boot, default 240), STORE_NODE_DEB (use this store-node .deb instead of building
# it with provisioning/build-debs.sh), HUB_BIN and FLASH_BIN (use these cloud-hub and store-flash binaries
# instead of building them).
set -euo pipefail
{
cd "$(dirname "$0")/.."
T0=$(date +%s)
log() { printf '[boot-test %s +%3ss] %s\n' "$(date -u +%H:%M:%S)" "$(($(date +%s) - T0))" "$*"; }
keep=0
[ "${1:-}" = "--keep" ] && keep=1
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/edge-target}"
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
export EDGE_CACHE="${EDGE_CACHE:-$HOME/.cache/edge-provisioning}"
DEADLINE_S="${BOOT_DEADLINE_S:-240}"
work="${BOOT_TEST_DIR:-$(mktemp -d /tmp/boot-test.XXXXXX)}"
mkdir -p "$work"
serial=""
pids=()

finish() {
  local rc=$?
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "$rc" != 0 ]; then
    log "FAIL (exit $rc)"
    if [ -n "$serial" ] && [ -f "$serial" ]; then
      echo "---- last 60 lines of the serial console ($serial) ----"
      tail -n 60 "$serial" | tr -d '\r' | sed 's/\x1b\[[0-9;]*[a-zA-Z]//g'
      echo "----"
    fi
    [ -f "$work/hub.log" ] && { echo "---- last 20 lines of the hub's log ----"; tail -n 20 "$work/hub.log"; echo "----"; }
    echo "boot test: 0 passed, 1 failed"
    keep=1
  fi
  if [ "$keep" = 1 ]; then log "work directory kept: $work"; else rm -rf "$work"; fi
  exit "$rc"
}
trap finish EXIT
fail() { log "FAIL: $*"; exit 1; }

# ------------------------------------------------------------------ tools (idempotent)
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
[ -f /usr/share/OVMF/OVMF_CODE_4M.fd ] || need+=(ovmf)
for tool in mcopy:mtools mkfs.vfat:dosfstools sfdisk:fdisk zstd:zstd curl:curl python3:python3 openssl:openssl debugfs:e2fsprogs; do
  command -v "${tool%%:*}" >/dev/null || need+=("${tool#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  had_qemu_img=$(command -v qemu-img || true)
  log "installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # Debian's qemu-system-x86 can replace a newer preinstalled qemu-utils (qemu-img): put Debian's back.
  if [ -n "$had_qemu_img" ] && ! command -v qemu-img >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-utils >/dev/null
  fi
fi
export MTOOLS_SKIP_CHECK=1

# ------------------------------------------------------------------ binaries, package, image
if [ -z "${HUB_BIN:-}" ]; then
  log "building cloud-hub (debug)"
  # The same package selection as scripts/test.sh, so CI finds it built (another selection unifies
  # dependency features differently and rebuilds half the workspace).
  cargo build --locked -q -p store-node -p drivers -p cloud-hub --bins
  HUB_BIN="$CARGO_TARGET_DIR/debug/cloud-hub"
fi
if [ -z "${FLASH_BIN:-}" ]; then
  # Release, as installers get it: a debug build hashes and decompresses at ~20 MB/s, which would
  # make flashing the 1.8 GiB image take minutes instead of seconds.
  log "building store-flash (release)"
  cargo build --locked -q --release -p store-flash --bins
  FLASH_BIN="$CARGO_TARGET_DIR/release/store-flash"
fi

t=$(date +%s)
log "building the store-node package"
if [ -n "${STORE_NODE_DEB:-}" ]; then
  deb="$STORE_NODE_DEB" # a package built before (e.g. by an earlier CI step)
else
  # Its last lines: `deb NAME PATH DEB_BYTES STRIPPED_BINARY_BYTES`.
  deb="$(provisioning/build-debs.sh --package store-node | awk '$1 == "deb" && $2 == "store-node" { print $3 }')"
fi
[ -f "$deb" ] || fail "provisioning/build-debs.sh made no store-node .deb"
log "building the image"
provisioning/build-image.sh --deb "$deb" --out "$EDGE_CACHE/image" >"$work/image.out"
IMAGE="$EDGE_CACHE/image/store-node.img.zst"
image_s=$(($(date +%s) - t))
log "package and image: ${image_s} s ($(sed 's/\t/: /' "$work/image.out" | head -1))"

# ------------------------------------------------------------------ the hub
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
HUB_PORT=$(free_port)
NODE_PORT=$(free_port)
# The guest reaches the host's loopback at 10.0.2.2 (QEMU user networking).
NODE="http://127.0.0.1:$NODE_PORT"
ADMIN="$(python3 -c 'import secrets; print(secrets.token_hex(24))')"
hub_args=(--bind "127.0.0.1:$HUB_PORT" --database-url "sqlite://$work/hub.db?mode=rwc")
CURL_TLS=()
FLASH_TLS=()
if [ "${BOOT_TEST_PLAIN_HTTP:-0}" = 1 ]; then
  HUB_TLS=0
  HUB="http://127.0.0.1:$HUB_PORT"
  HUB_FOR_NODE="http://10.0.2.2:$HUB_PORT"
else
  # HTTPS with a throwaway CA: the hub serves the certificate itself (for 10.0.2.2, as the guest
  # reaches it, and 127.0.0.1), and store-flash puts the CA on the config partition (hub-ca.pem).
  HUB_TLS=1
  HUB="https://127.0.0.1:$HUB_PORT"
  HUB_FOR_NODE="https://10.0.2.2:$HUB_PORT"
  tls="$work/tls"
  mkdir -p "$tls"
  ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
  openssl req -x509 "${ec[@]}" -keyout "$tls/ca.key" -out "$tls/ca.pem" -days 2 -subj "/CN=boot-test CA" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
  openssl req "${ec[@]}" -keyout "$tls/hub.key" -out "$tls/hub.csr" -subj "/CN=boot-test hub" 2>/dev/null
  printf 'subjectAltName=IP:10.0.2.2,IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' >"$tls/hub.ext"
  openssl x509 -req -in "$tls/hub.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" -CAcreateserial -days 2 \
    -extfile "$tls/hub.ext" -out "$tls/hub.pem" 2>/dev/null
  hub_args+=(--tls-cert "$tls/hub.pem" --tls-key "$tls/hub.key")
  CURL_TLS=(--cacert "$tls/ca.pem")
  FLASH_TLS=(--ca-file "$tls/ca.pem")
fi
log "starting the hub on $HUB (the node reaches it at $HUB_FOR_NODE)"
HUB_ADMIN_TOKEN="$ADMIN" "$HUB_BIN" "${hub_args[@]}" --public-url "$HUB" >"$work/hub.out" 2>"$work/hub.log" &
pids+=($!)

# until WHAT SECONDS COMMAND...: run COMMAND every 0.5 s until it succeeds, or fail after SECONDS.
until_ok() {
  local what=$1 secs=$2 end=$(($(date +%s) + $2))
  shift 2
  until "$@"; do
    [ "$(date +%s)" -lt "$end" ] || fail "$what: not within $secs s"
    if [ -n "${qemu_pid:-}" ] && ! kill -0 "$qemu_pid" 2>/dev/null; then fail "$what: qemu exited"; fi
    sleep 0.5 # polling interval, bounded by the deadline above
  done
}
until_ok "the hub listening" 30 grep -q listening "$work/hub.out"

# call METHOD URL [BODY] [TOKEN]: the JSON answer on stdout, the status in $work/status.
call() {
  local args=(-s -m 20 -o "$work/body" -w '%{http_code}' -X "$1" "$2" -H "idempotency-key: $(python3 -c 'import uuid; print(uuid.uuid4())')")
  [ -n "${3:-}" ] && args+=(-H 'content-type: application/json' --data-binary "$3")
  [ -n "${4:-}" ] && args+=(-H "authorization: Bearer $4")
  curl "${CURL_TLS[@]}" "${args[@]}" >"$work/status" || echo 000 >"$work/status"
  cat "$work/body" 2>/dev/null || true
}
status() { cat "$work/status"; }
# expect STATUS WHAT: fail unless the last call answered STATUS.
expect() { [ "$(status)" = "$1" ] || fail "$2: HTTP $(status) $(cat "$work/body" 2>/dev/null)"; }
field() { python3 -c "import sys, json; v = json.load(sys.stdin)$1; print(v if not isinstance(v, (dict, list)) else json.dumps(v))"; }

log "setting up an organisation, its owner, a store with a menu, a cashier and a pairing code"
STORE=boot-test-store
org=$(call POST "$HUB/api/v1/admin/orgs" '{"name":"Boot Test Foods","owner_email":"owner@boot-test.example"}' "$ADMIN")
expect 201 "creating the organisation"
ORG_ID=$(echo "$org" | field '["id"]')
INVITE=$(echo "$org" | field '["invitation"]["token"]')
OWNER=$(call POST "$HUB/api/v1/auth/accept-invitation" "{\"token\":\"$INVITE\",\"name\":\"Olive Owner\",\"password\":\"boot-test-password-1\"}" | field '["access_token"]')
expect 201 "the owner accepting the invitation"
call POST "$HUB/api/v1/admin/stores" "{\"id\":\"$STORE\",\"name\":\"Boot Test Kitchen\",\"org_id\":\"$ORG_ID\"}" "$ADMIN" >/dev/null
expect 201 "creating the store"
call PUT "$HUB/api/v1/stores/$STORE/menu" "$(cat store-node/demo/menu.json)" "$OWNER" >/dev/null
expect 200 "the owner putting the menu"
call PUT "$HUB/api/v1/stores/$STORE/staff/casey" '{"name":"Casey Cashier","role":"cashier","pin":"4826","active":true}' "$OWNER" >/dev/null
expect 200 "the owner adding a cashier (People page)"
code_json=$(call POST "$HUB/api/v1/stores/$STORE/pairing-codes" '{"label":"boot test box"}' "$OWNER")
expect 201 "the owner making a pairing code"
CODE=$(echo "$code_json" | field '["code"]')
CODE_ID=$(echo "$code_json" | field '["code_id"]')
log "pairing code $CODE for store $STORE"

# ------------------------------------------------------------------ flash
raw_bytes=$(zstd -lv "$IMAGE" 2>/dev/null | awk '/Decompressed Size/ { gsub(/[(),]/, ""); for (i = 1; i <= NF; i++) if ($i == "B") print $(i - 1) }' | tail -1)
DISK="$work/disk.img"
# A "disk" larger than the image, as a real one is: the flasher moves the backup GPT to its end.
truncate -s $((raw_bytes + 512 * 1048576)) "$DISK"
t=$(date +%s)
log "flashing $(basename "$IMAGE") to $DISK ($((raw_bytes / 1048576)) MiB raw)"
"$FLASH_BIN" write --image "$IMAGE" --sha256 "$EDGE_CACHE/image/store-node.img.sha256" --device "$DISK" \
  --hub "$HUB_FOR_NODE" --code "$CODE" "${FLASH_TLS[@]}" --yes </dev/null >"$work/flash.out" 2>&1 ||
  { cat "$work/flash.out"; fail "store-flash write"; }
flash_s=$(($(date +%s) - t))
log "flashed in ${flash_s} s; store-flash says:"
grep -v '%' "$work/flash.out" | sed 's/^/    /' || true

# A partition's byte offset in the disk file, by GPT name (for mtools and debugfs on the file).
part_offset() { sfdisk -J "$DISK" | python3 -c '
import sys, json
t = json.load(sys.stdin)["partitiontable"]
p = next(p for p in t["partitions"] if p.get("name") == sys.argv[1])
print(p["start"] * t.get("sectorsize", 512))' "$1"; }
cfg_offset=$(part_offset config)
if [ "$HUB_TLS" = 0 ]; then
  # BOOT_TEST_PLAIN_HTTP=1: the hub speaks plain http, which the node refuses beyond its own machine
  # unless told (docs/enrollment.md). Tell it on this test disk only, with a drop-in written into
  # root-a after flashing: the image itself stays as shipped.
  printf '[Service]\nEnvironment=STORE_NODE__ENROLL__ALLOW_INSECURE=true\n' >"$work/90-boot-test.conf"
  debugfs -w -R "write $work/90-boot-test.conf /etc/systemd/system/store-node.service.d/90-boot-test.conf" \
    "$DISK?offset=$(part_offset root-a)" >/dev/null 2>&1 || fail "writing the test drop-in into root-a"
fi
mdir -i "$DISK@@$cfg_offset" -b ::/ | grep -qi 'enroll.toml' || fail "store-flash put no enroll.toml on the config partition"

# ------------------------------------------------------------------ boot
cp /usr/share/OVMF/OVMF_VARS_4M.fd "$work/ovmf-vars.fd"
boot() { # boot N: start qemu on the disk, serial console to $work/serial-N.log
  serial="$work/serial-$1.log"
  qemu-system-x86_64 -accel tcg -machine q35 -m 768 -smp 2 -nodefaults -display none -no-reboot \
    -drive if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd \
    -drive if=pflash,format=raw,unit=1,file="$work/ovmf-vars.fd" \
    -drive if=virtio,format=raw,file="$DISK" \
    -netdev user,id=n0,hostfwd=tcp:127.0.0.1:$NODE_PORT-:8080 -device virtio-net-pci,netdev=n0 \
    -serial file:"$serial" </dev/null >"$work/qemu-$1.out" 2>&1 &
  qemu_pid=$!
  pids+=("$qemu_pid")
}
nodes() { call GET "$HUB/api/v1/stores/$STORE/nodes" "" "$OWNER"; }
# The store's nodes enrolled with a pairing code (`enrolled` of GET /api/v1/stores/{id}/nodes).
node_online() { nodes | python3 -c '
import sys, json
sys.exit(0 if any(n["online"] and n["revoked_at_ms"] is None for n in json.load(sys.stdin)["enrolled"]) else 1)' 2>/dev/null; }
# Bounded: QEMU accepts a forwarded connection at once and holds it until the guest answers.
node_answers() { curl -sf -m 3 -o /dev/null "$NODE/healthz"; }

t=$(date +%s)
log "boot 1: qemu (TCG, OVMF, systemd-boot from the disk)"
boot 1
until_ok "boot 1: the node answering on the forwarded port $NODE_PORT" "$DEADLINE_S" node_answers
answer1_s=$(($(date +%s) - t))
log "boot 1: the node answers after ${answer1_s} s"
until_ok "boot 1: the hub listing the node online (enrolled with the code)" "$DEADLINE_S" node_online
ready1_s=$(($(date +%s) - t))
NODE_ID=$(nodes | field '["enrolled"][0]["node_id"]')
log "boot 1: enrolled as $NODE_ID, online at the hub after ${ready1_s} s"

signin() { call POST "$NODE/api/v1/auth/login" '{"staff_id":"casey","pin":"4826"}' >"$work/login.json"; [ "$(status)" = 200 ]; }
until_ok "the cashier from the hub signing in at the node (the roster synced)" 120 signin
CASHIER=$(field '["token"]' <"$work/login.json")
menu_ready() { call POST "$NODE/api/v1/orders" '{"channel":"pos","fulfillment":"takeaway","customer_name":"Boot test","lines":[{"item_id":"shoestring-fries","quantity":2}]}' "$CASHIER" >"$work/order.json"; [ "$(status)" = 201 ] || [ "$(status)" = 200 ]; }
until_ok "an order at the node (the menu synced)" 60 menu_ready
ORDER_ID=$(field '["id"]' <"$work/order.json")
log "order $ORDER_ID ($(field '["ticket"]' <"$work/order.json")) placed at the node by the cashier"
order_at_hub() { call GET "$HUB/api/v1/stores/$STORE/orders" "" "$OWNER" | python3 -c '
import sys, json
sys.exit(0 if any(o.get("id") == sys.argv[1] for o in json.load(sys.stdin)["orders"]) else 1)' "$ORDER_ID" 2>/dev/null; }
until_ok "the order reaching the hub" 60 order_at_hub
log "the hub has order $ORDER_ID"

log "power cut: kill -9 qemu"
kill -9 "$qemu_pid"
wait "$qemu_pid" 2>/dev/null || true
qemu_pid=""
offline() { ! node_online; }
until_ok "the hub seeing the node offline" 120 offline

t=$(date +%s)
log "boot 2 from the same disk"
boot 2
until_ok "boot 2: the node answering" "$DEADLINE_S" node_answers
answer2_s=$(($(date +%s) - t))
until_ok "boot 2: the hub listing the node online again" "$DEADLINE_S" node_online
ready2_s=$(($(date +%s) - t))
log "boot 2: answers after ${answer2_s} s, online at the hub after ${ready2_s} s"
count=$(nodes | python3 -c 'import sys, json; print(len(json.load(sys.stdin)["enrolled"]))')
[ "$count" = 1 ] || fail "the hub lists $count nodes for the store, not one: $(nodes)"
[ "$(nodes | field '["enrolled"][0]["node_id"]')" = "$NODE_ID" ] ||
  fail "the node came back as another node: $(nodes)"
# The code was used once: the hub lists only codes not yet used.
call GET "$HUB/api/v1/stores/$STORE/pairing-codes" "" "$OWNER" | python3 -c '
import sys, json
sys.exit(0 if all(c["code_id"] != sys.argv[1] for c in json.load(sys.stdin)["codes"]) else 1)' "$CODE_ID" ||
  fail "the hub still lists the pairing code as unused"
signin || fail "the cashier cannot sign in at the node after the power cut"
order_at_hub || fail "the order is gone from the hub"
kill -9 "$qemu_pid"
wait "$qemu_pid" 2>/dev/null || true
qemu_pid=""
if mdir -i "$DISK@@$cfg_offset" -b ::/ | grep -qi 'enroll.toml'; then fail "enroll.toml is still on the config partition"; fi
log "one node enrolled once, online again, the code file gone from the config partition"

log "timings: package + image ${image_s} s, flash ${flash_s} s, boot 1: answering ${answer1_s} s / enrolled and online ${ready1_s} s, boot 2: answering ${answer2_s} s / online ${ready2_s} s"
log "PASS in $(($(date +%s) - T0)) s"
echo "boot test: 1 passed, 0 failed"
exit 0
}
