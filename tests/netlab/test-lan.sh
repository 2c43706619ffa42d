#!/bin/bash
# tests/netlab/test-lan.sh — two computers on one network with no server (issue 18, TAP).
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Two namespaces share one LAN segment (a veth pair) and have no route anywhere else. Each
# side of a transfer runs in its namespace inside a private mount namespace with its own
# D-Bus system bus and avahi-daemon (LAB.md), so the real ferry-cli publishes and browses
# `_ferry._tcp` through a real Avahi and meets the other side through the rendezvous the
# sender runs inside itself:
#   a. a whole transfer by code: identical bytes, path direct-lan on both sides;
#   b. a wrong code burns the sender's LAN mailbox, and the real sender says so;
#   c. with multicast dropped on the segment the receiver fails with the clear error,
#      within a bound, not a hang;
#   d. with a reachable rendezvous as well, either mailbox may win; the transfer succeeds;
#      and when only the sender knows the server, it takes the receiver from the network.
#
# Standalone: it builds its own namespaces and does not use lab.sh (only cli-lib.sh).

set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=cli-lib.sh
source "$HERE/cli-lib.sh"
CLI=${FERRY_CLI_BIN:?FERRY_CLI_BIN must point at ferry-cli}
RENDEZVOUS=${FERRY_RENDEZVOUS_BIN:?FERRY_RENDEZVOUS_BIN must point at ferry-rendezvous}

skip () {
  echo "######## SKIPPING THE LAN LAB TEST: $1 ########" >&2
  echo "1..0 # SKIP LAN lab unavailable: $1"
  exit 0
}

[ "$(id -u)" = 0 ] || skip "it needs root (network namespaces)"
for tool in ip unshare dbus-daemon dbus-send avahi-daemon iptables python3; do
  command -v "$tool" >/dev/null || skip "$tool is missing"
done

ID="flan$$"
NS_A="$ID-a"
NS_B="$ID-b"
DIR=$(mktemp -d /tmp/ferry-lan-XXXXXX)

teardown () {
  local ns pid
  for ns in "$NS_A" "$NS_B"; do
    # Only what this test started runs in its namespaces.
    for pid in $(ip netns pids "$ns" 2>/dev/null); do
      kill "$pid" 2>/dev/null
    done
  done
  for ns in "$NS_A" "$NS_B"; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do
      kill -9 "$pid" 2>/dev/null
    done
    ip netns del "$ns" 2>/dev/null
  done
  rm -rf "$DIR"
}
trap teardown EXIT
trap 'exit 1' INT TERM HUP

# One LAN segment, IPv4 only, nothing routed beyond it.
ip netns add "$NS_A" || exit 1
ip netns add "$NS_B" || exit 1
ip -n "$NS_A" link add lan0 type veth peer name lan0 netns "$NS_B" || exit 1
for ns in "$NS_A" "$NS_B"; do
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
  ip -n "$ns" link set lo up
done
ip -n "$NS_A" addr add 10.77.0.1/24 dev lan0
ip -n "$NS_B" addr add 10.77.0.2/24 dev lan0
ip -n "$NS_A" link set lan0 up
ip -n "$NS_B" link set lan0 up

cat > "$DIR/avahi-daemon.conf" <<'EOF'
[server]
use-ipv4=yes
use-ipv6=no
allow-interfaces=lan0
enable-dbus=yes
disallow-other-stacks=no
ratelimit-interval-usec=1000000
ratelimit-burst=1000
[wide-area]
enable-wide-area=no
[publish]
publish-hinfo=no
publish-workstation=no
publish-addresses=yes
EOF

# The part each side runs in its private mount namespace: its own /run with a system bus
# and an avahi-daemon, then the command; the daemons go with it.
cat > "$DIR/with-avahi.sh" <<'EOF'
#!/bin/bash
set -u
conf=$1
shift
mount -t tmpfs tmpfs /run || exit 1
mkdir -p /run/dbus /run/avahi-daemon
dbus_pid=$(dbus-daemon --system --fork --nopidfile --print-pid) || exit 1
avahi-daemon --no-drop-root --no-chroot --no-rlimits -f "$conf" -D || exit 1
stop () {
  avahi-daemon -k 2>/dev/null
  kill "$dbus_pid" 2>/dev/null
}
trap stop EXIT
trap 'exit 1' INT TERM HUP
# Avahi is usable once its server answers on the bus and has probed its host name.
deadline=$((SECONDS + 15))
until dbus-send --system --print-reply --dest=org.freedesktop.Avahi / \
        org.freedesktop.Avahi.Server.GetState 2>/dev/null | grep -q 'int32 2'; do
  if [ $SECONDS -ge $deadline ]; then
    echo "avahi-daemon did not come up" >&2
    exit 1
  fi
  sleep 0.1
