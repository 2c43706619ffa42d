#!/bin/bash
# tests/netlab/lab.sh — Ferry's NAT lab: network namespaces, NAT routers and real servers.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Needs root and `ip netns`. Every namespace is linked only to other lab namespaces by veth
# pairs (created directly inside them, never in the machine's own namespace), so no packet
# leaves the lab. Namespace names carry a per-run prefix (default "fl<pid>"), so parallel runs
# do not collide. Everything the lab makes (namespaces, processes, files) is removed by
# lab_teardown; callers install it as a trap.
#
# Addressing (all blocks chosen so miniupnpd accepts the WAN side as public):
#   internet namespace "inet":  11.0.0.0/24 on its loopback for servers:
#     11.0.0.2  coturn (STUN/TURN, UDP+TCP 3478)      $LAB_COTURN_IP
#     11.0.0.3  reserved for ferry-rendezvous          $LAB_RENDEZVOUS_IP
#     11.0.0.4 … 11.0.0.9  free server addresses for tests (e.g. UDP echo servers)
#     11.0.0.12 a second coturn, STUN only, so a client can compare the mappings two
#               server addresses see (easy vs hard NAT)      $LAB_COTURN_IP2
#   site k (1…250):  inet "s<k>" 11.0.k.1/24  <->  router or public host "wan" 11.0.k.2/24
#   LAN of site k:   192.168.k.0/24, bridge "lan" in the router at .1, hosts from .10 on
#   CGNAT site k:    carrier "c-SITE" holds 11.0.k.2; 100.64.k.0/24 between carrier and home
#                    router (carrier .1, home router .2)
#
# NAT kinds (third column of LAB.md):
#   none         host sits on the internet with 11.0.k.2 (no router)
#   easy         MASQUERADE (endpoint-independent mapping, port-preserving)
#   bare         easy with no input firewall at all: a bare Linux box (LAB.md) answers an
#                unsolicited packet with ICMP and keeps a conntrack entry for it
#   hard         MASQUERADE fully-random (new random port per destination)
#   cgnat        easy home router behind an easy carrier router, 100.64.k.0/24 between them
#   udp-blocked  easy, and outbound UDP is dropped except to the rendezvous address
#   dark         the router forwards nothing and answers nothing (a gateway that never replies)
#   nogw         a LAN with no default route at all
#   Suffix "+mappable" (easy, hard, udp-blocked, cgnat) runs real miniupnpd (UPnP IGD, NAT-PMP
#   and PCP) on the (home) router.
#   Suffix "+v6" (none, easy, hard; after "+mappable" if both) adds global IPv6 as a home
#   router has it: the site routes 2001:db8:K::/64 (K in hex) with no NAT, the host holds
#   2001:db8:K::N, and the router's stateful firewall lets in only replies (established,
#   related). The link between inet and the site is 2001:db8:ff:K::/64. IPv6 stays off in
#   every other namespace.
# Two hosts given the same SITE share one router and one LAN (the hairpin case).
#
# Shell API (source this file; functions return non-zero on failure):
#   lab_check                   -> 0 if root and `ip netns` work, else prints why, returns 1
#   lab_init [ID]               creates the internet namespace; sets LAB_ID, LAB_DIR
#   lab_host NAME KIND [SITE]   adds host NAME behind a new (or the existing SITE) router
#   lab_ns NAME                 prints the namespace of a host, a router ("r-SITE"),
#                               a carrier ("c-SITE") or "inet"
#   lab_exec NAME CMD…          runs CMD in that namespace (ip netns exec)
#   lab_spawn NAME TAG CMD…     starts CMD in the background in that namespace; output goes to
#                               $LAB_DIR/TAG.log; killed by lab_teardown; prints the pid
#   lab_addr NAME               the host's own address (LAN address, or public for "none")
#   lab_addr6 NAME              the host's global IPv6 address (empty without "+v6")
#   lab_public_addr NAME        the internet-side address of the host's outermost router
#   lab_gateway NAME            the host's default gateway (empty for nogw)
#   lab_router NAME             the namespace of the host's (home) router (empty for none)
#   lab_start_coturn [--one]    real coturn on $LAB_COTURN_IP:3478, use-auth-secret with
#                               $LAB_TURN_SECRET, realm $LAB_TURN_REALM, and a STUN-only one
#                               on $LAB_COTURN_IP2:3478; waits until both listen. With --one
#                               only the first: one coturn on one address, as self-hosters run
#   lab_wait_udp NAME PORT [MS] waits until something listens on UDP PORT in NAME's namespace
#   lab_netem NAME [-d DELAY_MS] [-l LOSS_PERCENT] [-r RATE] [-i]
#                               shapes every packet leaving NAME's namespace (its own and, on
#                               a router, forwarded ones), with -i also those delivered to the
#                               namespace itself (so the servers in "inet" are a whole round
#                               trip away, like the hosts): delay and random loss through the
#                               ferry-netem NFQUEUE helper ($FERRY_NETEM), rate (tc syntax,
#                               e.g. 10mbit) through a TBF qdisc on each of its interfaces
#   lab_portmap_block NAME      makes NAME's (home) router ignore every port-mapping request
#                               from its LAN (SSDP, NAT-PMP/PCP, miniupnpd's HTTP): a slow
#                               router that has not answered yet
#   lab_portmap_unblock NAME    lifts that: the router answers from now on
#   lab_env                     prints the lab as "key name value" lines (see serve below)
#   lab_teardown                stops every process, deletes every namespace and file
#
# Program API (for C tests, see ferry-lab.h):
#   lab.sh serve [--coturn] NAME:KIND[@SITE]…
#     builds the lab, prints lab_env lines and then the line "ready", and keeps the lab until
#     its stdin reaches end of file (the parent closed it or died) or it gets a signal; then it
#     tears everything down and exits. A crashed test therefore never leaves a lab behind.
#     While it holds the lab, each stdin line "netem NAME [-d MS] [-l PCT] [-r RATE]" runs
#     lab_netem and is answered with one line, "ok" or "failed".
#   lab.sh check   exits 0 when a lab can be built here, else prints why and exits 1.

