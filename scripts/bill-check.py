#!/usr/bin/env python3
"""make bill-check: a measured bill beside the model, for each connection and messaging scenario.

For each scenario a fresh local post office (release Lambdas, metering in the fleet's simulated
time) runs one compressed day of a fleet of households, an oven and a phone with the app each
(`local fleet`), is stopped once nothing is in
flight, and `postoffice cost --measured` prices what it metered beside the model of the same
households, day, scenario and actors. Then it prints what issue 17 asks to be shown:

- the connection minutes idle disconnect cuts (measured and modelled);
- the factor Event Collections cut device publishes (IoT messages) by, and how SNS publishes
  change, measured beside the model;
- each run's bill total, measured and modelled, and every line more than 10 % away with the
  usage behind it;
- the lines the phones drive (the forwarder's Lambda requests, IoT messages) and what the phones
  did (sessions, requests, replies, lost).

Settings (environment): BILL_DEVICES (12), BILL_TIME_SCALE (500: a day in 173 s; the local round trips, milliseconds, are stretched
by the same factor, so a larger scale inflates every session),
BILL_SCENARIOS (baseline,idle,collections,both), BILL_PHONES (1; 0 simulates the ovens only, as
before the phones), POSTOFFICE (target/release/postoffice).
Each run directory stays under .run/bill-<time>/<scenario> (about 1 GB each with release
Lambdas); BILL_KEEP=0 deletes them at the end. `scripts/bill-check.py .run/bill-<time>` prices
the kept runs again (after a change to the model or the profile) without running them.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POSTOFFICE = Path(os.environ.get("POSTOFFICE", ROOT / "target/release/postoffice"))
DEVICES = int(os.environ.get("BILL_DEVICES", "12"))
SCALE = float(os.environ.get("BILL_TIME_SCALE", "500"))
PHONES = os.environ.get("BILL_PHONES", "1") != "0"
SCENARIOS = {
    "baseline": [],
    "idle": ["--idle-disconnect"],
    "collections": ["--collections"],
    "both": ["--idle-disconnect", "--collections"],
}
TOLERANCE = 0.10


def log(message):
    print(message, file=sys.stderr, flush=True)


def wait_for(what, seconds, check):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(1)
    raise SystemExit(f"bill-check: gave up waiting for {what} after {seconds} s")


def metering(run_dir):
    try:
        return json.loads((run_dir / "metering.json").read_text())
    except (OSError, ValueError):
        return None


def in_flight(m):
    """What still moves: SNS deliveries, Lambda requests, Firehose records."""
    return (
        sum(d["delivered"] + d["attempts"] for d in m["sns"]["deliveries"].values()),
        sum(f["requests"] for f in m["lambda"].values()),
        sum(s["records"] for s in m["firehose"].values()),
    )


def settled(run_dir):
    """metering.json (rewritten every 5 s) unchanged over three writes."""
    seen = []

    def check():
        m = metering(run_dir)
        if m is None:
            return False
        if not seen or seen[-1][0] != m["taken_at"]:
            seen.append((m["taken_at"], in_flight(m)))
        return len(seen) >= 3 and len({counts for _, counts in seen[-3:]}) == 1

    wait_for("the post office to settle", 300, check)


def run_scenario(name, flags, base):
    run_dir = base / name
    log(f"== {name}: starting a local post office in {run_dir}")
    up_log = open(base / f"{name}-up.log", "w")
    up = subprocess.Popen(
        [
            str(POSTOFFICE), "local", "up", "--profile", "release", "--run-dir", str(run_dir),
            "--metered-time-scale", str(SCALE),
        ],
        cwd=ROOT, stdout=up_log, stderr=subprocess.STDOUT,
    )
    try:
        wait_for("running.json", 900, lambda: (run_dir / "running.json").is_file() or up.poll() is not None)
        if up.poll() is not None:
            raise SystemExit(f"bill-check: local up exited {up.returncode}; see {up_log.name}")
        log(f"== {name}: a day of {DEVICES} households ({'oven and phone' if PHONES else 'oven only'}) "
            f"at --time-scale {SCALE:g}")
        fleet = subprocess.run(
            [
                str(POSTOFFICE), "local", "fleet", "--run-dir", str(run_dir),
                "--devices", str(DEVICES), "--time-scale", str(SCALE), "--json", *flags,
                *([] if PHONES else ["--no-phones"]),
            ],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=open(base / f"{name}-fleet.log", "w"), text=True,
        )
        (base / f"{name}-fleet.json").write_text(fleet.stdout)
        if fleet.returncode != 0:
            raise SystemExit(f"bill-check: the {name} fleet failed; see {base}/{name}-fleet.log")
        settled(run_dir)
    finally:
        up.send_signal(signal.SIGINT)
        try:
            up.wait(timeout=120)
        except subprocess.TimeoutExpired:
            up.kill()
            up.wait()
    return price(name, base)


def price(name, base):
    run_dir = base / name
    bill = subprocess.run(
        [str(POSTOFFICE), "cost", "--measured", str(run_dir), "--json"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True, check=True,
    )
    table = subprocess.run(
        [str(POSTOFFICE), "cost", "--measured", str(run_dir)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True, check=True,
    )
    (base / f"{name}-bill.txt").write_text(table.stdout)
    fleet = json.loads((base / f"{name}-fleet.json").read_text())
    return json.loads(bill.stdout), metering(run_dir), fleet


def line(bill, service, item):
    for entry in bill["lines"]:
        if entry["service"] == service and entry["item"] == item:
            return entry
    return None


def detail(entry, what):
    for d in entry["details"]:
        if d["what"] == what:
            return d
    return None


def percent(part, whole):
    return 100.0 * part / whole if whole else float("nan")


def cut(before, after):
    return percent(before - after, before)


def main():
    wanted = os.environ.get("BILL_SCENARIOS", ",".join(SCENARIOS)).split(",")
    unknown = [name for name in wanted if name not in SCENARIOS]
    if unknown:
        raise SystemExit(f"BILL_SCENARIOS: unknown {unknown}; known: {list(SCENARIOS)}")
    if not POSTOFFICE.is_file():
        raise SystemExit(f"{POSTOFFICE}: build it first (make bill-check builds it)")
    results = {}
    started = time.monotonic()
    if len(sys.argv) > 1:
        base = Path(sys.argv[1]).resolve()
        for name in wanted:
            if (base / name / "metering.json").is_file():
                results[name] = price(name, base)
    else:
        base = ROOT / ".run" / f"bill-{time.strftime('%Y%m%dT%H%M%S')}"
        base.mkdir(parents=True)
        for name in wanted:
            t0 = time.monotonic()
            results[name] = run_scenario(name, SCENARIOS[name], base)
            log(f"== {name}: {time.monotonic() - t0:.0f} s")

    out = []
    say = out.append
    say(f"bill-check: {DEVICES} households ({'oven and phone' if PHONES else 'ovens only'}), one day at --time-scale {SCALE:g} ({86400 / SCALE:.1f} s), "
        f"release Lambdas; run directories in {base} ({time.monotonic() - started:.0f} s in all)")
    say("")

    def connection(name):
        entry = line(results[name][0], "IoT Core", "connectivity")
        return entry["measured"], entry["model"]

    for always, idle in (("baseline", "idle"), ("collections", "both"), ("baseline", "both")):
        if always in results and idle in results:
            (m0, p0), (m1, p1) = connection(always), connection(idle)
            say(f"Idle disconnect, {always} → {idle}: connection minutes {m0:.0f} → {m1:.0f} "
                f"measured, cut {cut(m0, m1):.1f} % (model {p0:.0f} → {p1:.0f}, cut {cut(p0, p1):.1f} %)")
    say("")

    def device_and_sns(name):
        bill = results[name][0]
        messaging = line(bill, "IoT Core", "messaging")
        publishes = detail(messaging, "device publishes")
        sns = detail(line(bill, "SNS", "publishes"), "publish requests")
        return (publishes["measured"], publishes["model"], sns["measured"], sns["model"],
                messaging["measured"], messaging["model"])

    for single, collected in (("baseline", "collections"), ("idle", "both")):
        if single in results and collected in results:
            a, b = device_and_sns(single), device_and_sns(collected)
            say(f"Event Collections, {single} → {collected}:")
            say(f"  device publishes {a[0]:.0f} → {b[0]:.0f}: ÷{a[0] / b[0]:.2f} measured, "
                f"÷{a[1] / b[1]:.2f} modelled ({percent(a[0] / b[0] - a[1] / b[1], a[1] / b[1]):+.1f} %)")
            say(f"  IoT messages (5 KB, all kinds) {a[4]:.0f} → {b[4]:.0f}: ÷{a[4] / b[4]:.2f} measured, "
                f"÷{a[5] / b[5]:.2f} modelled")
            say(f"  SNS publishes {a[2]:.0f} → {b[2]:.0f}: ×{b[2] / a[2]:.3f} measured, ×{b[3] / a[3]:.3f} "
                f"modelled (the collection-unpacker publishes every member; the collection's own "
                f"publish comes on top)")
            per = results[collected][0].get("events_per_collection") or {}
            events = results[collected][2]["events"]
            say(f"  events per collection: {per.get('measured')} measured, {per.get('model')} modelled "
                f"(the devices sent {events['acknowledged']} events, {events['collections_sent']} collections)")
    say("")

    for name, (bill, _, _) in results.items():
        measured, model = bill["measured_modelled_usd"], bill["model_usd"]
        say(f"{name} ({bill['scenario_label']}): bill of the modelled lines measured ${measured:.6f}, "
            f"model ${model:.6f} ({percent(measured - model, model):+.1f} %)"
            + (" within 10 %" if abs(measured - model) <= TOLERANCE * model else " MORE THAN 10 % AWAY")
            + f"; not modelled (per account, or an upper bound): ${bill['measured_usd'] - measured:.6f}")
        for warning in bill.get("warnings", []):
            say(f"  warning: {warning}")
        for entry in bill["lines"]:
            if not entry["differs"]:
                continue
            if entry["model"] is None:
                say(f"  {entry['service']} {entry['item']}: {entry['measured']:.4g} {entry['unit']} "
                    f"measured (${entry['measured_usd']:.6f}), not modelled")
                continue
            say(f"  {entry['service']} {entry['item']}: {entry['measured']:.4g} measured / "
                f"{entry['model']:.4g} modelled {entry['unit']} "
                f"(${entry['measured_usd']:.6f} / ${entry['model_usd']:.6f})")
            for d in entry["details"]:
                fmt = lambda v, missing: missing if v is None else f"{v:.4g}"
                say(f"    {d['what']}: {fmt(d['measured'], 'not metered')} / {fmt(d['model'], 'not modelled')}")
        for service, item in (("Lambda", "requests: forwarder"), ("IoT Core", "messaging")):
            entry = line(bill, service, item)
            if entry and entry["model"]:
                say(f"  {service} {item}: {entry['measured']:.4g} measured / {entry['model']:.4g} "
                    f"modelled ({percent(entry['measured'] - entry['model'], entry['model']):+.1f} %)")
        phones = results[name][2].get("phones")
        if phones:
            say(f"  phones: {phones['phones']}, {phones['connects']} sessions of {phones['sessions_planned']} "
                f"planned, {phones['hours_per_phone_day']:.2f} h a day (profile "
                f"{phones['profile_hours_per_phone_day']}), {phones['requests']} requests, "
                f"{phones['replies_in_session']} answered while open, lost {phones['lost']}; "
                f"received {phones['received']}")
    print("\n".join(out))
    (base / "summary.txt").write_text("\n".join(out) + "\n")
    if os.environ.get("BILL_KEEP", "1") == "0":
        for name in results:
            shutil.rmtree(base / name, ignore_errors=True)


if __name__ == "__main__":
    main()
