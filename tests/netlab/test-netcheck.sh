#!/bin/bash
# tests/netlab/test-netcheck.sh one-server — netcheck with one STUN/TURN server (TAP).
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
# What a self-hoster runs: ONE coturn on ONE address (no second coturn in this lab, so no
# second STUN destination and no RFC 5780 alternate port). The real ferry-cli netcheck, in a
# host's namespace and asking the real ferry-rendezvous, must still tell an easy NAT (and a
# public address) from a hard one, through its TURN probe; each verdict names its public
# address, and "mapping_method" says it was the TURN probe that told. Where it truly cannot
# tell (UDP blocked: no STUN answer, no TURN over UDP), it says "unknown" and why.

set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CLI=${FERRY_CLI_BIN:?FERRY_CLI_BIN must point at ferry-cli}
RENDEZVOUS=${FERRY_RENDEZVOUS_BIN:?FERRY_RENDEZVOUS_BIN must point at ferry-rendezvous}
# shellcheck source=lab.sh
source "${FERRY_LAB_SH:-$HERE/lab.sh}"
# shellcheck source=cli-lib.sh
source "$HERE/cli-lib.sh"

[ "${1:-}" = one-server ] || bail "usage: $0 one-server"
lab_begin "NETCHECK"

lab_init || exit 1
lab_host pub none || exit 1
lab_host easy easy || exit 1
lab_host hard hard || exit 1
lab_host cgnat cgnat || exit 1
lab_host blocked udp-blocked || exit 1
lab_start_coturn --one || exit 1
start_rendezvous || exit 1

# coturn opens a UDP socket per thread: every one must be on the one address, on 3478 only.
ok "STUN/TURN listens on one address and one port only" \
  [ "$(ip netns exec "$(lab_ns inet)" ss -Hlun "( sport = :3478 or sport = :3479 )" |
       awk '{ print $4 }' | sort -u)" = "$LAB_COTURN_IP:3478" ]

# netcheck_verdict FILE PUBLIC MAPPING: the report in FILE gives MAPPING told by the TURN
# probe, and exactly the PUBLIC address; for "unknown", no method, no address and a reason.
netcheck_verdict () {
  python3 - "$@" <<'PY'
import json, sys
path, public, mapping = sys.argv[1:4]
report = json.load(open(path))
if report.get("mapping") != mapping:
    sys.exit("mapping is %r (%r), not %r" % (report.get("mapping"), report.get("mapping_reason"),
                                             mapping))
if mapping == "unknown":
    if report.get("mapping_method") is not None or not report.get("mapping_reason"):
        sys.exit("no verdict, but method %r and reason %r" % (report.get("mapping_method"),
                                                              report.get("mapping_reason")))
    if report.get("public_addresses") != []:
        sys.exit("no verdict, but public addresses %r" % report.get("public_addresses"))
    sys.exit(0)
if report.get("mapping_method") != "turn":
    sys.exit("mapping_method is %r, not 'turn'" % report.get("mapping_method"))
if report.get("public_addresses") != [public]:
    sys.exit("public addresses %r, not [%r]" % (report.get("public_addresses"), public))
if not report.get("turn", {}).get("udp"):
    sys.exit("TURN over UDP did not answer")
PY
}

for row in pub:easy easy:easy hard:hard cgnat:easy blocked:unknown; do
  host=${row%%:*}
  want=${row#*:}
  out=$LAB_DIR/netcheck-$host.json
  lab_exec "$host" env GIO_USE_PROXY_RESOLVER=dummy timeout 60 \
    "$CLI" --rendezvous "$RENDEZVOUS_URL" netcheck --json > "$out" 2> "$LAB_DIR/netcheck-$host.err"
  ok "netcheck exits 0 on $host" [ $? = 0 ]
  case $want in
    unknown) how="and why it cannot tell" ;;
    *) how="through the TURN probe" ;;
  esac
  ok "netcheck on $host ($(lab_public_addr "$host")) says \"$want\" $how" \
    netcheck_verdict "$out" "$(lab_public_addr "$host")" "$want"
  echo "# $host: $(tr -d '\n' < "$out" | cut -c1-900)"
done

tap_end
