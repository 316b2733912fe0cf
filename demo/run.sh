#!/usr/bin/env bash
# The seed talk's demo, for real, across two hosts: four probe workloads A-D, two per host, each
# with its own IP, all listening on port 9000, wired by the tabby CNI plugin and policed by
# tabbyd; the hosts route to each other over BGP (BIRD, one route per address block). The hosts
# and a "tor" that joins them are network namespaces this script creates and removes, so the
# machine's own networking is left as it was.
#
#   demo/run.sh [--etcd] [BUILD_DIR]      (as root; scripts/demo builds first and then runs this)
#
# By default both hosts share the embedded datastore (a SQLite file: the "hosts" share this
# machine's filesystem). With --etcd they share a 3-member etcd cluster that runs on the tor
# (three port pairs on its address) and is removed at the end.
#
# Every matrix is checked against what the policy says; the demo exits non-zero if the network
# disagrees.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
use_etcd=0
if [ "${1:-}" = "--etcd" ]; then
  use_etcd=1
  shift
fi
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
for tool in bird birdc; do
  command -v "$tool" >/dev/null || { echo "demo: $tool is missing (scripts/install-deps)" >&2; exit 1; }
done

id=$$
ns=tabby-demo-$id
tor=$ns-tor
hosts=(host1 host2)
declare -A host_ip=([host1]=192.0.2.1 [host2]=192.0.2.2)
work=$(mktemp -d /tmp/tabby-demo.XXXXXX)
probes=(a b c d)
declare -A home=([a]=host1 [b]=host1 [c]=host2 [d]=host2)
declare -A group=([a]=star1 [b]=star1 [c]=star2 [d]=star2)
declare -A address
pids=()       # probes and agents
etcd_pids=()  # stopped last, once nothing uses the datastore

if [ "$use_etcd" -eq 1 ]; then
  export TABBY_DATASTORE="etcd://192.0.2.254:23790,192.0.2.254:23791,192.0.2.254:23792"
else
  export TABBY_DATASTORE="sqlite://$work/tabby.db"
fi

state() { echo "$work/state-$1"; }

