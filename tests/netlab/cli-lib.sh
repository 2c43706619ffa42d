#!/bin/bash
# tests/netlab/cli-lib.sh — the TAP and log helpers every lab script shares (one copy).
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Each test ends with `tap_end`, which prints the plan and exits 1 if a check failed.
# start_rendezvous needs lab.sh sourced first; the rest stands alone (test-lan.sh).

TAP_N=0
TAP_FAILED=0

ok () { # ok NAME COMMAND…
  local name=$1
  shift
  TAP_N=$((TAP_N + 1))
  if "$@"; then
    echo "ok $TAP_N - $name"
  else
    echo "not ok $TAP_N - $name"
    TAP_FAILED=1
  fi
}

tap_end () {
  echo "1..$TAP_N"
  exit $TAP_FAILED
}

bail () { echo "Bail out! $*"; exit 1; }

# lab_begin [WHAT]: without the lab (no root, no `ip netns`) the plan is a loud SKIP and the
# script ends; with it, the lab is torn down however the script ends. Needs lab.sh.
lab_begin () {
  local why
  if ! why=$(lab_check); then
    echo "######## SKIPPING THE NAT LAB ${1:+$1 }TESTS: $why ########" >&2
    echo "1..0 # SKIP NAT lab unavailable: $why"
    exit 0
  fi
  trap lab_teardown EXIT
  trap 'exit 1' INT TERM HUP
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

# json_field FILE EVENT FIELD [first|last]: FIELD of the first (or last) EVENT line of a
# `--json` log; lines that are not JSON (a debug message on the same stream) are skipped.
json_field () {
  python3 - "$@" <<'PY'
import json, sys
path, event, field = sys.argv[1:4]
which = sys.argv[4] if len(sys.argv) > 4 else "first"
found = None
for line in open(path):
    try:
        obj = json.loads(line)
    except ValueError:
        continue
    if obj.get("event") == event:
        found = obj
        if which == "first":
            break
if found is not None:
    value = found.get(field)
    print("" if value is None else value)
PY
}

# json_count FILE EVENT: how many EVENT lines a `--json` log has.
json_count () {
  grep -c "\"event\":\"$2\"" "$1"
}

# The lines of a `--json` log but its progress, on one line, for a TAP comment.
log_summary () {
  grep -v '"progress"' "$1" | tr "\n" " " | cut -c1-"${2:-800}"
}

# start_rendezvous: the real ferry-rendezvous in the lab's internet, handing out the lab's
# coturn for STUN and TURN over UDP; sets RENDEZVOUS_URL.
start_rendezvous () {
  lab_spawn inet rendezvous env FERRY_TURN_SECRET="$LAB_TURN_SECRET" "$RENDEZVOUS" \
    --listen "$LAB_RENDEZVOUS_IP:4477" \
    --stun "stun:$LAB_COTURN_IP:3478" \
    --turn "turn:$LAB_COTURN_IP:3478?transport=udp" >/dev/null || return 1
  wait_for "$LAB_DIR/rendezvous.log" '^listening on ' 10 || return 1
  RENDEZVOUS_URL="http://$LAB_RENDEZVOUS_IP:4477"
}

# start_sender BYTES: a work folder ($work) with a payload of BYTES random bytes, and the real
# sender on host a offering it through the lab's rendezvous; sets $code once it has one.
# Needs $CLI and start_rendezvous.
start_sender () {
  work=$LAB_DIR/work
  mkdir -p "$work/out" "$work/a" "$work/b" "$work/send"
  head -c "$1" /dev/urandom > "$work/send/payload.bin"
  lab_spawn a sender env FERRY_RENDEZVOUS="$RENDEZVOUS_URL" XDG_DATA_HOME="$work/a" \
    "$CLI" send --json "$work/send/payload.bin" >/dev/null || return 1
  wait_for "$LAB_DIR/sender.log" '"event":"code"' 20 || return 1
  code=$(json_field "$LAB_DIR/sender.log" code code)
}

# receive_on HOST: the real receiver on HOST takes $code to its end (log $work/receiver.log,
# exit status $status), then the sender has a moment to report how it ended.
receive_on () {
  lab_exec "$1" env FERRY_RENDEZVOUS="$RENDEZVOUS_URL" XDG_DATA_HOME="$work/b" \
    FERRY_CODE="$code" timeout 120 "$CLI" receive --json --yes --output "$work/out" \
    > "$work/receiver.log"
  status=$?
  wait_for "$LAB_DIR/sender.log" '"event":"\(done\|error\)"' 30
}

# ok_delivered RECEIVER_LOG: the checks every whole-transfer row makes ($status is the
# receiver's exit status).
ok_delivered () {
  ok "the receiver exits 0" [ "$status" = 0 ]
  ok "the sender reports done" grep -q '"event":"done"' "$LAB_DIR/sender.log"
  ok "the bytes arrive identical" cmp -s "$work/send/payload.bin" "$work/out/payload.bin"
  ok "nothing was resumed: one session" [ "$(json_field "$1" done resumed)" = 0 ]
}

# upgraded_while_running LOG FIRST FINAL [MAPPED]: the log's first path is of kind FIRST, its
# last of kind FINAL (through a port mapping if MAPPED is "mapped"), and progress below the
# total was reported after the first path of kind FINAL: the change came mid-transfer.
upgraded_while_running () {
  python3 - "$@" <<'PY'
import json, sys
log, first, final = sys.argv[1:4]
mapped = len(sys.argv) > 4 and sys.argv[4] == "mapped"
events = [json.loads(line) for line in open(log)]
paths = [(i, e) for i, e in enumerate(events) if e.get("event") == "path"]
if not paths or paths[0][1]["kind"] != first:
    sys.exit("first path is not %s" % first)
last = paths[-1][1]
if last["kind"] != final or (mapped and last["mapped"] == "none"):
    sys.exit("final path is %s/%s" % (last["kind"], last["mapped"]))
change = next(i for i, e in paths if e["kind"] == final)
later = [e for e in events[change:] if e.get("event") == "progress" and e["bytes"] < e["total"]]
if not later:
    sys.exit("the path changed only once the bytes were all there")
PY
}
