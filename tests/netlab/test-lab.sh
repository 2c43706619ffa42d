#!/bin/bash
# tests/netlab/test-lab.sh — smoke tests of the NAT lab with real UDP traffic (TAP).
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Each NAT kind must behave as LAB.md describes, otherwise every test built on the lab would
# test the wrong thing. Traffic is real: ferry-lab-udp reflectors in the internet namespace
# report the address:port the NATs made of a probe.

set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
UDP=${FERRY_LAB_UDP:?FERRY_LAB_UDP must point at the ferry-lab-udp binary}
# shellcheck source=lab.sh
source "${FERRY_LAB_SH:-$HERE/lab.sh}"
# shellcheck source=cli-lib.sh
source "$HERE/cli-lib.sh"

lab_begin

is () { # is ACTUAL EXPECTED
  [ "$1" = "$2" ] && return 0
  echo "# got '$1', expected '$2'"
  return 1
}
like () { # like ACTUAL GLOB
  # shellcheck disable=SC2053
  [[ $1 == $2 ]] && return 0
  echo "# got '$1', expected something like '$2'"
  return 1
}

# Waits (with a deadline) until FILE has a line matching the grep pattern.
wait_line () {
  local file=$1 pattern=$2 ms=${3:-5000} waited=0
  until grep -q -- "$pattern" "$file" 2>/dev/null; do
    [ "$waited" -lt "$ms" ] || return 1
    sleep 0.02
    waited=$((waited + 20))
  done
}

lab_init || bail "cannot make the internet namespace"
lab_host pub none || bail "host pub"
lab_host alice easy || bail "host alice"
lab_host bob hard || bail "host bob"
lab_host carol cgnat || bail "host carol"
lab_host dave udp-blocked || bail "host dave"
lab_host h1 easy home || bail "host h1"
lab_host h2 easy home || bail "host h2"
lab_host m hard+mappable || bail "host m"
lab_host d dark || bail "host d"
lab_host nog nogw || bail "host nog"
lab_start_coturn || bail "coturn did not start"

carrier_lan=$(ip -n "$(lab_ns c-carol)" -4 -o addr show dev lan \
                | awk '{ split($4, a, "/"); print a[1] }')
lab_spawn inet echo1 "$UDP" echo 11.0.0.4 7000 >/dev/null
lab_spawn inet echo2 "$UDP" echo 11.0.0.5 7000 >/dev/null
lab_spawn inet echo-rv "$UDP" echo "$LAB_RENDEZVOUS_IP" 7000 >/dev/null
lab_spawn c-carol echo-carrier "$UDP" echo "$carrier_lan" 7000 >/dev/null
lab_spawn h2 echo-h2 "$UDP" echo "$(lab_addr h2)" 7001 >/dev/null
for ns in inet c-carol; do lab_wait_udp $ns 7000 || bail "echo servers"; done
lab_wait_udp h2 7001 || bail "echo server on h2"
for i in $(seq 250); do
  [ "$(lab_exec inet ss -Hlun 'sport = :7000' | wc -l)" = 3 ] && break
  sleep 0.02
done

# none: the host's own address is what the internet sees.
out=$(lab_exec pub "$UDP" probe 11.0.0.4:7000)
ok "public host is seen with its own address" like "$out" "$(lab_addr pub):*"

# easy: endpoint-independent mapping, port preserved, for two destinations.
mapfile -t out < <(lab_exec alice "$UDP" probe -p 40000 11.0.0.4:7000 11.0.0.5:7000)
ok "easy NAT maps to its public address, port preserved" \
  is "${out[0]:-}" "$(lab_public_addr alice):40000"
ok "easy NAT keeps the mapping for a second destination" is "${out[1]:-}" "${out[0]:-}"

# hard: endpoint-dependent mapping, a new random port per destination.
mapfile -t out < <(lab_exec bob "$UDP" probe -p 40000 11.0.0.4:7000 11.0.0.5:7000)
ok "hard NAT maps to its public address" like "${out[0]:-}" "$(lab_public_addr bob):*"
ok "hard NAT gives a second destination another port" \
  eval '[ -n "${out[1]:-}" ] && [ "${out[1]%:*}" = "${out[0]%:*}" ] \
        && [ "${out[1]}" != "${out[0]}" ]'

# CGNAT: translated twice, first to 100.64/10, then to the carrier's public address.
out=$(lab_exec carol "$UDP" probe 11.0.0.4:7000)
ok "CGNAT host is seen with the carrier's public address" \
  like "$out" "$(lab_public_addr carol):*"
out=$(lab_exec carol "$UDP" probe "$carrier_lan:7000")
ok "CGNAT home router translates into 100.64.0.0/10" like "$out" "100.64.*.2:*"

# UDP blocked: no UDP out except to the rendezvous; TCP (TURN over TCP) still works.
out=$(lab_exec dave "$UDP" probe -t 400 11.0.0.4:7000)
ok "UDP-blocked network drops UDP to the internet" is "$out" "timeout"
out=$(lab_exec dave "$UDP" probe "$LAB_RENDEZVOUS_IP:7000")
ok "UDP-blocked network lets UDP reach the rendezvous" like "$out" "$(lab_public_addr dave):*"
ok "UDP-blocked network allows TCP to coturn" \
  lab_exec dave timeout 5 bash -c "exec 3<>/dev/tcp/$LAB_COTURN_IP/3478"

# hairpin: two hosts behind one NAT share its public address and reach each other directly.
a=$(lab_exec h1 "$UDP" probe 11.0.0.4:7000)
b=$(lab_exec h2 "$UDP" probe 11.0.0.4:7000)
ok "hairpin hosts share one public address" \
  eval '[ "${a%:*}" = "$(lab_public_addr h1)" ] && [ "${b%:*}" = "${a%:*}" ]'
