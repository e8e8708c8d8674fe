#!/usr/bin/env bash
# Scheduler benchmarks (issue 3): context switch (yield ping-pong), thread create+join, timer wake-up
# latency (median, p99) and the host CPU an idle guest uses — cooperative and preemptive side by side,
# runs interleaved. Usage: bash benchmarks/threads.sh [RUNS]   (default 3 runs per scheduler)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
swift build --product tessera >/dev/null
exec python3 - "$RUNS" <<'PY'
import os, re, shutil, statistics, subprocess, sys, tempfile, threading, time

runs = int(sys.argv[1])
tessera = os.path.abspath(".build/debug/tessera")
app = "benchmarks/apps/sched"
work = tempfile.mkdtemp(prefix="tessera-sched-")
apps = {}
for scheduler in ["sched-cooperative", "sched-preemptive"]:
    folder = os.path.join(work, scheduler)
    os.makedirs(folder)
    shutil.copy(os.path.join(app, "main.swift"), folder)
    manifest = open(os.path.join(app, "tessera.yaml")).read().replace("sched-cooperative", scheduler)
    open(os.path.join(folder, "tessera.yaml"), "w").write(manifest)
    subprocess.run([tessera, "build", "-q", folder], check=True, stdout=subprocess.DEVNULL)
    apps[scheduler] = folder

def qemu_cpu_seconds(image):
    for pid in os.listdir("/proc"):
        if not pid.isdigit(): continue
        try:
            cmd = open(f"/proc/{pid}/cmdline").read()
            if "qemu-system" in cmd and image in cmd:
                fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
                return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            pass
    return None

results = {s: {} for s in apps}
for run in range(runs):
    for scheduler, folder in apps.items():
        image = os.path.join(folder, ".tessera", "schedbench.elf")
        p = subprocess.Popen([tessera, "run", folder], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        idle = None
        for line in p.stdout:
            m = re.match(r"bench: (\S+) (\d+) (\S+)", line)
            if m:
                results[scheduler].setdefault(m.group(1), []).append(int(m.group(2)))
            if line.startswith("bench: idle-start"):
                time.sleep(0.2)
                before = qemu_cpu_seconds(image)
                time.sleep(1.5)
                after = qemu_cpu_seconds(image)
                if before is not None and after is not None:
                    idle = (after - before) / 1.5 * 100
        if p.wait() != 0:
            sys.exit(f"{scheduler} run {run + 1} exited {p.returncode}")
        if idle is not None:
            results[scheduler].setdefault("idle-cpu", []).append(idle)

def med(s, key):
    values = results[s].get(key, [])
    return statistics.median(values) if values else float("nan")

mhz = med("sched-cooperative", "tsc")
print(f"\n## Scheduler benchmark ({time.strftime('%Y-%m-%d')}, {runs} runs per scheduler, interleaved, TSC {mhz:.0f} MHz)\n")
print("| Measure (median of runs) | cooperative | preemptive |")
print("|---|---|---|")
rows = [("Context switch (yield ping-pong), cycles", "yield-switch", "{:.0f}"),
        ("Thread create + join, cycles", "create-join", "{:.0f}"),
        ("Timer wake-up latency, median µs (1 ms sleeps x 200)", "wakeup-median", "{:.0f}"),
        ("Timer wake-up latency, p99 µs", "wakeup-p99", "{:.0f}"),
        ("Host CPU of an idle guest (Thread.sleep 2 s), % of a core", "idle-cpu", "{:.1f}")]
for label, key, fmt in rows:
    print(f"| {label} | {fmt.format(med('sched-cooperative', key))} | {fmt.format(med('sched-preemptive', key))} |")
print(f"\nCommand: bash benchmarks/threads.sh {runs}")
shutil.rmtree(work)
PY
