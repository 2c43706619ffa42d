#!/bin/bash
# tests/netlab/test-roaming.sh SCENARIO — the receiver's address changes mid-transfer (TAP).
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The sender is a public host; the receiver's address changes while bytes flow, as when
# DHCP renumbers or a laptop moves: a new address comes, the old one goes, the default route
# is put back. The receiver's ICE session must rebind (new sockets on the new address,
# checks to the sender's candidates it knows: its rendezvous connection died with the old
# address) and the same session, the same QUIC connection, must finish: exit 0, identical
# bytes, nothing resumed, and a path on the new address reported while bytes still flowed.
#
#   public   the receiver is a public host too (11.0.k.2 -> 11.0.k.3)
#   nated    the receiver is behind an easy NAT (192.168.k.10 -> 192.168.k.20)

set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CLI=${FERRY_CLI_BIN:?FERRY_CLI_BIN must point at ferry-cli}
RENDEZVOUS=${FERRY_RENDEZVOUS_BIN:?FERRY_RENDEZVOUS_BIN must point at ferry-rendezvous}
# shellcheck source=lab.sh
source "${FERRY_LAB_SH:-$HERE/lab.sh}"
# shellcheck source=cli-lib.sh
source "$HERE/cli-lib.sh"

lab_begin

SCENARIO=${1:?which scenario}

lab_init || exit 1
lab_host a none || exit 1
case $SCENARIO in
  public) lab_host b none || exit 1 ;;
  nated) lab_host b easy || exit 1 ;;
  *) echo "Bail out! unknown scenario $SCENARIO"; exit 1 ;;
esac
lab_start_coturn || exit 1
# 40 MB at 16 Mbit/s: 20 s of transfer, the change comes in its first second.
lab_netem a -r 16mbit || exit 1
start_rendezvous || exit 1

old=$(lab_addr b)
new=${old%.*}.$(( ${old##*.} + 10 ))
gateway=$(lab_gateway b)
b_ns=$(lab_ns b)

start_sender $((40 * 1024 * 1024 + 5)) || exit 1

lab_spawn b receiver env FERRY_RENDEZVOUS="$RENDEZVOUS_URL" XDG_DATA_HOME="$work/b" \
  FERRY_CODE="$code" timeout 120 "$CLI" receive --json --yes --output "$work/out" \
  >/dev/null || exit 1
receiver=$(tail -n 1 "$LAB_DIR/pids")
wait_for "$LAB_DIR/receiver.log" '"event":"progress"' 30 || exit 1

# Renumber: the new address first (the old one's removal would otherwise take the routes),
# then the old one goes, then the default route is back on the new address.
ip netns exec "$b_ns" sysctl -qw net.ipv4.conf.eth0.promote_secondaries=1 || exit 1
ip -n "$b_ns" addr add "$new/24" dev eth0 || exit 1
ip -n "$b_ns" addr del "$old/24" dev eth0 || exit 1
ip -n "$b_ns" route replace default via "$gateway" || exit 1
echo "# renumbered $old -> $new"

wait "$receiver"
status=$?
wait_for "$LAB_DIR/sender.log" '"event":"\(done\|error\)"' 30

# moved_while_running LOG ADDRESS: a path whose local address is on ADDRESS ("-": any
# other than the first path's, as behind the NAT the local end is the router's mapping) was
# reported, then progress below the total.
moved_while_running () {
  python3 - "$@" <<'PY'
import json, sys
log, address = sys.argv[1:3]
events = [json.loads(line) for line in open(log)]
paths = [(i, e) for i, e in enumerate(events) if e.get("event") == "path"]
first = paths[0][1]["local"] if paths else None
moved = [i for i, e in paths
         if (e["local"] != first if address == "-" else e["local"].startswith(address + ":"))]
if not moved:
    sys.exit("no path on %s: %s" % (address, [e["local"] for _, e in paths]))
later = [e for e in events[moved[0]:] if e.get("event") == "progress" and e["bytes"] < e["total"]]
if not later:
    sys.exit("the path moved only once the bytes were all there")
PY
}

ok_delivered "$LAB_DIR/receiver.log"
if [ "$SCENARIO" = public ]; then
  ok "the receiver's path moved to $new mid-transfer" \
    moved_while_running "$LAB_DIR/receiver.log" "$new"
else
  ok "the receiver's path moved to a new mapping mid-transfer" \
    moved_while_running "$LAB_DIR/receiver.log" -
fi
ok "the sender's final path is direct-internet" \
  [ "$(json_field "$LAB_DIR/sender.log" path kind last)" = direct-internet ]

echo "# receiver: $(log_summary "$LAB_DIR/receiver.log" 1500)"
echo "# sender: $(log_summary "$LAB_DIR/sender.log" 1500)"
tap_end
