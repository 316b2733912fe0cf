#!/usr/bin/env bash
# Cross-host TCP stream throughput, request/response rate and connection rate between two
# workloads on two hosts, through tabby and through the same kernel machinery set up by hand with
# no tabby, measured side by side in one run (each round measures a pair back to back, in
# alternating order, and keeps the ratio). Hosts are network namespaces on a bridge in a "tor"
# namespace (192.0.2.0/24): two run tabby, two others (no tabby, no firewall) carry the plain
# configurations, so the baseline pays nothing of tabby's, not even conntrack.
#
#   plain-routed  namespaces joined by static routes via the other host (what BGP would install)
#   tabby-bgp     tabby workloads (tabby-cni, tabbyd's firewall) routed by BIRD over BGP
#   conntrack-routed  as plain-routed, on hosts whose only firewall is one conntrack rule (what
#                 any stateful firewall pays), compared with plain-routed
#   plain-vxlan   namespaces joined by a kernel VXLAN device with static FDB/neighbour entries
#   tabby-vxlan   tabby workloads in a pool with vxlanMode: Always (no BGP routes for it)
#
# Stream: iperf3 for SECONDS per run, receiver Mbit/s. Request/response: `tabby-probe rr`, one
# TCP connection, one byte each way per transaction, back to back for SECONDS. Connection rate:
# `tabby-probe crr`, connect, read a line, close, back to back for SECONDS (every connection is a
# new conntrack entry on both tabby hosts, none on the plain ones, which have no firewall).
#
#   bench/cross_host.sh [SECONDS_PER_RUN] [ROUNDS] [BUILD_DIR]      (as root)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
seconds=${1:-3}
rounds=${2:-5}
build=${3:-build}
TABBYD=$PWD/$build/src/cmd/tabbyd/tabbyd
CNI=$PWD/$build/src/cmd/tabby-cni/tabby-cni
CTL=$PWD/$build/src/cmd/tabbyctl/tabbyctl
PROBE=$PWD/$build/tools/probe/tabby-probe
[ "$(id -u)" -eq 0 ] || { echo "run as root" >&2; exit 1; }
command -v iperf3 >/dev/null || { echo "iperf3 is not installed (scripts/install-deps)" >&2; exit 1; }

work=$(mktemp -d /tmp/tabby-bench-xhost.XXXXXX)
ns=tabbyxh-$$
pids=()
cleanup() {
  set +e
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
  for f in "$work"/iperf3-*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done
  for h in h1 h2; do
    [ -f "$work/state-$h/bird.pid" ] && kill "$(cat "$work/state-$h/bird.pid")" 2>/dev/null
  done
  for n in $(ip netns list | awk '{print $1}' | grep "^$ns"); do ip netns del "$n"; done
  rm -rf "$work"
}
trap cleanup EXIT
export TABBY_DATASTORE="sqlite://$work/tabby.db"
# h1, h2: tabby's hosts. p1, p2: hosts with no tabby at all (no firewall, so no conntrack
# either), for the plain configurations, on the same bridge.
# c1, c2: like p1, p2 but with conntrack on (one nftables rule that needs it), for what any
# stateful firewall pays.
declare -A host_ip=([h1]=192.0.2.1 [h2]=192.0.2.2 [p1]=192.0.2.3 [p2]=192.0.2.4 [c1]=192.0.2.5
  [c2]=192.0.2.6)
declare -A peer=([h1]=h2 [h2]=h1 [p1]=p2 [p2]=p1 [c1]=c2 [c2]=c1)
other() { echo "${peer[$1]}"; }

tabby_fabric "$ns-tor" "$ns-h1" "$ns-h2" "$ns-p1" "$ns-p2" "$ns-c1" "$ns-c2"

# tabby on both hosts, one datastore, BGP between them.
"$CTL" datastore init >/dev/null
for h in h1 h2; do
  ip netns exec "$ns-$h" "$TABBYD" --node "$h" --state-dir "$work/state-$h" --bird run \
    --log-level warn &
  pids+=($!)
done
"$CTL" apply -f - >/dev/null <<'EOF'
apiVersion: projectcalico.org/v3
kind: IPPool
metadata: {name: routed}
spec: {cidr: 10.91.0.0/24}
---
apiVersion: projectcalico.org/v3
kind: IPPool
metadata: {name: overlay}
spec: {cidr: 10.92.0.0/24, vxlanMode: Always}
EOF

