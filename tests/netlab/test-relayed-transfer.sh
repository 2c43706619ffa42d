#!/bin/bash
# tests/netlab/test-relayed-transfer.sh — a whole transfer through a TURN relay (TAP).
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Two hosts behind hard ("symmetric") NATs cannot reach each other directly, so ICE must
# settle on coturn's relay. The real ferry-cli runs in each host's namespace and meets the
# other through the real ferry-rendezvous on the lab's internet; the received bytes must be
# identical and both sides must report the path as relayed via the lab's coturn.

set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CLI=${FERRY_CLI_BIN:?FERRY_CLI_BIN must point at ferry-cli}
RENDEZVOUS=${FERRY_RENDEZVOUS_BIN:?FERRY_RENDEZVOUS_BIN must point at ferry-rendezvous}
# shellcheck source=lab.sh
source "${FERRY_LAB_SH:-$HERE/lab.sh}"

if ! why=$(lab_check); then
  echo "######## SKIPPING THE NAT LAB TESTS: $why ########" >&2
  echo "1..0 # SKIP NAT lab unavailable: $why"
  exit 0
fi

trap lab_teardown EXIT
trap 'exit 1' INT TERM HUP

n=0
failed=0
ok () { # ok NAME COMMAND…
  local name=$1
  shift
  n=$((n + 1))
  if "$@"; then
    echo "ok $n - $name"
  else
    echo "not ok $n - $name"
    failed=1
  fi
}

# wait_for FILE PATTERN SECONDS: waits for a line, polling the file the process writes.
wait_for () {
  local deadline=$((SECONDS + $3))
  while [ $SECONDS -lt $deadline ]; do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "# timed out waiting for '$2' in $1" >&2
  return 1
}

json_field () { # json_field FILE EVENT FIELD
  python3 - "$@" <<'PY'
import json, sys
path, event, field = sys.argv[1:4]
for line in open(path):
    obj = json.loads(line)
    if obj.get("event") == event:
        value = obj.get(field)
        print("" if value is None else value)
        break
PY
}

lab_init || exit 1
lab_host a hard || exit 1
lab_host b hard || exit 1
lab_start_coturn || exit 1

lab_spawn inet rendezvous env FERRY_TURN_SECRET="$LAB_TURN_SECRET" "$RENDEZVOUS" \
  --listen "$LAB_RENDEZVOUS_IP:4477" \
  --stun "stun:$LAB_COTURN_IP:3478" \
  --turn "turn:$LAB_COTURN_IP:3478?transport=udp" >/dev/null || exit 1
wait_for "$LAB_DIR/rendezvous.log" '^listening on ' 10 || exit 1

work=$LAB_DIR/work
mkdir -p "$work/out" "$work/a" "$work/b" "$work/send"
head -c $((24 * 1024 * 1024 + 99)) /dev/urandom > "$work/send/payload.bin"
url="http://$LAB_RENDEZVOUS_IP:4477"

lab_spawn a sender env FERRY_RENDEZVOUS="$url" XDG_DATA_HOME="$work/a" \
  "$CLI" send --json "$work/send/payload.bin" >/dev/null || exit 1
wait_for "$LAB_DIR/sender.log" '"event":"code"' 20 || exit 1
code=$(json_field "$LAB_DIR/sender.log" code code)

lab_exec b env FERRY_RENDEZVOUS="$url" XDG_DATA_HOME="$work/b" FERRY_CODE="$code" \
  timeout 120 "$CLI" receive --json --yes --output "$work/out" > "$work/receiver.log"
status=$?
wait_for "$LAB_DIR/sender.log" '"event":"\(done\|error\)"' 30

ok "the receiver exits 0" [ "$status" = 0 ]
ok "the sender reports done" grep -q '"event":"done"' "$LAB_DIR/sender.log"
ok "the bytes arrive identical" cmp -s "$work/send/payload.bin" "$work/out/payload.bin"
ok "the receiver's path is relayed" [ "$(json_field "$work/receiver.log" path kind)" = relayed ]
ok "the sender's path is relayed" [ "$(json_field "$LAB_DIR/sender.log" path kind)" = relayed ]
ok "the relay is the lab's coturn" \
  grep -q "\"relay\":\"$LAB_COTURN_IP:3478\"" "$work/receiver.log"

echo "# receiver: $(grep -v "\"progress\"" "$work/receiver.log" | tr "\n" " " | cut -c1-600)"
echo "# sender: $(grep -v "\"progress\"" "$LAB_DIR/sender.log" | tr "\n" " " | cut -c1-800)"
echo "1..$n"
exit $failed
