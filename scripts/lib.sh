# Shell helpers shared by demo/ and bench/ scripts. Source it; it defines functions only.

# tabby_wait_programmed CTL STATE_DIR KIND NAME [tabbyctl get flags...]
# Waits (up to 60 s) until the agent writing STATE_DIR/status.json has programmed the current
# version of one resource: the agent reports the datastore revision it has applied.
tabby_wait_programmed() {
  local ctl=$1 state=$2 want have
  shift 2
  want=$("$ctl" get "$@" -o json | sed -n 's/.*"resourceVersion": *"\([0-9]*\)".*/\1/p' | head -n 1)
  for _ in $(seq 1 3000); do
    have=$(sed -n 's/.*"revision": *\([0-9]*\).*/\1/p' "$state/status.json" 2>/dev/null)
    [ "${have:-0}" -ge "${want:-1}" ] && return 0
    sleep 0.02
  done
  echo "the agent did not program $* (see $state/status.json)" >&2
  return 1
}