LAB_COTURN_IP=11.0.0.2
LAB_COTURN_IP2=11.0.0.12
LAB_RENDEZVOUS_IP=11.0.0.3
LAB_TURN_REALM=ferry.lab
LAB_ID=
LAB_DIR=
LAB_SITES=0
declare -gA LAB_NS=() LAB_ADDR=() LAB_PUBLIC=() LAB_GW=() LAB_ROUTER=() LAB_SITE_K=()
declare -gA LAB_SITE_HOSTS=() LAB_SITE_KIND=() LAB_SITE_ROUTER=() LAB_SITE_PUBLIC=()
declare -gA LAB_ADDR6=() LAB_SITE_V6=()
LAB_INET_V6=no

_lab_err () { echo "lab: $*" >&2; }

lab_check () {
  if [ "$(id -u)" != 0 ]; then
    echo "the NAT lab needs root (network namespaces)"
    return 1
  fi
  local probe="flcheck$$"
  if ! ip netns add "$probe" 2>/dev/null; then
    echo "'ip netns add' does not work here"
    return 1
  fi
  if ! ip -n "$probe" link add name ck0 type veth peer name ck1 2>/dev/null; then
    ip netns del "$probe"
    echo "veth links cannot be created here"
    return 1
  fi
  if ! ip netns exec "$probe" nft list ruleset >/dev/null 2>&1; then
    ip netns del "$probe"
    echo "nftables does not work inside a namespace here"
    return 1
  fi
  ip netns del "$probe"
  return 0
}

# Adds a namespace named $LAB_ID-$1 with loopback up and forwarding on.
_lab_ns_add () {
  local ns="$LAB_ID-$1"
  ip netns add "$ns" || return 1
  echo "$ns" >> "$LAB_DIR/namespaces"
  ip -n "$ns" link set lo up || return 1
  # IPv6 only adds router solicitations and DAD noise to the lab.
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
                                 net.ipv6.conf.default.disable_ipv6=1 \
                                 net.ipv4.ip_forward=1 || return 1
  LAB_NS[$1]="$ns"
}

