#!/usr/bin/env bash
# The per-packet cost of policy between two workloads on one host, measured side by side in one
# run: bulk TCP (iperf3), request/response and connection rate (tabby-probe rr / crr), for each
# configuration against no policy. Rounds alternate the order of the configurations so machine
# noise hits all of them alike, and each ratio is taken within a round. Everything is real:
# tabbyd programs nftables from the datastore, the workloads are wired by tabby-cni.
#
#   none      no policy selects either workload
#   tabby     the server's ingress allows TCP to its named port "iperf" and to the probe's
#             ports from `peer == 'yes'` (10,000 remote endpoints plus the client); the client's
#             egress allows the same to those 10,001 endpoints: sets of 10,001 addresses and
#             (address . proto . port), one lookup each
#   p500      500 policies apply to the server's ingress, each allowing TCP to those ports from
#             a group of 20 remote endpoints (`group == 'gK'`); only the last allows the client,
#             so every new connection meets all 500 before it is allowed. The client's egress as
#             in tabby
#   linear    for comparison, the naive layout tabby avoids: no tabby policy, but 10,000
#             linear `ip saddr X tcp dport 5201 accept` rules ahead of the client's, evaluated for
#             every packet (no conntrack shortcut), in a separate table
#
# Stream: receiver Mbit/s. Request/response: one TCP connection, one byte each way per
# transaction, back to back. Connection rate: connect, read a line, close, back to back (every
# connection meets the policy).
#
#   bench/throughput.sh [SECONDS_PER_RUN] [ROUNDS] [BUILD_DIR]      (as root)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
seconds=${1:-5}
rounds=${2:-3}
build=${3:-build}
peers=10000
TABBYD=$PWD/$build/src/cmd/tabbyd/tabbyd
CNI=$PWD/$build/src/cmd/tabby-cni/tabby-cni
CTL=$PWD/$build/src/cmd/tabbyctl/tabbyctl
PROBE=$PWD/$build/tools/probe/tabby-probe
policies=500
[ "$(id -u)" -eq 0 ] || { echo "run as root" >&2; exit 1; }
command -v iperf3 >/dev/null || { echo "iperf3 is not installed (scripts/install-deps)" >&2; exit 1; }

work=$(mktemp -d /tmp/tabby-bench-tput.XXXXXX)
host=tabbytput-$$
pids=()
cleanup() {
  set +e
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
  [ -f "$work/iperf3.pid" ] && kill "$(cat "$work/iperf3.pid")" 2>/dev/null
  for ns in $(ip netns list | awk '{print $1}' | grep "^$host"); do ip netns del "$ns"; done
  rm -rf "$work"
}
trap cleanup EXIT
export TABBY_DATASTORE="sqlite://$work/tabby.db"
"$CTL" datastore init >/dev/null
state=$work/state

ip netns add "$host"
ip -n "$host" link set lo up
ip netns exec "$host" "$TABBYD" --node bench --state-dir "$state" --log-level warn &
pids+=($!)
"$CTL" apply -f - >/dev/null <<'EOF'
apiVersion: projectcalico.org/v3
kind: IPPool
metadata: {name: bench}
spec: {cidr: 10.90.0.0/24}
EOF

wait_programmed() { tabby_wait_programmed "$CTL" "$state" "$@"; }

declare -A address
add_workload() {
  local name=$1 labels=$2
  ip netns add "$host-$name"
  ip -n "$host-$name" link set lo up
  local result
  result=$(cat <<EOF | ip netns exec "$host" env CNI_COMMAND=ADD CNI_CONTAINERID="$name" \
      CNI_NETNS="/var/run/netns/$host-$name" CNI_IFNAME=eth0 \
      CNI_ARGS="K8S_POD_NAMESPACE=bench;K8S_POD_NAME=$name;TABBY_LABELS=$labels;TABBY_PORTS=iperf:TCP:5201" \
      "$CNI"
{"cniVersion": "1.0.0", "name": "bench", "type": "tabby", "nodename": "bench",
 "wait_for_agent_seconds": 30, "agent_state_dir": "$state"}
EOF
  )
  address[$name]=$(echo "$result" | grep -o '"address": *"[0-9.]*' | grep -o '[0-9.]*$')
}
add_workload server role=server,peer=yes
add_workload client role=client,peer=yes
ip netns exec "$host-server" iperf3 -s -D -I "$work/iperf3.pid" --logfile "$work/iperf3.log"
ip netns exec "$host-server" "$PROBE" serve --tcp 9101 --echo 9102 >/dev/null &
pids+=($!)

echo "generating $peers remote endpoints..." >&2
{
  for i in $(seq 0 $((peers - 1))); do
    printf 'apiVersion: projectcalico.org/v3\nkind: WorkloadEndpoint\nmetadata:\n  name: remote-%d\n  namespace: bench\n  labels: {peer: "yes", group: g%d}\nspec:\n  node: elsewhere\n  orchestrator: bench\n  workload: remote-%d\n  endpoint: eth0\n  interfaceName: tabbyr%d\n  ipNetworks: ["10.91.%d.%d/32"]\n  ports: [{name: iperf, protocol: TCP, port: 5201}]\n---\n' \
      "$i" $((i % policies)) "$i" "$i" $((i / 250)) $((i % 250 + 1))
  done
} >"$work/peers.yaml"
"$CTL" apply -f "$work/peers.yaml" >/dev/null
cat >"$work/policy.yaml" <<'EOF'
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: server-ingress}
spec:
  selector: role == 'server'
  ingress:
  - action: Allow
    protocol: TCP
    source: {selector: peer == 'yes'}
    destination: {ports: [iperf, 9101, 9102]}
