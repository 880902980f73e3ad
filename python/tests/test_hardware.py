"""System metrics (start_run(hardware=True)) read from this machine's real /proc, and GPUs through
fakes of the external tools only: an nvidia-smi executable first on PATH and an NVML shared library
compiled here, both answering in the real tools' formats."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import stonks
from stonks import _hardware
from stonks.exceptions import StonksError

GB = float(1 << 30)
MACHINE_KEYS = [
    "sys/cpu_percent",
    "sys/ram_used_gb",
    "sys/ram_total_gb",
    "sys/ram_percent",
    "sys/disk_read_mb",
    "sys/disk_write_mb",
    "sys/net_sent_mb",
    "sys/net_recv_mb",
    "sys/proc_cpu_percent",
    "sys/proc_rss_gb",
]
INTERVAL = 0.05


def series(db_path: str) -> dict[str, stonks.MetricSeries]:
    with stonks.open(db_path) as db:
        run = db.list_runs()[0]
        return {key: db.get_metrics(run.id, key) for key in db.get_metric_keys(run.id)}


def run_with_hardware(db_path: str, samples: int = 4, **options: object) -> None:
    """A run whose user logs a few points while the sampler takes at least `samples` samples."""
    options.setdefault("hardware_interval", INTERVAL)
    with stonks.start_run("hw", db=db_path, hardware=True, **options) as run:  # type: ignore[arg-type]
        step = 0
        while len(run._queue) < samples or step < 3:
            run.log({"loss": 1.0 / (step + 1)})
            step += 1
            time.sleep(INTERVAL)
        # Waits on the sampler's own count, not on the clock: a loaded machine only makes this longer.
        while run._sampler is not None and run._sampler._step < samples:
            time.sleep(INTERVAL)


def stonks_warnings(caplog: pytest.LogCaptureFixture, word: str = "") -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "stonks" and word in r.getMessage()]


def no_gpu_tools(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No NVML to load and no nvidia-smi on PATH, also on a machine that has them."""
    monkeypatch.setattr(_hardware, "NVML_LIBRARY", str(tmp_path / "absent" / "libnvidia-ml.so.1"))
    empty = tmp_path / "empty-bin"
    empty.mkdir(exist_ok=True)
    monkeypatch.setenv("PATH", str(empty))


# ---------------------------------------------------------------- real /proc


def test_machine_metrics_come_from_proc_and_are_plausible(db_path: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="stonks"):
        run_with_hardware(db_path, hardware_gpu=False)
    assert stonks_warnings(caplog) == []
    found = series(db_path)
    for key in MACHINE_KEYS:
        assert key in found, key
    mem_total_kib = _hardware.meminfo_kib(Path("/proc/meminfo").read_text())["MemTotal"]
    assert set(found["sys/ram_total_gb"].values) == {mem_total_kib * 1024 / GB}
    for key in ("sys/cpu_percent", "sys/ram_percent"):
        assert all(0.0 <= v <= 100.0 for v in found[key].values), key
    assert all(0.0 <= v <= 100.0 * (os.cpu_count() or 1) for v in found["sys/proc_cpu_percent"].values)
    for used in found["sys/ram_used_gb"].values:
        assert 0.0 < used < mem_total_kib * 1024 / GB
    assert all(0.0 < v < mem_total_kib * 1024 / GB for v in found["sys/proc_rss_gb"].values)
    for key in ("sys/disk_read_mb", "sys/disk_write_mb", "sys/net_sent_mb", "sys/net_recv_mb"):
        values = found[key].values
        assert values[0] >= 0.0 and values == sorted(values), key
    # The sampler counts its own steps from 0, one per sample.
    samples = found["sys/ram_used_gb"].steps
    assert samples == list(range(len(samples))) and len(samples) >= 4
    # The rates need a previous reading: the sample at start has none.
    assert found["sys/cpu_percent"].steps == samples[1:]
    assert not any(key.startswith("sys/gpu") for key in found)


def test_the_users_steps_are_not_moved_by_the_samples(db_path: str) -> None:
    run_with_hardware(db_path, samples=6, hardware_gpu=False)
    loss = series(db_path)["loss"]
    assert loss.steps == list(range(len(loss.steps)))