# Turns IPv6 on in a namespace made by _lab_ns_add, before its links exist, with no DAD
# (every address is assigned once, by us), so an address is usable the moment it is added.
# Link-local addresses stay: neighbour discovery needs them (without them nothing was
# forwarded here).
_lab_ns_enable_v6 () {
  ip netns exec "$1" sysctl -qw \
                                net.ipv6.conf.default.accept_dad=0 \
                                net.ipv6.conf.all.accept_dad=0 \
                                net.ipv6.conf.default.accept_ra=0 \
                                net.ipv6.conf.all.accept_ra=0 \
                                net.ipv6.conf.all.disable_ipv6=0 \
                                net.ipv6.conf.default.disable_ipv6=0 \
                                net.ipv6.conf.all.forwarding=1 || return 1
}

# The inet namespace routes IPv6 only once a "+v6" site exists; its older links keep IPv6
# off (disable_ipv6 is per interface once they exist).
_lab_inet_v6 () {
  [ "$LAB_INET_V6" = yes ] && return 0
  ip netns exec "${LAB_NS[inet]}" sysctl -qw \
                                             net.ipv6.conf.default.accept_dad=0 \
                                             net.ipv6.conf.default.accept_ra=0 \
                                             net.ipv6.conf.default.disable_ipv6=0 \
                                             net.ipv6.conf.all.forwarding=1 || return 1
  LAB_INET_V6=yes
}

# _lab_site_v6 K INET_IF ROUTER_NS: the site's IPv6 — the link to inet, the route to its /64,
# and the router's stateful firewall (a home router's IPv6: no NAT, replies only).
_lab_site_v6 () {
  local k=$1 inet_if=$2 ns=$3 x
  x=$(printf '%x' "$1")
  ip -n "${LAB_NS[inet]}" addr add "2001:db8:ff:$x::1/64" dev "$inet_if" nodad || return 1
  ip -n "$ns" addr add "2001:db8:ff:$x::2/64" dev wan nodad || return 1
  ip -n "${LAB_NS[inet]}" -6 route add "2001:db8:$x::/64" via "2001:db8:ff:$x::2" || return 1
  ip -n "$ns" -6 route add default via "2001:db8:ff:$x::1" || return 1
  ip netns exec "$ns" nft -f - <<EOF || return 1
table ip6 ferrylab6 {
  chain forward {
    type filter hook forward priority filter + 10; policy accept;
    iifname "wan" ct state established,related accept
    iifname "wan" drop
  }
}
EOF
}

# _lab_link NS1 IF1 ADDR1 NS2 IF2 [ADDR2]: one veth pair made inside NS1 with its peer moved
# straight into NS2, so no interface ever appears in the machine's own namespace.
_lab_link () {
  local ns1=$1 if1=$2 a1=$3 ns2=$4 if2=$5 a2=${6:-}
  ip -n "$ns1" link add name "$if1" type veth peer name "$if2" netns "$ns2" || return 1
  [ -z "$a1" ] || ip -n "$ns1" addr add "$a1" dev "$if1" || return 1
  [ -z "$a2" ] || ip -n "$ns2" addr add "$a2" dev "$if2" || return 1
  ip -n "$ns1" link set "$if1" up && ip -n "$ns2" link set "$if2" up || return 1
  _lab_wait_carrier "$ns1" "$if1" && _lab_wait_carrier "$ns2" "$if2"
}

# What Ferry needs of a link is what libnice lists: an address on an interface that is
# IFF_UP and IFF_RUNNING. The kernel sets IFF_RUNNING from the operational state, which its
# link-watch work derives from carrier a moment later (seen here: half a second after a
# peer went down, while `ip` already said NO-CARRIER), so a link counts as made only once
# it has carrier (LOWER_UP) and its operational state is up, within a deadline. (The
# product itself waits for a usable address too: FerryIceSession's network-wait.)
_lab_wait_carrier () {
  local ns=$1 dev=$2 waited=0 line
  while :; do
    line=$(ip -n "$ns" -o link show dev "$dev" 2>/dev/null)
    case $line in *LOWER_UP*"state UP"*) return 0 ;; esac
    if [ "$waited" -ge 5000 ]; then
      _lab_err "$dev in $ns is not running after 5 s: $line"
      return 1
    fi
    sleep 0.01
    waited=$((waited + 10))
  done
}