EOF
cat >"$work/client.yaml" <<'EOF'
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: client-egress}
spec:
  selector: role == 'client'
  types: [Egress]
  egress:
  - action: Allow
    protocol: TCP
    destination: {selector: peer == 'yes', ports: [iperf, 9101, 9102]}
EOF
{
  for k in $(seq 0 $((policies - 1))); do
    from="group == 'g$k'"
    [ "$k" -eq $((policies - 1)) ] && from="role == 'client'"
    printf 'apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: p500-%03d}\nspec:\n  order: %d\n  selector: role == %s\n  ingress:\n  - action: Allow\n    protocol: TCP\n    source: {selector: "%s"}\n    destination: {ports: [5201, 9101, 9102]}\n---\n' \
      "$k" "$k" "'server'" "$from"
  done
} >"$work/p500.yaml"
{
  echo "table inet linear {"
  echo "  chain forward { type filter hook forward priority filter - 5; policy drop;"
  for i in $(seq 0 $((peers - 1))); do
    echo "    ip saddr 10.91.$((i / 250)).$((i % 250 + 1)) tcp dport 5201 accept"
  done
  echo "    ip saddr ${address[client]} tcp dport { 5201, 9101, 9102 } accept"
  echo "    ip daddr ${address[client]} tcp sport { 5201, 9101, 9102 } accept"
  echo "  }"
  echo "}"
} >"$work/linear.nft"

# Removes every policy the configurations use, and the linear table.
unconfigure() {
  "$CTL" delete -s -f "$work/policy.yaml" >/dev/null
  "$CTL" delete -s -f "$work/client.yaml" >/dev/null
  "$CTL" delete -s -f "$work/p500.yaml" >/dev/null
  ip netns exec "$host" nft delete table inet linear 2>/dev/null || true
}
configure() {
  unconfigure
  case $1 in
    tabby)
      "$CTL" apply -f "$work/policy.yaml" >/dev/null
      "$CTL" apply -f "$work/client.yaml" >/dev/null
      wait_programmed globalnetworkpolicy client-egress
      ;;
    p500)
      "$CTL" apply -f "$work/p500.yaml" >/dev/null
      "$CTL" apply -f "$work/client.yaml" >/dev/null
      wait_programmed globalnetworkpolicy client-egress
      ;;
    linear)
      ip netns exec "$host" nft -f "$work/linear.nft"
      ;;
  esac
  # Let the agent catch up with deletions too (they have no version to wait for).
  sleep 0.5
}

stream() {
  ip netns exec "$host-client" iperf3 -c "${address[server]}" -t "$seconds" -f m |
    awk '/receiver/ { for (i = 1; i <= NF; i++) if ($i == "Mbits/sec") print $(i - 1) }'
}
# rate rr|crr: transactions or connections per second.
rate() {
  local port=9102
  [ "$1" = crr ] && port=9101
  ip netns exec "$host-client" "$PROBE" "$1" "${address[server]}" "$port" --seconds "$seconds" |
    awk '{ print $4 }'
}
measure() {
  case $1 in
    stream) stream ;;
    *) rate "$1" ;;
  esac
}

# Each round measures every kind for every configuration, in an order that reverses from one
# round to the next, and records each configuration's ratio to `none` of the same round and kind.
configs=(none tabby p500 linear)
declare -A values ratios this
for r in $(seq 1 "$rounds"); do
  order=("${configs[@]}")
  [ $((r % 2)) = 0 ] && order=(linear p500 tabby none)
  for config in "${order[@]}"; do
    configure "$config"
    for kind in stream rr crr; do
      v=$(measure "$kind")
      this[$kind-$config]=$v
      values[$kind-$config]+="$v "
    done
    echo "round $r $config: stream ${this[stream-$config]} Mbit/s, rr ${this[rr-$config]}/s, crr ${this[crr-$config]}/s" >&2
  done
  for config in "${configs[@]}"; do
    for kind in stream rr crr; do
      ratios[$kind-$config]+="$(awk -v m="${this[$kind-$config]}" -v b="${this[$kind-none]}" 'BEGIN { printf "%.3f", m / b }') "
    done
  done
done
unconfigure

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
echo "$rounds rounds of ${seconds}s per configuration and kind; medians, ratios to none within a round"
printf '| configuration | stream Mbit/s | ratio | request/response /s | ratio | connections /s | ratio |\n'
printf '|---|---|---|---|---|---|---|\n'
for config in "${configs[@]}"; do
  row="| $config"
  for kind in stream rr crr; do
    row+=" | $(echo "${values[$kind-$config]}" | median) | $(printf '%.2f' "$(echo "${ratios[$kind-$config]}" | median)")"
  done
  echo "$row |"
done
