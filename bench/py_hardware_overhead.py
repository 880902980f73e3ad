"""CPU cost of start_run(hardware=True): the sampler thread, and the whole process beside a run without it.

Run: python3 bench/py_hardware_overhead.py [repeats] [seconds] [--write]
A child process starts a run with hardware=True, hardware_interval=0.1 (50 times the default
rate, so a short run takes enough samples to measure) and sleeps; the CPU time of the sampler
thread (/proc/self/task/<tid>/stat) and of the whole process over the span are read, and the
process CPU of the same run without hardware is subtracted. CPU seconds per sample, times one
sample per 5 s, give the share of one core at the default interval. GPUs are left out: this
machine has none (with one, nvidia-smi or NVML adds its own cost per sample).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from py_common import child_env, compile_package, machine, median, scratch_db, write_results_block

INTERVAL = 0.1
DEFAULT_INTERVAL = 5.0

CHILD = """
import os, sys, threading, time, stonks
hardware = sys.argv[2] == "1"
seconds = float(sys.argv[3])
tick = os.sysconf("SC_CLK_TCK")
run = stonks.start_run("bench-hw", db=sys.argv[1], hardware=hardware, hardware_interval=float(sys.argv[4]), hardware_gpu=False)
run.start()
run.log({"loss": 1.0})
time.sleep(0.2)
sampler = next((t for t in threading.enumerate() if t.name == "stonks-hardware"), None)
def thread_cpu():
    if sampler is None:
        return 0.0
    fields = open(f"/proc/self/task/{sampler.native_id}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / tick
def process_cpu():
    times = os.times()
    return times.user + times.system
start_thread, start_process, start_samples = thread_cpu(), process_cpu(), run._sampler._step if hardware else 0
time.sleep(seconds)
samples = (run._sampler._step if hardware else 0) - start_samples
print(thread_cpu() - start_thread, process_cpu() - start_process, samples)
run.finish()
"""


def measure(hardware: bool, seconds: float) -> tuple:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, scratch_db(), "1" if hardware else "0", str(seconds), str(INTERVAL)],
        env=child_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    thread, process, samples = done.stdout.split()
    return float(thread), float(process), int(samples)


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    repeats = int(args[0]) if args else 3
    seconds = float(args[1]) if len(args) > 1 else 20.0
    compile_package()
    thread_share, process_share, rows = [], [], []
    for _ in range(repeats):
        thread, with_hw, samples = measure(True, seconds)
        _, without, _ = measure(False, seconds)
        per_sample_thread = thread / samples
        per_sample_process = max(0.0, with_hw - without) / samples
        thread_share.append(100 * per_sample_thread / DEFAULT_INTERVAL)
        process_share.append(100 * per_sample_process / DEFAULT_INTERVAL)
        rows.append((samples, per_sample_thread * 1e3, per_sample_process * 1e3))
    print(f"samples per repeat: {[r[0] for r in rows]}")
    print(f"sampler thread: {[f'{r[1]:.3f}' for r in rows]} ms CPU per sample")
    print(f"process minus run without hardware: {[f'{r[2]:.3f}' for r in rows]} ms CPU per sample")
    print(f"share of one core at 5 s: thread {median(thread_share):.4f} %, process {median(process_share):.4f} %")
    if "--write" in sys.argv:
        load = os.getloadavg()[0]
        write_results_block(
            "py-hardware-overhead",
            f"""### Python system metrics overhead (bench/py_hardware_overhead.py)

Command: `python3 bench/py_hardware_overhead.py {repeats} {seconds:g} --write` ({time.strftime('%Y-%m-%d')}). Machine: {machine()}; load average {load:.1f} when it ended (other jobs shared the cores). A run with `hardware=True, hardware_interval={INTERVAL}` sleeps {seconds:g} s; CPU time of the sampler thread (from /proc/self/task/TID/stat, 10 ms ticks) and of the whole process minus the same run without hardware (this adds the writer's cost of storing the samples), divided by the samples taken, then scaled to one sample per {DEFAULT_INTERVAL:g} s (the default). No GPU on this machine: cpu, ram, disk, net and process families only. Medians of {repeats}.

| measurement | CPU per sample | share of one core at the 5 s default | goal | samples (per repeat) |
|---|---|---|---|---|
| sampler thread | {median([r[1] for r in rows]):.3f} ms | {median(thread_share):.4f} % | < 1 % | {', '.join(str(r[0]) for r in rows)} |
| whole process, minus a run without hardware | {median([r[2] for r in rows]):.3f} ms | {median(process_share):.4f} % | < 1 % | |
""",
        )


if __name__ == "__main__":
    main()