# A lab whose owner was killed with SIGKILL (no trap runs then) leaves its namespaces behind.
# Their names carry the owner's pid: remove those whose owner is gone, and whatever our lab
# servers still run inside them.
_lab_reap_stale () {
  local ns pid owner
  for ns in $(ip netns list | awk '{ print $1 }' | grep -E '^fl[0-9]+-' ); do
    owner=${ns%%-*}
    owner=${owner#fl}
    kill -0 "$owner" 2>/dev/null && continue
    for pid in $(ip netns pids "$ns" 2>/dev/null); do
      kill -KILL "$pid" 2>/dev/null
    done
    ip netns del "$ns" 2>/dev/null && _lab_err "removed the stale namespace $ns"
  done
}

lab_init () {
  _lab_reap_stale
  LAB_ID=${1:-fl$$}
  LAB_DIR=$(mktemp -d "${TMPDIR:-/tmp}/ferry-lab-$LAB_ID.XXXXXX") || return 1
  LAB_TURN_SECRET=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
  _lab_ns_add inet || return 1
  local a
  for a in 2 3 4 5 6 7 8 9 12; do
    ip -n "${LAB_NS[inet]}" addr add "11.0.0.$a/32" dev lo || return 1
  done
}

lab_ns () {
  local ns=${LAB_NS[$1]:-}
  [ -n "$ns" ] || { _lab_err "no namespace named '$1'"; return 1; }
  echo "$ns"
}

lab_exec () {
  local ns
  ns=$(lab_ns "$1") || return 1
  shift
  ip netns exec "$ns" "$@"
}

lab_spawn () {
  local ns tag=$2
  ns=$(lab_ns "$1") || return 1
  shift 2
  ip netns exec "$ns" "$@" >"$LAB_DIR/$tag.log" 2>&1 </dev/null &
  # The pid goes to a file too: lab_spawn may run in a command substitution's subshell.
  echo $! >> "$LAB_DIR/pids"
  echo $!
}

lab_addr () { echo "${LAB_ADDR[$1]:?no host $1}"; }
lab_addr6 () { echo "${LAB_ADDR6[$1]-}"; }
lab_public_addr () { echo "${LAB_PUBLIC[$1]:?no host $1}"; }
lab_gateway () { echo "${LAB_GW[$1]-}"; }
lab_router () { echo "${LAB_ROUTER[$1]-}"; }

# Polls with a deadline: nothing tells a shell when another process binds a port.
lab_wait_udp () {
  local ns port=$2 ms=${3:-5000} waited=0
  ns=$(lab_ns "$1") || return 1
  until ip netns exec "$ns" ss -Hlun "sport = :$port" | grep -q .; do
    if [ "$waited" -ge "$ms" ]; then
      _lab_err "nothing listens on UDP $port in $ns after ${ms} ms"
      return 1
    fi
    sleep 0.02
    waited=$((waited + 20))
  done
}

# The router's nft ruleset: NAT for the kind and, for udp-blocked, the UDP filter. The
# masquerade chain runs after miniupnpd's own nat chains (priority srcnat + 10) so that
# miniupnpd's port-preserving snat rules win.
_lab_router_rules () {
  local ns=$1 kind=$2 masq="masquerade" filter="" input="" guard
  # Like a home router's firewall, drop unsolicited UDP to the router itself. Accepted,
  # such a packet would leave a conntrack entry that makes the router's next mapping for
  # that peer clash and take another port, so two easy NATs could never punch through.
  guard='iifname "wan" meta l4proto udp ct state new drop'
  case $kind in
    bare) guard="" ;;
    hard) masq="masquerade fully-random" ;;
    udp-blocked)
      filter="iifname \"lan\" oifname \"wan\" meta l4proto udp"
      filter="$filter ip daddr != $LAB_RENDEZVOUS_IP drop" ;;
    dark)
      filter="drop"
      input="iifname \"lan\" drop"
      masq="" ;;
  esac
  ip netns exec "$ns" nft -f - <<EOF || return 1
table ip ferrylab {
  chain postrouting {
    type nat hook postrouting priority srcnat + 10; policy accept;
    oifname "wan" $masq
  }
  chain forward {
    type filter hook forward priority filter + 10; policy accept;
    $filter
  }
  chain input {
    type filter hook input priority filter + 10; policy accept;
    $input
    $guard
  }
}
EOF
}