done
"$@"
EOF
chmod +x "$DIR/with-avahi.sh"

# side NS ENV… -- COMMAND…: runs a side in its namespace with its own Avahi.
side () {
  local ns=$1
  shift
  ip netns exec "$ns" unshare -m --propagation private "$DIR/with-avahi.sh" \
    "$DIR/avahi-daemon.conf" env -u FERRY_RENDEZVOUS GIO_USE_PROXY_RESOLVER=dummy "$@"
}

mkdir -p "$DIR/send"
head -c $((8 * 1024 * 1024 + 77)) /dev/urandom > "$DIR/send/payload.bin"

# start_sender NAME [ENV…]: a sender in A; its JSON events go to $DIR/NAME.sender.
start_sender () {
  local name=$1
  shift
  mkdir -p "$DIR/$name/a"
  side "$NS_A" XDG_DATA_HOME="$DIR/$name/a" "$@" \
    "$CLI" send --json "$DIR/send/payload.bin" > "$DIR/$name.sender" 2> "$DIR/$name.sender.err" &
  sender_pid=$!
  wait_for "$DIR/$name.sender" '"event":"\(code\|error\)"' 30
}

# receive NAME CODE [ENV…]: a receiver in B; its events go to $DIR/NAME.receiver.
receive () {
  local name=$1 code=$2
  shift 2
  mkdir -p "$DIR/$name/b" "$DIR/$name/out"
  side "$NS_B" XDG_DATA_HOME="$DIR/$name/b" FERRY_CODE="$code" "$@" \
    timeout 120 "$CLI" receive --json --yes --output "$DIR/$name/out" \
    > "$DIR/$name.receiver" 2> "$DIR/$name.receiver.err"
}

stop_sender () {
  kill "$sender_pid" 2>/dev/null
  wait "$sender_pid" 2>/dev/null
}

show () { # show NAME: the events, for a failure's log
  echo "# $1 sender: $(grep -v '"progress"' "$DIR/$1.sender" | tr '\n' ' ' | cut -c1-700)"
  echo "# $1 sender stderr: $(tail -c 600 "$DIR/$1.sender.err" | tr '\n' ' ')"
  echo "# $1 receiver: $(grep -v '"progress"' "$DIR/$1.receiver" | tr '\n' ' ' | cut -c1-700)"
  echo "# $1 receiver stderr: $(tail -c 600 "$DIR/$1.receiver.err" | tr '\n' ' ')"
}

# a. No server anywhere: the whole transfer on the local network.
start_sender a
code=$(json_field "$DIR/a.sender" code code)
receive a "$code"
status=$?
wait_for "$DIR/a.sender" '"event":"\(done\|error\)"' 30
ok "a: the code's nameplate has 7 digits, out of any server's range" \
  grep -qE '^[1-9][0-9]{6}-' <<< "$code"
ok "a: the receiver exits 0" [ "$status" = 0 ]
ok "a: the sender reports done" grep -q '"event":"done"' "$DIR/a.sender"
ok "a: the bytes arrive identical" cmp -s "$DIR/send/payload.bin" "$DIR/a/out/payload.bin"
ok "a: the receiver's path is direct-lan" [ "$(json_field "$DIR/a.receiver" path kind)" = direct-lan ]
ok "a: the sender's path is direct-lan" [ "$(json_field "$DIR/a.sender" path kind)" = direct-lan ]
stop_sender
[ $TAP_FAILED = 0 ] || show a

# b. A wrong code with the right nameplate burns the sender's own mailbox.
start_sender b
code=$(json_field "$DIR/b.sender" code code)
nameplate=${code%%-*}
if [ "${code#*-}" = "abandon-ability-able" ]; then
  wrong="$nameplate-abide-abolish-abroad"
else
  wrong="$nameplate-abandon-ability-able"
