# Shell helpers shared by demo/ and bench/ scripts. Source it; it defines functions only.

# tabby_wait_programmed CTL STATE_DIR KIND NAME [tabbyctl get flags...]
# Waits (up to 60 s) until the agent writing STATE_DIR/status.json has programmed the current
# version of one resource: the agent reports the datastore revision it has applied.
tabby_wait_programmed() {
  local ctl=$1 state=$2 want have
  shift 2
  want=$("$ctl" get "$@" -o json | sed -n 's/.*"resourceVersion": *"\([0-9]*\)".*/\1/p' | head -n 1)
  for _ in $(seq 1 3000); do
    # No status.json yet: the agent has not finished its first sync.
    have=$(sed -n 's/.*"revision": *\([0-9]*\).*/\1/p' "$state/status.json" 2>/dev/null || true)
    [ "${have:-0}" -ge "${want:-1}" ] && return 0
    sleep 0.02
  done
  echo "the agent did not program $* (see $state/status.json)" >&2
  return 1
}

# tabby_fabric TOR_NS HOST_NS...
# A small data centre of network namespaces: TOR_NS with a bridge br0 (192.0.2.254/24,
# forwarding on), and each HOST_NS (the k-th, from 1) attached to it by a veth pair, eth0
# 192.0.2.k/24, default route via the tor. The caller deletes the namespaces.
tabby_fabric() {
  local tor=$1 k=0 host
  shift
  ip netns add "$tor"
  ip -n "$tor" link set lo up
  ip -n "$tor" link add br0 type bridge
  ip -n "$tor" addr add 192.0.2.254/24 dev br0
  ip -n "$tor" link set br0 up
  ip netns exec "$tor" sysctl -qw net.ipv4.ip_forward=1
  for host in "$@"; do
    k=$((k + 1))
    ip netns add "$host"
    ip -n "$host" link set lo up
    ip -n "$tor" link add "p$k" type veth peer name eth0 netns "$host"
    ip -n "$tor" link set "p$k" master br0 up
    ip -n "$host" addr add "192.0.2.$k/24" dev eth0
    ip -n "$host" link set eth0 up
    ip -n "$host" route add default via 192.0.2.254
    ip netns exec "$host" sysctl -qw net.ipv4.ip_forward=1
  done
}