# miniupnpd's nftables structure, made by hand because Debian's nft_init.sh is broken
# (it sources a file the package does not ship).
_lab_start_miniupnpd () {
  local site=$1 k=$2 ns=$3 conf="$LAB_DIR/miniupnpd-$1.conf"
  ip netns exec "$ns" nft -f - <<'EOF' || return 1
table inet filter {
  chain forward {
    type filter hook forward priority filter; policy accept;
    jump miniupnpd
  }
  chain miniupnpd {
  }
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    jump prerouting_miniupnpd
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    jump postrouting_miniupnpd
  }
  chain prerouting_miniupnpd {
  }
  chain postrouting_miniupnpd {
  }
}
EOF
  cat > "$conf" <<EOF
ext_ifname=wan
listening_ip=lan
port=5000
enable_natpmp=yes
enable_upnp=yes
secure_mode=no
system_uptime=yes
uuid=$(cat /proc/sys/kernel/random/uuid)
allow 1024-65535 192.168.$k.0/24 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
EOF
  lab_spawn "r-$site" "miniupnpd-$site" \
    miniupnpd -f "$conf" -d -P "$LAB_DIR/miniupnpd-$site.pid" >/dev/null || return 1
  lab_wait_udp "r-$site" 5351
}

_lab_site_add () {
  local site=$1 kind=$2 mappable=$3 v6=${4:-no} k ns wan_ns
  LAB_SITES=$((LAB_SITES + 1))
  k=$LAB_SITES
  [ "$k" -le 250 ] || { _lab_err "too many sites"; return 1; }
  LAB_SITE_K[$site]=$k
  LAB_SITE_KIND[$site]=$kind
  LAB_SITE_HOSTS[$site]=0
  LAB_SITE_V6[$site]=$v6
  _lab_ns_add "r-$site" || return 1
  ns=${LAB_NS[r-$site]}
  if [ "$v6" = yes ]; then
    _lab_inet_v6 && _lab_ns_enable_v6 "$ns" || return 1
  fi
  LAB_SITE_ROUTER[$site]=$ns
  LAB_SITE_PUBLIC[$site]="11.0.$k.2"
  if [ "$kind" = cgnat ]; then
    _lab_ns_add "c-$site" || return 1
    wan_ns=${LAB_NS[c-$site]}
    _lab_link "${LAB_NS[inet]}" "s$k" "11.0.$k.1/24" "$wan_ns" wan "11.0.$k.2/24" || return 1
    ip -n "$wan_ns" route add default via "11.0.$k.1" || return 1
    _lab_link "$wan_ns" lan "100.64.$k.1/24" "$ns" wan "100.64.$k.2/24" || return 1
    ip -n "$ns" route add default via "100.64.$k.1" || return 1
    _lab_router_rules "$wan_ns" easy || return 1
    _lab_router_rules "$ns" easy || return 1
  else
    _lab_link "${LAB_NS[inet]}" "s$k" "11.0.$k.1/24" "$ns" wan "11.0.$k.2/24" || return 1
    ip -n "$ns" route add default via "11.0.$k.1" || return 1
    _lab_router_rules "$ns" "$kind" || return 1
  fi
  ip -n "$ns" link add name lan type bridge || return 1
  ip -n "$ns" addr add "192.168.$k.1/24" dev lan || return 1
  ip -n "$ns" link set lan up || return 1
  if [ "$v6" = yes ]; then
    _lab_site_v6 "$k" "s$k" "$ns" || return 1
    ip -n "$ns" addr add "2001:db8:$(printf '%x' "$k")::1/64" dev lan nodad || return 1
  fi
  if [ "$mappable" = yes ]; then
    _lab_start_miniupnpd "$site" "$k" "$ns" || return 1
  fi
}