def test_samples_carry_wall_time_and_none_comes_after_finish(db_path: str) -> None:
    run_with_hardware(db_path, hardware_gpu=False)
    assert not [t for t in threading.enumerate() if t.name == "stonks-hardware"]
    with stonks.open(db_path) as db:
        info = db.list_runs()[0]
    assert info.ended_at is not None
    before = series(db_path)
    for key in MACHINE_KEYS:
        times = before[key].timestamps
        assert times == sorted(times) and info.created_at <= times[0] and times[-1] <= info.ended_at, key
    time.sleep(INTERVAL * 5)
    after = series(db_path)
    assert {k: len(v.steps) for k, v in after.items()} == {k: len(v.steps) for k, v in before.items()}


def test_no_hardware_means_no_sampler(db_path: str) -> None:
    with stonks.start_run("hw", db=db_path) as run:
        run.log({"loss": 1.0})
        assert run._sampler is None
    assert list(series(db_path)) == ["loss"]


@pytest.mark.parametrize("interval", [0, -1.0, float("inf"), float("nan"), "5", True])
def test_a_bad_interval_is_refused(db_path: str, interval: object) -> None:
    with pytest.raises(StonksError, match="hardware_interval must be a positive number"):
        stonks.start_run("hw", db=db_path, hardware=True, hardware_interval=interval)  # type: ignore[arg-type]


# ------------------------------------------------------------------ nvidia-smi

SMI_OUTPUT = "0, 87, 30512, 81559, 64, 312.45\n1, [N/A], 1024, 81559, 41, [Not Supported]\n"


def fake_nvidia_smi(directory: Path, output: str = SMI_OUTPUT, status: int = 0) -> Path:
    """An nvidia-smi executable that records its arguments and prints `output` as the real one does."""
    directory.mkdir(exist_ok=True)
    script = directory / "nvidia-smi"
    record = directory / "args.txt"
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{record}"\nprintf \'%s\' \'{output}\'\nexit {status}\n')
    script.chmod(0o755)
    return record


