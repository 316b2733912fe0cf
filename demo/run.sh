#!/usr/bin/env bash
# The seed talk's demo, for real, on one machine: four probe workloads A-D, each with its own IP,
# all listening on port 9000, wired by the tabby CNI plugin and policed by tabbyd, on the embedded
# (SQLite) datastore. The "host" and the workloads are network namespaces this script creates and
# removes, so the machine's own networking is left as it was.
#
#   demo/run.sh [BUILD_DIR]      (as root; scripts/demo builds first and then runs this)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
build=${1:-build}
bin() { echo "$build/$1"; }
TABBYD=$(bin src/cmd/tabbyd/tabbyd)
CNI=$(bin src/cmd/tabby-cni/tabby-cni)
CTL=$(bin src/cmd/tabbyctl/tabbyctl)
PROBE=$(bin tools/probe/tabby-probe)
for b in "$TABBYD" "$CNI" "$CTL" "$PROBE"; do
  [ -x "$b" ] || { echo "demo: $b is missing; build first (scripts/demo does)" >&2; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { echo "demo: run as root (it creates network namespaces)" >&2; exit 1; }

id=$$
host=tabby-demo-$id
work=$(mktemp -d /tmp/tabby-demo.XXXXXX)
state=$work/state
export TABBY_DATASTORE="sqlite://$work/tabby.db"
probes=(a b c d)
declare -A group=([a]=star1 [b]=star1 [c]=star2 [d]=star2)
declare -A address
pids=()

cleanup() {
  set +e
  for p in "${probes[@]}"; do
    [ -n "${address[$p]:-}" ] && cni DEL "$p" >/dev/null 2>&1
  done
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
  for p in "${probes[@]}"; do ip netns del "$host-$p" 2>/dev/null; done
  ip netns del "$host" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

say() { printf '\n\033[1m%s\033[0m\n' "$*"; }

netconf() {
  cat <<JSON
{"cniVersion": "1.0.0", "name": "demo", "type": "tabby", "nodename": "host1",
 "orchestrator": "demo", "profiles": ["probe"],
 "wait_for_agent_seconds": 10, "agent_state_dir": "$state"}
JSON
}

# cni COMMAND PROBE: runs the plugin in the host's namespace, as a container runtime would.
cni() {
  netconf | ip netns exec "$host" env CNI_COMMAND="$1" CNI_CONTAINERID="demo-$2" \
    CNI_NETNS="/var/run/netns/$host-$2" CNI_IFNAME=eth0 CNI_PATH="$(dirname "$CNI")" \
    CNI_ARGS="K8S_POD_NAMESPACE=demo;K8S_POD_NAME=$2;TABBY_LABELS=probe=$2,group=${group[$2]}" \
    "$CNI"
}

# Waits until the agent has programmed the current version of one resource: the agent reports
# the datastore revision it has applied in its status file.
wait_for() { tabby_wait_programmed "$CTL" "$state" "$@"; }

matrix() {
  say "$1"
  printf '        '
  for to in "${probes[@]}"; do printf '%-4s' "${to^^}"; done
  printf '\n'
  local targets=()
  for to in "${probes[@]}"; do targets+=("${to^^}=${address[$to]}"); done
  for from in "${probes[@]}"; do
    printf '  %s ->  ' "${from^^}"
    ip netns exec "$host-$from" "$PROBE" matrix --port 9000 --timeout-ms 300 "${targets[@]}" |
      while read -r _ verdict; do printf '%-4s' "$verdict"; done
    printf '   (group %s)\n' "${group[$from]}"
  done
}

say "A host (network namespace $host) running tabbyd on the embedded datastore"
ip netns add "$host"
ip -n "$host" link set lo up
"$CTL" datastore init >/dev/null  # a datastore is created only on purpose
ip netns exec "$host" "$TABBYD" --node host1 --state-dir "$state" --log-level warn &
pids+=($!)
"$CTL" apply -f demo/00-pool.yaml -f demo/01-probe-profile.yaml
wait_for profile probe

say "Four probes, each its own network namespace, wired by the tabby CNI plugin"
for p in "${probes[@]}"; do
  ip netns add "$host-$p"
  ip -n "$host-$p" link set lo up  # as a container runtime does
  result=$(cni ADD "$p")
  address[$p]=$(echo "$result" | grep -o '"address": *"[0-9.]*' | grep -o '[0-9.]*$')
  echo "  probe ${p^^}: ${address[$p]}  labels probe=$p,group=${group[$p]}"
  TABBY_PROBE_NAME=${p^^} ip netns exec "$host-$p" "$PROBE" serve --tcp 9000 >/dev/null &
  pids+=($!)
done
echo "  all four listen on port 9000: each has its own address, so nothing collides"
ip netns exec "$host" ip route show proto 197 | sed 's/^/  host route: /'

matrix "1. No policy selects the probes; their profile allows everything: all-to-all"

"$CTL" apply -f demo/02-isolate-groups.yaml
wait_for globalnetworkpolicy star2
matrix "2. Isolated into two groups by label: star1 = {A, B}, star2 = {C, D}"

group[b]=star2
"$CTL" label workloadendpoint host1-demo-b-eth0 -n demo group=star2 --overwrite
wait_for workloadendpoint host1-demo-b-eth0 -n demo
matrix "3. One label changed (B: group=star2): the matrix follows"

say "Cleaning up: CNI DEL of every probe, agent stopped, namespaces removed"