declare -A address
# tabby_workload NAME HOST POOL MTU
tabby_workload() {
  local name=$1 h=$2 pool=$3 mtu=$4 result
  ip netns add "$ns-$name"
  ip -n "$ns-$name" link set lo up
  result=$(cat <<EOF | ip netns exec "$ns-$h" env CNI_COMMAND=ADD CNI_CONTAINERID="$name" \
      CNI_NETNS="/var/run/netns/$ns-$name" CNI_IFNAME=eth0 \
      CNI_ARGS="K8S_POD_NAMESPACE=bench;K8S_POD_NAME=$name" "$CNI"
{"cniVersion": "1.0.0", "name": "bench", "type": "tabby", "nodename": "$h", "mtu": $mtu,
 "ipam": {"ipv4_pools": ["$pool"]},
 "wait_for_agent_seconds": 30, "agent_state_dir": "$work/state-$h"}
EOF
  )
  address[$name]=$(echo "$result" | grep -o '"address": *"[0-9.]*' | grep -o '[0-9.]*$')
}
tabby_workload tbgp-c h1 routed 1500
tabby_workload tbgp-s h2 routed 1500
tabby_workload tvx-c h1 overlay 1450
tabby_workload tvx-s h2 overlay 1450

# plain_workload NAME HOST ADDRESS MTU: a namespace wired as tabby-cni wires one (a /32 on eth0,
# default via 169.254.1.1 on-link, proxy ARP on the host end), by hand.
plain_workload() {
  local name=$1 h=$2 addr=$3 mtu=$4 veth=v$1
  ip netns add "$ns-$name"
  ip -n "$ns-$name" link set lo up
  ip -n "$ns-$h" link add "$veth" mtu "$mtu" type veth peer name eth0 mtu "$mtu" netns "$ns-$name"
  ip netns exec "$ns-$h" sysctl -qw "net.ipv4.conf.$veth.proxy_arp=1"
  ip -n "$ns-$h" link set "$veth" up
  ip -n "$ns-$h" route add "$addr/32" dev "$veth" scope link
  ip -n "$ns-$name" addr add "$addr/32" dev eth0
  ip -n "$ns-$name" link set eth0 up
  ip -n "$ns-$name" route add 169.254.1.1 dev eth0 scope link
  ip -n "$ns-$name" route add default via 169.254.1.1 dev eth0
  address[$name]=$addr
}
plain_workload prt-c p1 10.93.1.1 1500
plain_workload prt-s p2 10.93.2.1 1500
ip -n "$ns-p1" route add 10.93.2.0/24 via 192.0.2.4
ip -n "$ns-p2" route add 10.93.1.0/24 via 192.0.2.3
plain_workload pvx-c p1 10.94.1.1 1450
plain_workload pvx-s p2 10.94.2.1 1450
plain_workload crt-c c1 10.95.1.1 1500
plain_workload crt-s c2 10.95.2.1 1500
ip -n "$ns-c1" route add 10.95.2.0/24 via 192.0.2.6
ip -n "$ns-c2" route add 10.95.1.0/24 via 192.0.2.5
for h in c1 c2; do
  ip netns exec "$ns-$h" nft -f - <<'EOF'
table inet conntrack-only {
  chain forward1 {
    type filter hook forward priority filter; policy accept;
    ct state established,related accept
  }
}
EOF
done
for h in p1 p2; do
  ip -n "$ns-$h" link add pvx type vxlan id 100 local "${host_ip[$h]}" dstport 4790 nolearning
  ip -n "$ns-$h" link set pvx mtu 1450 up
done
for h in p1 p2; do
  o=$(other "$h")
  mac=$(ip -n "$ns-$o" -j link show pvx | grep -o '"address":"[^"]*' | head -n 1 | cut -d'"' -f4)
  ip netns exec "$ns-$h" bridge fdb append "$mac" dev pvx dst "${host_ip[$o]}"
  ip -n "$ns-$h" neigh add "${host_ip[$o]}" lladdr "$mac" dev pvx nud permanent