def test_gpus_are_read_from_nvidia_smi_when_nvml_is_missing(
    db_path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    no_gpu_tools(monkeypatch, tmp_path)
    record = fake_nvidia_smi(tmp_path / "bin")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    with caplog.at_level(logging.WARNING, logger="stonks"):
        run_with_hardware(db_path, samples=2)
    assert stonks_warnings(caplog) == []
    assert record.read_text().split("\n")[:2] == [
        "--query-gpu=index,utilization.gpu,memory.used,memory.total,temperature.gpu,power.draw",
        "--format=csv,noheader,nounits",
    ]
    found = series(db_path)
    last = {key: s.values[-1] for key, s in found.items() if key.startswith("sys/gpu")}
    assert last == {
        "sys/gpu0_util": 87.0,
        "sys/gpu0_mem_used_gb": 30512 / 1024,
        "sys/gpu0_mem_total_gb": 81559 / 1024,
        "sys/gpu0_mem_percent": 100 * 30512 / 81559,
        "sys/gpu0_temp_c": 64.0,
        "sys/gpu0_power_w": 312.45,
        "sys/gpu1_mem_used_gb": 1.0,
        "sys/gpu1_mem_total_gb": 81559 / 1024,
        "sys/gpu1_mem_percent": 100 * 1024 / 81559,
        "sys/gpu1_temp_c": 41.0,
    }
    assert found["sys/gpu0_util"].steps == found["sys/ram_used_gb"].steps


@pytest.mark.parametrize("smi", ["missing", "failing", "no gpu line"])
def test_unreadable_gpus_give_one_warning_and_no_gpu_keys(
    smi: str, db_path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    no_gpu_tools(monkeypatch, tmp_path)
    if smi != "missing":
        fake_nvidia_smi(
            tmp_path / "bin",
            output="" if smi == "no gpu line" else "NVIDIA-SMI has failed",
            status=9 if smi == "failing" else 0,
        )
        monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    with caplog.at_level(logging.WARNING, logger="stonks"):
        run_with_hardware(db_path, samples=3)
    warnings = stonks_warnings(caplog)
    assert len(warnings) == 1, warnings
    assert "gpu family cannot be read" in warnings[0] and "libnvidia-ml.so.1 cannot be loaded" in warnings[0]
    assert ("nvidia-smi is not on PATH" in warnings[0]) == (smi == "missing")
    found = series(db_path)
    assert not any(key.startswith("sys/gpu") for key in found)
    assert "sys/ram_used_gb" in found


def test_a_gpu_tool_that_fails_later_is_dropped_with_one_warning(
    db_path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    no_gpu_tools(monkeypatch, tmp_path)
    fake_nvidia_smi(tmp_path / "bin")
    # Works for the first call (the check at start), fails from the second on.
    script = tmp_path / "bin" / "nvidia-smi"
    marker = tmp_path / "called"
    script.write_text(
        f'#!/bin/sh\nif [ -e "{marker}" ]; then echo "GPU is lost" >&2; exit 15; fi\n'
        f": > \"{marker}\"\nprintf '%s' '{SMI_OUTPUT}'\n"
    )
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    with caplog.at_level(logging.WARNING, logger="stonks"):
        run_with_hardware(db_path, samples=4)
    warnings = stonks_warnings(caplog)
    assert len(warnings) == 1 and "GPU is lost" in warnings[0], warnings
    assert not any(key.startswith("sys/gpu") for key in series(db_path))


def test_the_nvidia_smi_parser_reads_the_real_format() -> None:
    assert _hardware.parse_nvidia_smi("3, 0, 0, 16384, 30, 25.10\n") == {
        "sys/gpu3_util": 0.0,
        "sys/gpu3_mem_used_gb": 0.0,
        "sys/gpu3_mem_total_gb": 16.0,
        "sys/gpu3_mem_percent": 0.0,
        "sys/gpu3_temp_c": 30.0,
        "sys/gpu3_power_w": 25.1,
    }
    assert _hardware.parse_nvidia_smi("No devices were found\n") == {}
    assert _hardware.parse_nvidia_smi("0, [N/A], [N/A], [N/A], [N/A], [N/A]\n") == {}


# ------------------------------------------------------------------------ NVML

FAKE_NVML = r"""
#include <stdlib.h>
typedef struct { unsigned int gpu, memory; } Utilization;
typedef struct { unsigned long long total, free, used; } Memory;
int shutdown_calls = 0;
static int devices[2];
int nvmlInit_v2(void) { const char *e = getenv("FAKE_NVML_INIT"); return e ? atoi(e) : 0; }
int nvmlShutdown(void) { shutdown_calls++; return 0; }
int nvmlDeviceGetCount_v2(unsigned int *count) { *count = 2; return 0; }
int nvmlDeviceGetHandleByIndex_v2(unsigned int i, void **handle) { *handle = &devices[i]; return 0; }
static int index_of(void *handle) { return (int *)handle - devices; }
int nvmlDeviceGetUtilizationRates(void *h, Utilization *u) { u->gpu = 42 + index_of(h); u->memory = 7; return 0; }
int nvmlDeviceGetMemoryInfo(void *h, Memory *m) {
  m->total = 80ULL << 30; m->used = (3ULL << 30) * (index_of(h) + 1); m->free = m->total - m->used; return 0; }
int nvmlDeviceGetTemperature(void *h, int sensor, unsigned int *t) { if (sensor != 0) return 2; *t = 55; return 0; }
/* NVML_ERROR_NOT_SUPPORTED (3) for the second GPU, as for boards without a power sensor. */
int nvmlDeviceGetPowerUsage(void *h, unsigned int *mw) { if (index_of(h) == 1) return 3; *mw = 123456; return 0; }
"""


@pytest.fixture(scope="module")
def fake_nvml(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """libnvidia-ml.so.1 with NVML's C signatures and structs, answering for two GPUs."""
    directory = tmp_path_factory.mktemp("nvml")
    source = directory / "nvml.c"
    source.write_text(FAKE_NVML)
    library = directory / "libnvidia-ml.so.1"
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(library), str(source)], check=True)
    return library


def test_gpus_are_read_through_nvml_with_ctypes(
    db_path: str, tmp_path: Path, fake_nvml: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import ctypes

    no_gpu_tools(monkeypatch, tmp_path)
    monkeypatch.setattr(_hardware, "NVML_LIBRARY", str(fake_nvml))
    shutdowns = ctypes.c_int.in_dll(ctypes.CDLL(str(fake_nvml)), "shutdown_calls")
    before = shutdowns.value
    with caplog.at_level(logging.WARNING, logger="stonks"):
        run_with_hardware(db_path, samples=2)
    assert stonks_warnings(caplog) == []
    last = {key: s.values[-1] for key, s in series(db_path).items() if key.startswith("sys/gpu")}
    assert last == {
        "sys/gpu0_util": 42.0,
        "sys/gpu0_mem_used_gb": 3.0,
        "sys/gpu0_mem_total_gb": 80.0,
        "sys/gpu0_mem_percent": 100 * 3 / 80,
        "sys/gpu0_temp_c": 55.0,
        "sys/gpu0_power_w": 123.456,
        "sys/gpu1_util": 43.0,
        "sys/gpu1_mem_used_gb": 6.0,
        "sys/gpu1_mem_total_gb": 80.0,
        "sys/gpu1_mem_percent": 100 * 6 / 80,
        "sys/gpu1_temp_c": 55.0,
    }
    assert shutdowns.value == before + 1


def test_an_nvml_that_fails_to_start_falls_back_to_nvidia_smi(
    db_path: str, tmp_path: Path, fake_nvml: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    no_gpu_tools(monkeypatch, tmp_path)
    monkeypatch.setattr(_hardware, "NVML_LIBRARY", str(fake_nvml))
    # NVML_ERROR_DRIVER_NOT_LOADED
    monkeypatch.setenv("FAKE_NVML_INIT", "9")
    fake_nvidia_smi(tmp_path / "bin")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    with caplog.at_level(logging.WARNING, logger="stonks"):
        run_with_hardware(db_path, samples=2)
    assert stonks_warnings(caplog) == []
    assert series(db_path)["sys/gpu0_util"].values[-1] == 87.0


def test_nvml_that_cannot_be_loaded_or_is_not_nvml_says_why(tmp_path: Path) -> None:
    with pytest.raises(_hardware.FamilyUnavailable, match="cannot be loaded"):
        _hardware.open_nvml(str(tmp_path / "libnvidia-ml.so.1"))
    source = tmp_path / "empty.c"
    source.write_text("int unrelated(void) { return 0; }\n")
    library = tmp_path / "libempty.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(library), str(source)], check=True)
    with pytest.raises(_hardware.FamilyUnavailable, match=r"lacks an NVML function.*nvmlInit_v2"):
        _hardware.open_nvml(str(library))


def test_the_gpu_search_is_skipped_with_hardware_gpu_false(
    db_path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    no_gpu_tools(monkeypatch, tmp_path)
    with caplog.at_level(logging.WARNING, logger="stonks"):
        run_with_hardware(db_path, hardware_gpu=False)
    assert stonks_warnings(caplog) == []


def test_ctrl_c_still_reaches_the_main_thread(tmp_path: Path) -> None:
    """The sampler thread blocks SIGINT, so a KeyboardInterrupt ends a sleep in the main thread."""
    script = (
        "import os, signal, threading, time, stonks\n"
        f"run = stonks.start_run('hw', db={str(tmp_path / 'c.db')!r}, hardware=True, "
        "hardware_interval=0.05, hardware_gpu=False)\n"
        "run.start()\n"
        "threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT)).start()\n"
        "try:\n    time.sleep(30)\nexcept KeyboardInterrupt:\n    print('interrupted')\n"
        "run.finish('interrupted')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(stonks.__file__).parents[1])}
    done = subprocess.run(
        [sys.executable, "-c", script], check=False, env=env, capture_output=True, text=True, timeout=25
    )
    assert done.stdout.strip() == "interrupted", done.stderr


def test_psutil_is_not_needed_on_linux() -> None:
    # In a fresh interpreter: the framework tests of this session import psutil themselves.
    script = (
        "import sys\n"
        "from stonks import _hardware\n"
        "families = sorted(dict(_hardware._linux_families()))\n"
        "print(families, 'psutil' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(stonks.__file__).parents[1])}
    done = subprocess.run([sys.executable, "-c", script], check=False, env=env, capture_output=True, text=True)
    assert done.stdout.strip() == "['cpu', 'disk', 'net', 'process', 'ram'] False", done.stderr