fi
receive b "$wrong"
status=$?
wait_for "$DIR/b.sender" '"event":"\(done\|error\)"' 15
ok "b: the receiver fails" [ "$status" != 0 ]
ok "b: the receiver is told the code is wrong" \
  [ "$(json_field "$DIR/b.receiver" error error)" = wrong-code ]
ok "b: the real sender reports the guess" \
  [ "$(json_field "$DIR/b.sender" error error)" = wrong-code ]
receive b-again "$code"
ok "b: the burned code is gone, even with the right words" \
  [ "$(json_field "$DIR/b-again.receiver" error error)" = not-on-network ]
stop_sender
[ $TAP_FAILED = 0 ] || show b

# c. Multicast dropped on the segment: the clear error within a few seconds.
for ns in "$NS_A" "$NS_B"; do
  ip netns exec "$ns" iptables -A INPUT -p udp -d 224.0.0.251 --dport 5353 -j DROP
  ip netns exec "$ns" iptables -A OUTPUT -p udp -d 224.0.0.251 --dport 5353 -j DROP
done
start_sender c
code=$(json_field "$DIR/c.sender" code code)
# The receiver's own Avahi is up before the clock starts: the bound is the search's.
receive c "$code" sh -c 'start=$(date +%s%N); "$@"; s=$?; echo $(( ($(date +%s%N) - start) / 1000000 )) > '"$DIR"'/c.ms; exit $s' sh
status=$?
ms=$(cat "$DIR/c.ms" 2>/dev/null || echo 999999)
ok "c: the receiver fails" [ "$status" != 0 ]
ok "c: it says no Ferry on this network has the code" \
  [ "$(json_field "$DIR/c.receiver" error error)" = not-on-network ]
ok "c: the error names blocked multicast" \
  grep -q "No Ferry on this network has this code.*multicast" "$DIR/c.receiver"
ok "c: within 6 seconds (took ${ms} ms)" [ "$ms" -lt 6000 ]
stop_sender
[ $TAP_FAILED = 0 ] || show c
for ns in "$NS_A" "$NS_B"; do
  ip netns exec "$ns" iptables -F
done

# d. A rendezvous on the segment as well: either mailbox may win, exactly one is used.
ip netns exec "$NS_A" "$RENDEZVOUS" --listen 10.77.0.1:4477 > "$DIR/rendezvous.log" 2>&1 &
wait_for "$DIR/rendezvous.log" '^listening on ' 10
url=http://10.77.0.1:4477
start_sender d FERRY_RENDEZVOUS="$url"
code=$(json_field "$DIR/d.sender" code code)
receive d "$code" FERRY_RENDEZVOUS="$url"
status=$?
wait_for "$DIR/d.sender" '"event":"\(done\|error\)"' 30
ok "d: the nameplate is the server's" grep -qE '^[1-9][0-9]{0,5}-' <<< "$code"
ok "d: the receiver exits 0" [ "$status" = 0 ]
ok "d: the sender reports done" grep -q '"event":"done"' "$DIR/d.sender"
ok "d: the bytes arrive identical" cmp -s "$DIR/send/payload.bin" "$DIR/d/out/payload.bin"
ok "d: the path is direct-lan" [ "$(json_field "$DIR/d.receiver" path kind)" = direct-lan ]
stop_sender
[ $TAP_FAILED = 0 ] || show d

# d2. The sender waits in both mailboxes, the receiver knows no server: the sender takes
# the peer on the local network and leaves the server's mailbox untouched by anyone else.
served=$(wc -l < "$DIR/rendezvous.log")
start_sender d2 FERRY_RENDEZVOUS="$url"
code=$(json_field "$DIR/d2.sender" code code)
receive d2 "$code"
status=$?
wait_for "$DIR/d2.sender" '"event":"\(done\|error\)"' 30
ok "d2: the receiver exits 0" [ "$status" = 0 ]
ok "d2: the sender reports done" grep -q '"event":"done"' "$DIR/d2.sender"
ok "d2: the bytes arrive identical" cmp -s "$DIR/send/payload.bin" "$DIR/d2/out/payload.bin"
ok "d2: only the sender joined the server's mailbox" \
  [ "$(tail -n +$((served + 1)) "$DIR/rendezvous.log" | grep -c "join nameplate=${code%%-*} ")" = 1 ]
stop_sender
[ $TAP_FAILED = 0 ] || show d2

tap_end