done
ip -n "$ns-p1" route add 10.94.2.0/24 via 192.0.2.4 dev pvx onlink
ip -n "$ns-p2" route add 10.94.1.0/24 via 192.0.2.3 dev pvx onlink

configs=(plain-routed tabby-bgp conntrack-routed plain-vxlan tabby-vxlan)
declare -A client=([plain-routed]=prt-c [tabby-bgp]=tbgp-c [conntrack-routed]=crt-c
  [plain-vxlan]=pvx-c [tabby-vxlan]=tvx-c)
declare -A server=([plain-routed]=prt-s [tabby-bgp]=tbgp-s [conntrack-routed]=crt-s
  [plain-vxlan]=pvx-s [tabby-vxlan]=tvx-s)
for c in "${configs[@]}"; do
  ip netns exec "$ns-${server[$c]}" iperf3 -s -D -I "$work/iperf3-$c.pid" --logfile "$work/iperf3-$c.log"
  ip netns exec "$ns-${server[$c]}" "$PROBE" serve --tcp 9101 --echo 9102 >/dev/null &
  pids+=($!)
done
# Every path works before anything is measured (BGP and the overlay converge in seconds).
for c in "${configs[@]}"; do
  for _ in $(seq 1 300); do
    ip netns exec "$ns-${client[$c]}" ping -c 1 -W 1 "${address[${server[$c]}]}" >/dev/null 2>&1 && break
    sleep 0.2
  done
  ip netns exec "$ns-${client[$c]}" ping -c 1 -W 1 "${address[${server[$c]}]}" >/dev/null ||
    { echo "$c: ${client[$c]} cannot reach ${server[$c]}" >&2; exit 1; }
done
sleep 1  # iperf3 servers up

stream() {
  ip netns exec "$ns-${client[$1]}" iperf3 -c "${address[${server[$1]}]}" -t "$seconds" -f m |
    awk '/receiver/ { for (i = 1; i <= NF; i++) if ($i == "Mbits/sec") print $(i - 1) }'
}
# rate rr|crr CONFIG: transactions or connections per second.
rate() {
  local port=9102
  [ "$1" = crr ] && port=9101
  ip netns exec "$ns-${client[$2]}" "$PROBE" "$1" "${address[${server[$2]}]}" "$port" \
    --seconds "$seconds" | awk '{ print $4 }'
}
# measure KIND CONFIG: one run of stream, rr or crr.
measure() {
  case $1 in
    stream) stream "$2" ;;
    *) rate "$1" "$2" ;;
  esac
}
# Each round measures every pair (plain, tabby) back to back, in the order plain-tabby in odd
# rounds and tabby-plain in even ones, and records the pair's ratio: the machine's drift (CPU
# frequency, conntrack garbage collection after a connection-rate run) hits both sides of a ratio
# alike. The table reports medians over the rounds.
declare -A values ratios
pairs=("plain-routed tabby-bgp" "plain-routed conntrack-routed" "plain-vxlan tabby-vxlan")
for r in $(seq 1 "$rounds"); do
  for kind in stream rr crr; do
    for pair in "${pairs[@]}"; do
      read -r base mine <<<"$pair"
      if [ $((r % 2)) = 1 ]; then
        vb=$(measure "$kind" "$base")
        vm=$(measure "$kind" "$mine")
      else
        vm=$(measure "$kind" "$mine")
        vb=$(measure "$kind" "$base")
      fi
      values[$kind-$base]+="$vb "
      values[$kind-$mine]+="$vm "
      ratios[$kind-$mine]+="$(awk -v m="$vm" -v b="$vb" 'BEGIN { printf "%.3f", m / b }') "
    done
  done
  echo "round $r done" >&2
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
printf '| configuration | stream Mbit/s | ratio | request/response /s | ratio | connections /s | ratio |\n'
printf '|---|---|---|---|---|---|---|\n'
for c in "${configs[@]}"; do
  row="| $c"
  for kind in stream rr crr; do
    ratio=1.00
    [ -n "${ratios[$kind-$c]:-}" ] && ratio=$(echo "${ratios[$kind-$c]}" | median)
    row+=" | $(echo "${values[$kind-$c]}" | median) | $(printf '%.2f' "$ratio")"
  done
  echo "$row |"
done