out=$(lab_exec h1 "$UDP" probe "$(lab_addr h2):7001")
ok "hairpin hosts reach each other on the LAN" like "$out" "$(lab_addr h1):*"

# dark and nogw: a gateway that never answers, and no gateway at all.
out=$(lab_exec d "$UDP" probe -t 300 "$(lab_gateway d):5351" 11.0.0.4:7000)
ok "dark router answers and forwards nothing" is "$out" $'timeout\ntimeout'
out=$(lab_exec nog "$UDP" probe -t 300 11.0.0.4:7000)
ok "network without a gateway cannot reach the internet" like "$out" "error: *unreachable*"

# coturn: a real STUN binding request answered with the NAT's public address.
out=$(lab_exec alice turnutils_stunclient -p 3478 "$LAB_COTURN_IP" 2>&1)
ok "coturn answers a STUN binding request" \
  like "$out" "*UDP reflexive addr: $(lab_public_addr alice):*"

# coturn relays for clients with REST credentials made from the shared secret, and only
# for them (the rendezvous will hand out such credentials).
out=$(lab_exec alice timeout 20 turnutils_uclient -y -c -W "$LAB_TURN_SECRET" -u alice \
        -n 5 -m 1 -l 100 "$LAB_COTURN_IP" 2>&1)
ok "coturn relays with REST credentials" \
  like "$out" "*tot_send_msgs=10, tot_recv_msgs=10*Total lost packets 0 *"
out=$(lab_exec alice timeout 20 turnutils_uclient -y -c -W not-the-secret -u alice \
        -n 5 -m 1 "$LAB_COTURN_IP" 2>&1)
ok "coturn refuses credentials from another secret" like "$out" "*Cannot complete Allocation*"

# miniupnpd: NAT-PMP and UPnP IGD mappings that really forward traffic.
router=$(lab_router m)
gw=$(lab_gateway m)
maddr=$(lab_addr m)
mpub=$(lab_public_addr m)
out=$(lab_exec m natpmpc -g "$gw" -a 4000 4000 udp 60 2>&1)
ok "miniupnpd gives natpmpc a mapping" like "$out" "*Mapped public port 4000 protocol UDP*"
rules=$(ip netns exec "$router" nft list ruleset)
ok "the NAT-PMP mapping is in the router's ruleset" like "$rules" "*dnat ip to $maddr:4000*"
lab_spawn m recv-4000 "$UDP" recv 4000 5000 >/dev/null
wait_line "$LAB_DIR/recv-4000.log" bound || bail "receiver did not bind"
lab_exec inet "$UDP" send "$mpub:4000" through-the-mapping
wait_line "$LAB_DIR/recv-4000.log" through-the-mapping
ok "a datagram to the mapped public port reaches the host" \
  like "$(cat "$LAB_DIR/recv-4000.log")" "*through-the-mapping*"
out=$(lab_exec m natpmpc -g "$gw" -a 4000 4000 udp 0 2>&1)
rules=$(ip netns exec "$router" nft list ruleset)
ok "deleting the NAT-PMP mapping removes the rule" \
  eval '[[ $rules != *"dnat ip to $maddr:4000"* ]]'

out=$(lab_exec m upnpc -u "http://$gw:5000/rootDesc.xml" -a "$maddr" 6000 6000 UDP 2>&1)
ok "miniupnpd gives upnpc a mapping" \
  like "$out" "*external $mpub:6000 UDP is redirected to internal $maddr:6000*"
rules=$(ip netns exec "$router" nft list ruleset)
ok "the UPnP mapping is in the router's ruleset" like "$rules" "*dnat ip to $maddr:6000*"
lab_exec m upnpc -u "http://$gw:5000/rootDesc.xml" -d 6000 UDP >/dev/null 2>&1
rules=$(ip netns exec "$router" nft list ruleset)
ok "deleting the UPnP mapping removes the rule" eval '[[ $rules != *"dnat ip to $maddr:6000"* ]]'

# Teardown leaves nothing: no namespace, no server process, no file.
id=$LAB_ID
dir=$LAB_DIR
mapfile -t pids < "$LAB_DIR/pids"
lab_teardown
ok "teardown removes every namespace" eval '! ip netns list | grep -q "^$id-"'
ok "teardown removes the lab's files" eval '[ ! -e "$dir" ]'
all_dead () { local p; for p in "$@"; do ! kill -0 "$p" 2>/dev/null || return 1; done; }
ok "teardown stops every server" all_dead "${pids[@]}"

# A lab whose owner died without its trap (SIGKILL) is reaped by the next lab. Pid 4194304
# is above the kernel's pid_max, so this owner can never be alive.
ip netns add fl4194304-stale
_lab_reap_stale 2>/dev/null
ok "stale namespaces of dead owners are reaped" eval '! ip netns list | grep -q "^fl4194304-"'

# A served lab (what C tests use) goes away when its parent closes the pipe or dies.
coproc SERVED { bash "${FERRY_LAB_SH:-$HERE/lab.sh}" serve x:hard+mappable 2>&1; }
served_id=
while read -r -t 30 line <&"${SERVED[0]}"; do
  case $line in
    "id - "*) served_id=${line#id - } ;;
    ready) break ;;
  esac
done
ok "a served lab comes up" eval '[ -n "$served_id" ] && ip netns list | grep -q "^$served_id-x"'
exec {SERVED[1]}>&-
wait "$SERVED_PID"
ok "a served lab is torn down when its stdin closes" \
  eval '[ -n "$served_id" ] && ! ip netns list | grep -q "^$served_id-"'

tap_end