lab_host () {
  local name=$1 spec=$2 site=${3:-$1} kind mappable=no v6=no k n ns x
  [ -z "${LAB_NS[$name]:-}" ] || { _lab_err "host '$name' exists"; return 1; }
  kind=${spec%+v6}
  [ "$kind" = "$spec" ] || v6=yes
  spec=$kind
  kind=${spec%+mappable}
  [ "$kind" = "$spec" ] || mappable=yes
  case $v6-$kind in
    yes-none|yes-easy|yes-hard|no-*) ;;
    *) _lab_err "'$kind' cannot have IPv6 here"; return 1 ;;
  esac
  case $kind in
    none|easy|bare|hard|cgnat|udp-blocked|dark|nogw) ;;
    *) _lab_err "unknown NAT kind '$spec'"; return 1 ;;
  esac
  case $mappable-$kind in
    yes-none|yes-dark|yes-nogw) _lab_err "'$kind' cannot be mappable"; return 1 ;;
  esac

  _lab_ns_add "$name" || return 1
  ns=${LAB_NS[$name]}
  LAB_ADDR6[$name]=
  if [ "$v6" = yes ]; then
    _lab_inet_v6 && _lab_ns_enable_v6 "$ns" || return 1
  fi

  if [ "$kind" = none ]; then
    LAB_SITES=$((LAB_SITES + 1))
    k=$LAB_SITES
    _lab_link "${LAB_NS[inet]}" "s$k" "11.0.$k.1/24" "$ns" eth0 "11.0.$k.2/24" || return 1
    ip -n "$ns" route add default via "11.0.$k.1" || return 1
    if [ "$v6" = yes ]; then
      x=$(printf '%x' "$k")
      ip -n "${LAB_NS[inet]}" addr add "2001:db8:ff:$x::1/64" dev "s$k" nodad || return 1
      ip -n "$ns" addr add "2001:db8:ff:$x::2/64" dev eth0 nodad || return 1
      ip -n "$ns" -6 route add default via "2001:db8:ff:$x::1" || return 1
      LAB_ADDR6[$name]="2001:db8:ff:$x::2"
    fi
    LAB_ADDR[$name]="11.0.$k.2"
    LAB_PUBLIC[$name]="11.0.$k.2"
    LAB_GW[$name]="11.0.$k.1"
    LAB_ROUTER[$name]=
    return 0
  fi

  if [ -z "${LAB_SITE_K[$site]:-}" ]; then
    _lab_site_add "$site" "$kind" "$mappable" "$v6" || return 1
  elif [ "${LAB_SITE_KIND[$site]}" != "$kind" ] || [ "${LAB_SITE_V6[$site]}" != "$v6" ]; then
    _lab_err "site '$site' is '${LAB_SITE_KIND[$site]}' (IPv6: ${LAB_SITE_V6[$site]}), not '$2'"
    return 1
  fi
  k=${LAB_SITE_K[$site]}
  n=$((LAB_SITE_HOSTS[$site] + 1))
  LAB_SITE_HOSTS[$site]=$n
  _lab_link "${LAB_SITE_ROUTER[$site]}" "h$n" "" "$ns" eth0 "192.168.$k.$((9 + n))/24" || return 1
  ip -n "${LAB_SITE_ROUTER[$site]}" link set "h$n" master lan || return 1
  if [ "$kind" != nogw ]; then
    ip -n "$ns" route add default via "192.168.$k.1" || return 1
    LAB_GW[$name]="192.168.$k.1"
  else
    LAB_GW[$name]=
  fi
  LAB_ADDR[$name]="192.168.$k.$((9 + n))"
  if [ "$v6" = yes ]; then
    x=$(printf '%x' "$k")
    LAB_ADDR6[$name]="2001:db8:$x::$(printf '%x' $((9 + n)))"
    ip -n "$ns" addr add "${LAB_ADDR6[$name]}/64" dev eth0 nodad || return 1
    ip -n "$ns" -6 route add default via "2001:db8:$x::1" || return 1
  fi
  LAB_PUBLIC[$name]=${LAB_SITE_PUBLIC[$site]}
  LAB_ROUTER[$name]=${LAB_SITE_ROUTER[$site]}
}

lab_portmap_block () {
  local ns
  ns=$(lab_router "$1") && [ -n "$ns" ] || { _lab_err "'$1' has no router"; return 1; }
  ip netns exec "$ns" nft -f - <<'EOF'
table inet labblock {
  chain input {
    type filter hook input priority filter - 10; policy accept;
    iifname "lan" udp dport { 1900, 5351 } drop
    iifname "lan" tcp dport 5000 drop
  }
}
EOF
}

