#!/bin/bash
# tests/netlab/test-path-upgrade.sh — a running transfer moves to a better path (TAP).
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Late mapping: the sender sits behind a hard NAT whose router (real miniupnpd) answers port
# mapping only 3 s after the session starts, as slow UPnP routers do; the receiver is behind
# another hard NAT. The session must start on coturn's relay, keep asking the router, and
# once the mapping exists move the running transfer to the direct pair through it — the same
# session, the same QUIC connection, no restart: the bytes arrive identical, both sides'
# first path is relayed and their final path direct-internet through the mapping, and the
# change comes while bytes are still flowing.

set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CLI=${FERRY_CLI_BIN:?FERRY_CLI_BIN must point at ferry-cli}
RENDEZVOUS=${FERRY_RENDEZVOUS_BIN:?FERRY_RENDEZVOUS_BIN must point at ferry-rendezvous}
# shellcheck source=lab.sh
source "${FERRY_LAB_SH:-$HERE/lab.sh}"
# shellcheck source=cli-lib.sh
source "$HERE/cli-lib.sh"

if ! why=$(lab_check); then
  echo "######## SKIPPING THE NAT LAB TESTS: $why ########" >&2
  echo "1..0 # SKIP NAT lab unavailable: $why"
  exit 0
fi

trap lab_teardown EXIT
trap 'exit 1' INT TERM HUP

LATE_S=3

lab_init || exit 1
lab_host a hard+mappable || exit 1
lab_host b hard || exit 1
lab_start_coturn || exit 1
# The transfer must outlast the router's silence and the re-probes' back-off: 40 MB at
# 16 Mbit/s take 20 s, the upgrade is due within about 8 s.
lab_netem a -r 16mbit || exit 1
lab_portmap_block a || exit 1

lab_spawn inet rendezvous env FERRY_TURN_SECRET="$LAB_TURN_SECRET" "$RENDEZVOUS" \
  --listen "$LAB_RENDEZVOUS_IP:4477" \
  --stun "stun:$LAB_COTURN_IP:3478" \
  --turn "turn:$LAB_COTURN_IP:3478?transport=udp" >/dev/null || exit 1
wait_for "$LAB_DIR/rendezvous.log" '^listening on ' 10 || exit 1

work=$LAB_DIR/work
mkdir -p "$work/out" "$work/a" "$work/b" "$work/send"
head -c $((40 * 1024 * 1024 + 7)) /dev/urandom > "$work/send/payload.bin"
url="http://$LAB_RENDEZVOUS_IP:4477"

lab_spawn a sender env FERRY_RENDEZVOUS="$url" XDG_DATA_HOME="$work/a" \
  "$CLI" send --json "$work/send/payload.bin" >/dev/null || exit 1
wait_for "$LAB_DIR/sender.log" '"event":"code"' 20 || exit 1
code=$(json_field "$LAB_DIR/sender.log" code code)

# The router wakes up LATE_S after the peers met (the scenario's clock, not a wait).
( sleep "$LATE_S" && lab_portmap_unblock a ) &
unblocker=$!

lab_exec b env FERRY_RENDEZVOUS="$url" XDG_DATA_HOME="$work/b" FERRY_CODE="$code" \
  timeout 120 "$CLI" receive --json --yes --output "$work/out" > "$work/receiver.log"
status=$?
wait_for "$LAB_DIR/sender.log" '"event":"\(done\|error\)"' 30
wait "$unblocker"

# upgraded_while_running LOG: the log's first path is relayed, a later one direct-internet
# through a mapping, and progress below the total was reported after that change.
upgraded_while_running () {
  python3 - "$1" <<'PY'
import json, sys
events = [json.loads(line) for line in open(sys.argv[1])]
paths = [(i, e) for i, e in enumerate(events) if e.get("event") == "path"]
if not paths or paths[0][1]["kind"] != "relayed":
    sys.exit("first path is not relayed")
last_i, last = paths[-1]
if last["kind"] != "direct-internet" or last["mapped"] == "none":
    sys.exit("final path is %s/%s" % (last["kind"], last["mapped"]))
upgrade = next(i for i, e in paths if e["kind"] == "direct-internet")
later = [e for e in events[upgrade:] if e.get("event") == "progress" and e["bytes"] < e["total"]]
if not later:
    sys.exit("the path changed only once the bytes were all there")
PY
}

ok "the receiver exits 0" [ "$status" = 0 ]
ok "the sender reports done" grep -q '"event":"done"' "$LAB_DIR/sender.log"
ok "the bytes arrive identical" cmp -s "$work/send/payload.bin" "$work/out/payload.bin"
ok "nothing was resumed: one session" [ "$(json_field "$work/receiver.log" done resumed)" = 0 ]
ok "the receiver moved from relayed to the mapping mid-transfer" \
  upgraded_while_running "$work/receiver.log"
ok "the sender moved from relayed to the mapping mid-transfer" \
  upgraded_while_running "$LAB_DIR/sender.log"

echo "# receiver: $(log_summary "$work/receiver.log" 1200)"
echo "# sender: $(log_summary "$LAB_DIR/sender.log" 1200)"
tap_end
