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
# shellcheck source=cli-lib.sh
source "$HERE/cli-lib.sh"

lab_begin

lab_init || exit 1
lab_host a hard || exit 1
lab_host b hard || exit 1
lab_start_coturn || exit 1

start_rendezvous || exit 1

start_sender $((24 * 1024 * 1024 + 99)) || exit 1
receive_on b

ok_delivered "$work/receiver.log"
ok "the receiver's path is relayed" [ "$(json_field "$work/receiver.log" path kind)" = relayed ]
ok "the sender's path is relayed" [ "$(json_field "$LAB_DIR/sender.log" path kind)" = relayed ]
ok "the relay is the lab's coturn" \
  grep -q "\"relay\":\"$LAB_COTURN_IP:3478\"" "$work/receiver.log"

echo "# receiver: $(log_summary "$work/receiver.log" 600)"
echo "# sender: $(log_summary "$LAB_DIR/sender.log")"
tap_end