lab_portmap_unblock () {
  local ns
  ns=$(lab_router "$1") && [ -n "$ns" ] || { _lab_err "'$1' has no router"; return 1; }
  ip netns exec "$ns" nft delete table inet labblock
}

lab_netem () {
  local name=$1 ns delay=0 loss=0 rate="" inbound=no opt iface waited=0 OPTIND=1
  ns=$(lab_ns "$name") || return 1
  shift
  while getopts "d:l:r:i" opt; do
    case $opt in
      d) delay=$OPTARG ;;
      l) loss=$OPTARG ;;
      r) rate=$OPTARG ;;
      i) inbound=yes ;;
      *) _lab_err "lab_netem: bad option"; return 1 ;;
    esac
  done
  if [ "$delay" != 0 ] || [ "$loss" != 0 ]; then
    [ -x "${FERRY_NETEM:-}" ] || { _lab_err "FERRY_NETEM does not name the helper"; return 1; }
    lab_spawn "$name" "netem-$name" "$FERRY_NETEM" -q 0 -d "$delay" -l "$loss" >/dev/null
    # Packets queued to a queue nobody listens on are dropped: wait for the helper first.
    until grep -q '^ready$' "$LAB_DIR/netem-$name.log" 2>/dev/null; do
      if [ "$waited" -ge 5000 ]; then
        _lab_err "ferry-netem did not start in $ns"
        return 1
      fi
      sleep 0.02
      waited=$((waited + 20))
    done
    # The kernel has xt_NFQUEUE but no nft_queue: the rules go through iptables, and
    # ip6tables for the sites with IPv6 (the queue takes both families).
    for tables in iptables ip6tables; do
      ip netns exec "$ns" "$tables" -t mangle -A POSTROUTING ! -o lo -j NFQUEUE \
        --queue-num 0 || return 1
      if [ "$inbound" = yes ]; then
        ip netns exec "$ns" "$tables" -t mangle -A INPUT ! -i lo -j NFQUEUE --queue-num 0 \
          || return 1
      fi
    done
  fi
  if [ -n "$rate" ]; then
    for iface in $(ip -n "$ns" -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }'); do
      case $iface in lo|lan) continue ;; esac
      ip netns exec "$ns" tc qdisc replace dev "$iface" root tbf rate "$rate" \
        burst 16kb latency 200ms || return 1
    done
  fi
}

lab_start_coturn () {
  local conf="$LAB_DIR/turnserver.conf"
  cat > "$conf" <<EOF
listening-ip=$LAB_COTURN_IP
relay-ip=$LAB_COTURN_IP
listening-port=3478
min-port=49152
max-port=65535
use-auth-secret
static-auth-secret=$LAB_TURN_SECRET
realm=$LAB_TURN_REALM
fingerprint
no-tls
no-dtls
no-cli
no-tcp-relay
# As a public TURN server should: no relaying into private networks. Here it also matters
# because coturn drops a whole allocation when a send to a peer fails (the lab's internet
# has no route to the 192.168/16 host candidates peers offer).
denied-peer-ip=10.0.0.0-10.255.255.255
denied-peer-ip=100.64.0.0-100.127.255.255
denied-peer-ip=172.16.0.0-172.31.255.255
denied-peer-ip=192.168.0.0-192.168.255.255
userdb=$LAB_DIR/turndb
pidfile=$LAB_DIR/turnserver.pid
log-file=stdout
simple-log
EOF
  lab_spawn inet coturn turnserver -c "$conf" >/dev/null || return 1
  lab_wait_udp inet 3478 || return 1
  [ "${1:-}" != --one ] || return 0
  # A second, STUN-only coturn on its own address: a client compares what two server
  # addresses see to tell easy from hard NAT. (One coturn on two addresses would turn on
  # RFC 5780 tests, whose answers from the other address NATs drop while clients wait.)
  cat > "$LAB_DIR/turnserver2.conf" <<EOF2
listening-ip=$LAB_COTURN_IP2
listening-port=3478
stun-only
no-tls
no-dtls
no-cli
userdb=$LAB_DIR/turndb2
pidfile=$LAB_DIR/turnserver2.pid
log-file=stdout
simple-log
EOF2
  lab_spawn inet coturn2 turnserver -c "$LAB_DIR/turnserver2.conf" >/dev/null || return 1
  local waited=0
  until ip netns exec "${LAB_NS[inet]}" ss -Hlun "src $LAB_COTURN_IP2:3478" | grep -q .; do
    if [ "$waited" -ge 5000 ]; then
      _lab_err "the second coturn does not listen on $LAB_COTURN_IP2:3478"
      return 1
    fi
    sleep 0.02
    waited=$((waited + 20))
  done
}

