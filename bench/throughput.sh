#!/usr/bin/env bash
# Bulk TCP throughput between two workloads on one host, with 10,000 peers' worth of policy
# versus no policy, measured side by side in one run (rounds alternate the configurations so
# machine noise hits all of them alike). Everything is real: tabbyd programs nftables from the
# datastore, the workloads are wired by tabby-cni, iperf3 sends the traffic.
#
#   none    no policy selects either workload
#   tabby   the server's ingress allows TCP to its named port "iperf" from `peer == 'yes'`
#           (10,000 remote endpoints plus the client); the client's egress allows the named port
#           of those 10,001 endpoints: sets of 10,001 addresses and (address . proto . port)
#   linear  for comparison, the naive layout tabby avoids: no tabby policy, but 10,000
#           linear `ip saddr X tcp dport 5201 accept` rules ahead of the client's, evaluated for
#           every packet (no conntrack shortcut), in a separate table
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

echo "generating $peers remote endpoints..." >&2
{
  for i in $(seq 0 $((peers - 1))); do
    printf 'apiVersion: projectcalico.org/v3\nkind: WorkloadEndpoint\nmetadata:\n  name: remote-%d\n  namespace: bench\n  labels: {peer: "yes"}\nspec:\n  node: elsewhere\n  orchestrator: bench\n  workload: remote-%d\n  endpoint: eth0\n  interfaceName: tabbyr%d\n  ipNetworks: ["10.91.%d.%d/32"]\n  ports: [{name: iperf, protocol: TCP, port: 5201}]\n---\n' \
      "$i" "$i" "$i" $((i / 250)) $((i % 250 + 1))
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
    destination: {ports: [iperf]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: client-egress}
spec:
  selector: role == 'client'
  types: [Egress]
  egress:
  - action: Allow
    protocol: TCP
    destination: {selector: peer == 'yes', ports: [iperf]}
EOF
{
  echo "table inet linear {"
  echo "  chain forward { type filter hook forward priority filter - 5; policy drop;"
  for i in $(seq 0 $((peers - 1))); do
    echo "    ip saddr 10.91.$((i / 250)).$((i % 250 + 1)) tcp dport 5201 accept"
  done
  echo "    ip saddr ${address[client]} tcp dport 5201 accept"
  echo "    ip daddr ${address[client]} tcp sport 5201 accept"
  echo "  }"
  echo "}"
} >"$work/linear.nft"

configure() {
  case $1 in
    none)
      "$CTL" delete -s -f "$work/policy.yaml" >/dev/null
      ip netns exec "$host" nft delete table inet linear 2>/dev/null || true
      ;;
    tabby)
      "$CTL" apply -f "$work/policy.yaml" >/dev/null
      wait_programmed globalnetworkpolicy client-egress
      ;;
    linear)
      "$CTL" delete -s -f "$work/policy.yaml" >/dev/null
      ip netns exec "$host" nft -f "$work/linear.nft"
      ;;
  esac
  # Let the agent catch up with deletions too: it reports the datastore's revision.
  sleep 0.5
}

measure() {
  ip netns exec "$host-client" iperf3 -c "${address[server]}" -t "$seconds" -f m |
    awk '/receiver/ { for (i = 1; i <= NF; i++) if ($i == "Mbits/sec") print $(i - 1) }'
}

declare -A results
for r in $(seq 1 "$rounds"); do
  for config in none tabby linear; do
    configure "$config"
    value=$(measure)
    results[$config]+="$value "
    echo "round $r $config: $value Mbit/s" >&2
  done
done
configure none

median() { tr ' ' '\n' | grep . | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
none=$(echo "${results[none]}" | median)
echo "Bulk TCP, $rounds rounds of ${seconds}s per configuration, median Mbit/s"
printf '| configuration | median Mbit/s | ratio to no policy |\n|---|---|---|\n'
for config in none tabby linear; do
  m=$(echo "${results[$config]}" | median)
  printf '| %s | %s | %s |\n' "$config" "$m" "$(awk -v a="$m" -v b="$none" 'BEGIN {printf "%.2f", a/b}')"
done
