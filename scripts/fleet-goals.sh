#!/usr/bin/env bash
# Issue 17's fleet goals, in release, with the numbers:
#   1. 10,000 devices connected at once and held idle (FLEET_HOLD), memory per connection on both
#      sides (the gateway in `local up`, the simulator);
#   2. 1,000 idle devices through a 10 s outage: every device reconnected within 10 s of its end,
#      none lost. Idle: a simulated day of 1,000 ovens at 1440x (about 1,600 events/s through
#      rules, SNS and the Lambdas) loaded this 2-core machine to a load average of 58, and the
#      herd then measured the machine rather than the backoff (29 s; no event lost).
# Not part of `make test`: it takes minutes (10,000 registrations at moto's ~40/s, once per run
# directory: later runs reuse the devices of fleet/devices.tsv).
#
# FLEET_RUN_DIR=DIR uses the post office already running there (and its registered devices);
# otherwise one is started (release) and stopped at the end, its run directory kept for reuse.
set -euo pipefail
cd "$(dirname "$0")/.."

POSTOFFICE=${POSTOFFICE:-target/release/postoffice}
# The Lambdas' cargo profile (`dev` with POSTOFFICE=target/debug/postoffice: a quick dry run).
PROFILE=${FLEET_PROFILE:-release}
IDLE_DEVICES=${FLEET_IDLE_DEVICES:-10000}
HOLD=${FLEET_HOLD:-60s}
HERD_DEVICES=${FLEET_HERD_DEVICES:-1000}
OUTAGE_FOR=${FLEET_OUTAGE_FOR:-10s}
HERD_GOAL_SECONDS=10
# Full jitter puts each device's next attempt anywhere below its backoff ceiling, which doubles
# with every failed attempt of the outage: with the library's 300 s cap, a 10 s outage left the
# last of 1,000 devices waiting 62 s. With an 8 s cap every device tries again within 8 s of the
# outage's end, leaving 2 s for the connects themselves.
BACKOFF_CAP=${FLEET_BACKOFF_CAP:-8s}

started_pid=""
stop_post_office() {
  if [ -n "$started_pid" ] && kill -0 "$started_pid" 2>/dev/null; then
    echo "fleet-goals: stopping the post office (pid $started_pid)"
    kill -INT "$started_pid"
    wait "$started_pid" || true
  fi
}
trap stop_post_office EXIT

run_dir=${FLEET_RUN_DIR:-}
if [ -z "$run_dir" ]; then
  # Absolute: `local up` hands it to Terraform, which runs elsewhere.
  run_dir=$PWD/.run/fleet-goals-$(date -u +%Y%m%dT%H%M%SZ)
  mkdir -p "$run_dir"
  echo "fleet-goals: starting a post office ($PROFILE) in $run_dir (log: $run_dir/up.log)"
  "$POSTOFFICE" local up --profile "$PROFILE" --run-dir "$run_dir" >"$run_dir/up.log" 2>&1 &
  started_pid=$!
  for _ in $(seq 600); do
    [ -f "$run_dir/running.json" ] && break
    kill -0 "$started_pid" 2>/dev/null || { cat "$run_dir/up.log"; exit 1; }
    sleep 1
  done
  [ -f "$run_dir/running.json" ] || { echo "fleet-goals: no post office after 600 s"; exit 1; }
fi

echo "fleet-goals: 1/2 idle hold of $IDLE_DEVICES devices for $HOLD"
"$POSTOFFICE" local fleet --run-dir "$run_dir" --devices "$IDLE_DEVICES" --hold "$HOLD" --json \
  >"$run_dir/fleet-idle.json" 2>"$run_dir/fleet-idle.log" || true
echo "fleet-goals: 2/2 $HERD_DEVICES idle devices through an outage of $OUTAGE_FOR (backoff cap $BACKOFF_CAP)"
"$POSTOFFICE" local fleet --run-dir "$run_dir" --devices "$HERD_DEVICES" --reuse-only \
  --hold 30s --outage-at 0.33 --outage-for "$OUTAGE_FOR" --backoff-cap "$BACKOFF_CAP" --json \
  >"$run_dir/fleet-herd.json" 2>"$run_dir/fleet-herd.log" || true

python3 - "$run_dir" "$HERD_GOAL_SECONDS" <<'EOF'
import json, sys
run_dir, goal = sys.argv[1], float(sys.argv[2])
def load(name):
    try:
        with open(f"{run_dir}/{name}.json") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        print(f"  {name}: no report ({e}); see {run_dir}/{name}.log")
        return None
def kb(side):
    return "-" if side is None else f"{side['bytes_per_connection'] / 1024:.1f} KB"
def mb(side):
    return "-" if side is None else f"{side['before_bytes'] / 2**20:.0f} -> {side['after_bytes'] / 2**20:.0f} MB"
ok = True
idle = load("fleet-idle")
if idle:
    reg, con, hold, mem = idle["registration"], idle["connect"], idle["hold"], idle["memory"]
    print(f"Idle hold: {idle['devices']} devices")
    print(f"  registration   {reg['registered']} new at {reg['per_second']:.1f}/s ({reg['seconds']:.1f} s), {reg['reused']} reused")
    print(f"  connect        all in {con['seconds']:.1f} s ({con['per_second']:.0f} connections/s)")
    print(f"  held           {hold['connected_at_end']} connected after {hold['seconds']:.0f} s, {hold['connections_lost']} lost")
    print(f"  gateway RSS    {mb(mem['post_office'])}, {kb(mem['post_office'])} per connection")
    print(f"  simulator RSS  {mb(mem['simulator'])}, {kb(mem['simulator'])} per connection")
    print(f"  load average   connected {idle['load_average']['connected']}, end {idle['load_average']['end']}")
    ok &= hold["every_connection_held"]
else:
    ok = False
herd = load("fleet-herd")
if herd:
    outage, hold = herd["outage"], herd["hold"]
    seconds = outage["herd_reconnect_seconds"]
    lost = herd["devices"] - hold["connected_at_end"]
    print(f"Outage herd: {herd['devices']} idle devices, outage {outage['seconds']:.0f} s, backoff cap {outage['backoff_cap_seconds']:.0f} s")
    print(f"  herd_reconnect_seconds {seconds} (goal <= {goal:.0f}), devices lost {lost}")
    print(f"  load average   {herd['load_average']['end']}")
    ok &= seconds is not None and seconds <= goal and lost == 0 and hold["every_connection_held"]
else:
    ok = False
print("fleet-goals: " + ("met" if ok else "NOT met"))
sys.exit(0 if ok else 1)
EOF