lab_env () {
  local n
  echo "id - $LAB_ID"
  echo "dir - $LAB_DIR"
  echo "ns inet ${LAB_NS[inet]}"
  echo "coturn - $LAB_COTURN_IP:3478"
  echo "coturn2 - $LAB_COTURN_IP2:3478"
  echo "turn-secret - $LAB_TURN_SECRET"
  echo "turn-realm - $LAB_TURN_REALM"
  echo "rendezvous - $LAB_RENDEZVOUS_IP"
  for n in "${!LAB_ADDR[@]}"; do
    echo "ns $n ${LAB_NS[$n]}"
    echo "addr $n ${LAB_ADDR[$n]}"
    echo "public $n ${LAB_PUBLIC[$n]}"
    echo "gateway $n ${LAB_GW[$n]:--}"
    echo "router $n ${LAB_ROUTER[$n]:--}"
    [ -z "${LAB_ADDR6[$n]:-}" ] || echo "addr6 $n ${LAB_ADDR6[$n]}"
  done
}

lab_teardown () {
  local pid ns i pids=() namespaces=()
  [ -n "$LAB_DIR" ] || return 0
  [ ! -f "$LAB_DIR/pids" ] || mapfile -t pids < "$LAB_DIR/pids"
  [ ! -f "$LAB_DIR/namespaces" ] || mapfile -t namespaces < "$LAB_DIR/namespaces"
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null
  done
  # Give the servers a moment to exit cleanly (miniupnpd removes its rules), then force.
  for i in $(seq 50); do
    local alive=0
    for pid in "${pids[@]}"; do
      kill -0 "$pid" 2>/dev/null && alive=1
    done
    [ "$alive" = 0 ] && break
    sleep 0.02
  done
  for pid in "${pids[@]}"; do
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  # Anything still running inside a lab namespace was started in the lab (by a test through
  # lab_exec): stop those by pid so the namespace can go.
  for ns in "${namespaces[@]}"; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do
      kill -KILL "$pid" 2>/dev/null
    done
    ip netns del "$ns" 2>/dev/null
  done
  if [ -n "${FERRY_LAB_KEEP_LOGS:-}" ]; then
    _lab_err "logs kept in $LAB_DIR"
  else
    rm -rf "$LAB_DIR"
  fi
  LAB_DIR=
}

_lab_serve () {
  local coturn=no spec name kind site
  trap 'lab_teardown; exit 0' EXIT
  trap 'exit 1' INT TERM HUP PIPE
  lab_init || exit 1
  for spec in "$@"; do
    case $spec in
      --coturn) coturn=yes; continue ;;
    esac
    name=${spec%%:*}
    kind=${spec#*:}
    site=$name
    if [ "$kind" != "${kind%@*}" ]; then
      site=${kind#*@}
      kind=${kind%@*}
    fi
    [ -n "$name" ] && [ "$name" != "$spec" ] || { _lab_err "bad host spec '$spec'"; exit 1; }
    lab_host "$name" "$kind" "$site" || exit 1
  done
  if [ "$coturn" = yes ]; then
    lab_start_coturn || exit 1
  fi
  lab_env
  echo ready
  # Hold the lab until the parent closes our stdin or goes away. Meanwhile a line
  # "netem NAME OPTIONS…" shapes a host's link (lab_netem) and is answered "ok" or "failed".
  local cmd args
  while read -r cmd args; do
    case $cmd in
      netem)
        # shellcheck disable=SC2086 # the options are words on purpose
        if lab_netem $args >&2; then echo ok; else echo failed; fi ;;
      *) echo failed ;;
    esac
  done
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  case ${1:-} in
    serve) shift; _lab_serve "$@" ;;
    check) lab_check ;;
    *) echo "usage: $0 serve [--coturn] NAME:KIND[@SITE]… | check" >&2; exit 2 ;;
  esac
fi
