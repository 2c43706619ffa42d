#!/bin/bash
# tests/netlab/test-netem.sh — the lab's link shaping really delays, loses and limits (TAP).
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Delay and loss come from ferry-netem (NFQUEUE, this kernel has no netem qdisc), rate from
# TBF. Measured with real UDP round trips and a real flood between two public hosts.

set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
UDP=${FERRY_LAB_UDP:?FERRY_LAB_UDP must point at the ferry-lab-udp binary}
: "${FERRY_NETEM:?FERRY_NETEM must point at the ferry-netem binary}"
# shellcheck source=lab.sh
source "${FERRY_LAB_SH:-$HERE/lab.sh}"
# shellcheck source=cli-lib.sh
source "$HERE/cli-lib.sh"

lab_begin NETEM

# field LINE NAME: the value after NAME in "name value name value…"
field () { awk -v k="$2" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }' <<<"$1"; }
# between VALUE LOW HIGH (decimals allowed)
between () {
  awk -v v="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(v >= lo && v < hi) }' && return 0
  echo "# $1 is not in [$2, $3)"
  return 1
}

DELAY=60
MARGIN=40

lab_init || bail "lab"
for h in server plain delayed lossy slow; do lab_host $h none || bail "host $h"; done
server=$(lab_addr server)
lab_spawn server mirror "$UDP" mirror "$server" 7100 >/dev/null
lab_wait_udp server 7100 || bail "mirror did not start"

out=$(lab_exec plain "$UDP" ping -c 20 -i 5 "$server:7100")
echo "# plain: $out"
ok "an unshaped link answers every ping" between "$(field "$out" received)" 20 21
ok "an unshaped link is fast" between "$(field "$out" max)" 0 "$MARGIN"

lab_netem delayed -d "$DELAY" || bail "netem delay"
out=$(lab_exec delayed "$UDP" ping -c 20 -i 10 -t 2000 "$server:7100")
echo "# delayed by $DELAY ms: $out"
ok "a delayed link loses nothing" between "$(field "$out" received)" 20 21
ok "every round trip takes at least the delay" between "$(field "$out" min)" "$DELAY" 100000
ok "no round trip takes much longer than the delay" \
  between "$(field "$out" max)" 0 "$((DELAY + MARGIN))"

# 20 % loss on 300 datagrams: 240 expected answers, σ ≈ 7; the bounds are ±4σ.
lab_netem lossy -l 20 || bail "netem loss"
out=$(lab_exec lossy "$UDP" ping -c 300 -i 1 -t 500 "$server:7100")
echo "# 20 % loss: $out"
ok "a 20 % lossy link drops about a fifth" between "$(field "$out" received)" 212 269

lab_netem slow -r 2mbit || bail "netem rate"
lab_spawn server sink "$UDP" tcp-sink 7200 >/dev/null
for i in $(seq 250); do grep -q bound "$LAB_DIR/sink.log" && break; sleep 0.02; done
lab_exec slow "$UDP" tcp-send "$server:7200" 400000 || bail "tcp-send"
for i in $(seq 250); do grep -q received "$LAB_DIR/sink.log" && break; sleep 0.02; done
out=$(grep received "$LAB_DIR/sink.log")
echo "# 2 Mbit/s: $out"
ok "a 2 Mbit/s link carries about 2 Mbit/s" between "$(field "$out" kbps)" 1700 2300

tap_end