cleanup() {
  set +e
  for p in "${probes[@]}"; do
    [ -n "${address[$p]:-}" ] && cni DEL "$p" >/dev/null 2>&1
  done
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
  # BIRD is a daemon of its own (it outlives tabbyd on purpose).
  for h in "${hosts[@]}"; do
    [ -f "$(state "$h")/bird.pid" ] && kill "$(cat "$(state "$h")/bird.pid")" 2>/dev/null
  done
  for pid in "${etcd_pids[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
  for p in "${probes[@]}"; do ip netns del "$ns-$p" 2>/dev/null; done
  for h in "${hosts[@]}"; do ip netns del "$ns-$h" 2>/dev/null; done
  ip netns del "$tor" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

say() { printf '\n\033[1m%s\033[0m\n' "$*"; }
fail() { echo "demo: $*" >&2; exit 1; }

# tabbyctl on host1 (where the datastore is reachable whichever it is).
ctl() { ip netns exec "$ns-host1" "$CTL" "$@"; }

netconf() {
  cat <<JSON
{"cniVersion": "1.0.0", "name": "demo", "type": "tabby", "nodename": "$1",
 "orchestrator": "demo", "profiles": ["probe"],
 "wait_for_agent_seconds": 20, "agent_state_dir": "$(state "$1")"}
JSON
}

# cni COMMAND PROBE: runs the plugin in the probe's host, as a container runtime would.
cni() {
  local h=${home[$2]}
  netconf "$h" | ip netns exec "$ns-$h" env CNI_COMMAND="$1" CNI_CONTAINERID="demo-$2" \
    CNI_NETNS="/var/run/netns/$ns-$2" CNI_IFNAME=eth0 CNI_PATH="$(dirname "$CNI")" \
    CNI_ARGS="K8S_POD_NAMESPACE=demo;K8S_POD_NAME=$2;TABBY_LABELS=probe=$2,group=${group[$2]}" \
    "$CNI"
}

# Waits until both agents have programmed the current version of one resource: each reports
# the datastore revision it has applied in its status file.
wait_for() {
  for h in "${hosts[@]}"; do tabby_wait_programmed ctl "$(state "$h")" "$@"; done
}

# One row of the matrix: what probe FROM reaches, "ok" or "--" per probe.
row() {
  local from=$1 targets=()
  for to in "${probes[@]}"; do targets+=("${to^^}=${address[$to]}"); done
  ip netns exec "$ns-$from" "$PROBE" matrix --port 9000 --timeout-ms 300 "${targets[@]}" |
    while read -r _ verdict; do printf '%-4s' "$verdict"; done
}

# The row FROM should show: ok to the probes of its group, -- to the others.
expected_row() {
  local from=$1
  for to in "${probes[@]}"; do
    if [ "${group[$from]}" = "${group[$to]}" ] || [ "$2" = all ]; then printf '%-4s' ok; else printf '%-4s' --; fi
  done
}

# matrix TITLE all|groups: prints the matrix and checks it against what the policy says.
matrix() {
  say "$1"
  printf '        '
  for to in "${probes[@]}"; do printf '%-4s' "${to^^}"; done
  printf '\n'
  local wrong=0 got want
  for from in "${probes[@]}"; do
    got=$(row "$from")
    want=$(expected_row "$from" "$2")
    printf '  %s ->  %s   (%s, group %s)\n' "${from^^}" "$got" "${home[$from]}" "${group[$from]}"
    [ "$got" = "$want" ] || { echo "      expected  $want"; wrong=1; }
  done
  [ "$wrong" -eq 0 ] || fail "the network does not do what the policy says"
}

say "A tor and two hosts (network namespaces), joined by a bridge on 192.0.2.0/24"
tabby_fabric "$tor" "$ns-host1" "$ns-host2"
for h in "${hosts[@]}"; do echo "  $h: ${host_ip[$h]}"; done

if [ "$use_etcd" -eq 1 ]; then
  say "A 3-member etcd cluster on the tor"
  cluster=""
  for m in 0 1 2; do cluster+="${cluster:+,}m$m=http://192.0.2.254:2380$m"; done
  for m in 0 1 2; do
    ip netns exec "$tor" etcd --name "m$m" --data-dir "$work/etcd-m$m" \
      --listen-client-urls "http://192.0.2.254:2379$m" \
      --advertise-client-urls "http://192.0.2.254:2379$m" \
      --listen-peer-urls "http://192.0.2.254:2380$m" \
      --initial-advertise-peer-urls "http://192.0.2.254:2380$m" \
      --initial-cluster "$cluster" --initial-cluster-state new \
      --log-level error >"$work/etcd-m$m.log" 2>&1 &
    etcd_pids+=($!)
  done
  for _ in $(seq 1 300); do
    ip netns exec "$tor" etcdctl --endpoints="${TABBY_DATASTORE#etcd://}" endpoint health \
      >/dev/null 2>&1 && break
    sleep 0.1
  done
  echo "  $TABBY_DATASTORE"
fi

say "tabbyd on each host, one datastore for both, BGP through BIRD between them"
ctl datastore init >/dev/null  # a datastore is created only on purpose
for h in "${hosts[@]}"; do
  ip netns exec "$ns-$h" "$TABBYD" --node "$h" --state-dir "$(state "$h")" --bird run \
    --log-level warn &
  pids+=($!)
done
ctl apply -f demo/00-pool.yaml -f demo/01-probe-profile.yaml
wait_for profile probe

say "Four probes, two per host, each its own network namespace, wired by the tabby CNI plugin"
for p in "${probes[@]}"; do
  ip netns add "$ns-$p"
  ip -n "$ns-$p" link set lo up  # as a container runtime does
  result=$(cni ADD "$p")
  address[$p]=$(echo "$result" | grep -o '"address": *"[0-9.]*' | grep -o '[0-9.]*$')
  echo "  probe ${p^^} on ${home[$p]}: ${address[$p]}  labels probe=$p,group=${group[$p]}"
  TABBY_PROBE_NAME=${p^^} ip netns exec "$ns-$p" "$PROBE" serve --tcp 9000 >/dev/null &
  pids+=($!)
done
echo "  all four listen on port 9000: each has its own address, so nothing collides"

# The hosts learn each other's blocks over BGP within seconds of the first workload.
for _ in $(seq 1 300); do
  ok=1
  for from in a c; do [ "$(row "$from")" = "$(expected_row "$from" all)" ] || ok=0; done
  [ "$ok" -eq 1 ] && break
  sleep 0.2
done
for h in "${hosts[@]}"; do
  ip -n "$ns-$h" route show proto bird | sed "s/^/  $h route from BGP: /"
done
echo "  (one route per address block of the other host, not one per workload)"
ip netns exec "$ns-host1" "$CTL" node status --bird-socket "$(state host1)/bird.ctl" |
  sed 's/^/  /'

matrix "1. No policy selects the probes; their profile allows everything: all-to-all" all

ctl apply -f demo/02-isolate-groups.yaml
wait_for globalnetworkpolicy star2
matrix "2. Isolated into two groups by label: star1 = {A, B}, star2 = {C, D}" groups

group[b]=star2
ctl label workloadendpoint host1-demo-b-eth0 -n demo group=star2 --overwrite
wait_for workloadendpoint host1-demo-b-eth0 -n demo
matrix "3. One label changed (B on host1: group=star2): the matrix follows, across hosts" groups

say "Cleaning up: CNI DEL of every probe, agents, BIRDs$([ "$use_etcd" -eq 1 ] && echo ", etcd") stopped, namespaces removed"
