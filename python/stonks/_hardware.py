"""System metrics: ``start_run(..., hardware=True)`` samples the machine in a background thread.

Keys are the original stonks' (``sys/cpu_percent``, ``sys/ram_used_gb``, ...) plus GPU temperature
and power and the training process's own CPU and resident memory. Nothing outside the standard
library is needed: ``/proc`` on Linux, ``psutil`` where it is installed (other systems), NVML
through ``ctypes`` and ``nvidia-smi`` when NVML cannot be loaded. A family of metrics that
cannot be read is skipped with one warning; the rest go on.

Samples carry their own step (the sample index), so the user's steps are never moved.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any, Callable

from ._log import warn

GB = float(1 << 30)
MB = float(1 << 20)
DEFAULT_INTERVAL_S = 5.0
NVML_LIBRARY = "nvml.dll" if sys.platform == "win32" else "libnvidia-ml.so.1"
NVIDIA_SMI_FIELDS = "index,utilization.gpu,memory.used,memory.total,temperature.gpu,power.draw"
# A hung nvidia-smi must not hold up finish() for long: the next sample tries again.
NVIDIA_SMI_TIMEOUT_S = 5.0
# How long finish() waits for a sample under way (an nvidia-smi call) before going on without it.
STOP_WAIT_S = 2.0
# The keys sys/gpu{i}_* take, in nvidia-smi's field order after the index.
GPU_FIELDS = ("util", "mem_used_gb", "mem_total_gb", "temp_c", "power_w")

# (step, keys, values): one sample, handed to the run.
Record = Callable[[int, tuple[str, ...], tuple[float, ...]], None]
Reader = Callable[[], dict[str, float]]


class FamilyUnavailable(Exception):
    """A family of metrics cannot be read here; its message says why."""


# ------------------------------------------------------------------ Linux /proc


def _read(path: str) -> str:
    with open(path, encoding="ascii", errors="replace") as handle:
        return handle.read()


def meminfo_kib(text: str) -> dict[str, int]:
    """/proc/meminfo as {field: kibibytes}."""
    fields: dict[str, int] = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            fields[name] = int(parts[0])
    return fields


def memory_from_meminfo(text: str) -> dict[str, float]:
    fields = meminfo_kib(text)
    total = fields["MemTotal"] * 1024.0
    # What the kernel says can be handed to programs without swapping (psutil's definition too).
    available = fields.get("MemAvailable", fields.get("MemFree", 0)) * 1024.0
    used = total - available
    return {
        "sys/ram_used_gb": used / GB,
        "sys/ram_total_gb": total / GB,
        "sys/ram_percent": 100.0 * used / total if total > 0 else 0.0,
    }


def cpu_times(text: str) -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs from /proc/stat; idle and iowait count as not busy."""
    for line in text.splitlines():
        if line.startswith("cpu "):
            ticks = [float(part) for part in line.split()[1:]]
            # guest and guest_nice (fields 9 and 10) are already counted in user and nice.
            total = sum(ticks[:8])
            idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0.0)
            return total - idle, total
    raise ValueError("no 'cpu' line")


def disk_bytes(text: str, whole_disks: list[str] | None) -> tuple[float, float]:
    """(read, written) bytes of the whole disks in /proc/diskstats (partitions would count twice)."""
    read = written = 0.0
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 10:
            continue
        if whole_disks is not None and parts[2] not in whole_disks:
            continue
        # Sectors in /proc/diskstats are 512 bytes whatever the device's own sector size.
        read += float(parts[5]) * 512.0
        written += float(parts[9]) * 512.0
    return read, written


def net_bytes(text: str) -> tuple[float, float]:
    """(sent, received) bytes of every interface in /proc/net/dev but the loopback."""
    sent = received = 0.0
    for line in text.splitlines()[2:]:
        name, _, rest = line.partition(":")
        parts = rest.split()
        if name.strip() == "lo" or len(parts) < 9:
            continue
        received += float(parts[0])
        sent += float(parts[8])
    return sent, received


def _physical_disks() -> list[str] | None:
    """Names of the block devices backed by hardware (/sys/block/*/device); None when /sys says nothing."""
    try:
        names = os.listdir("/sys/block")
    except OSError:
        return None
    return [name for name in names if os.path.exists(f"/sys/block/{name}/device")]


class _Rate:
    """The busy share of a (busy, total) counter pair since the previous reading, in percent."""

    def __init__(self, read: Callable[[], tuple[float, float]]) -> None:
        self._read = read
        self._last: tuple[float, float] | None = None

    def percent(self) -> float | None:
        """None at the first reading (the sample taken at start): a share needs a span of time."""
        busy, total = self._read()
        last = self._last
        self._last = (busy, total)
        if last is None or total <= last[1]:
            return None
        last_busy, last_total = last
        return min(100.0, max(0.0, 100.0 * (busy - last_busy) / (total - last_total)))


class _SinceStart:
    """A cumulative (a, b) byte counter pair as megabytes since the sampler started."""

    def __init__(self, read: Callable[[], tuple[float, float]], keys: tuple[str, str]) -> None:
        self._read = read
        self._keys = keys
        self._base = read()

    def sample(self) -> dict[str, float]:
        now = self._read()
        return {key: max(0.0, (value - base) / MB) for key, value, base in zip(self._keys, now, self._base)}


def _linux_families() -> list[tuple[str, Callable[[], Reader]]]:
    def cpu() -> Reader:
        rate = _Rate(lambda: cpu_times(_read("/proc/stat")))
        cpu_times(_read("/proc/stat"))

        def sample() -> dict[str, float]:
            percent = rate.percent()
            return {} if percent is None else {"sys/cpu_percent": percent}

        return sample

    def ram() -> Reader:
        memory_from_meminfo(_read("/proc/meminfo"))
        return lambda: memory_from_meminfo(_read("/proc/meminfo"))

    def disk() -> Reader:
        disks = _physical_disks()
        return _SinceStart(
            lambda: disk_bytes(_read("/proc/diskstats"), disks), ("sys/disk_read_mb", "sys/disk_write_mb")
        ).sample

    def net() -> Reader:
        return _SinceStart(lambda: net_bytes(_read("/proc/net/dev")), ("sys/net_sent_mb", "sys/net_recv_mb")).sample

    return [("cpu", cpu), ("ram", ram), ("disk", disk), ("net", net), ("process", _process_family)]


def _process_family() -> Reader:
    """The training process's CPU (all its threads; 100 = one core) and resident memory."""
    page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
    rss = _rss_reader(page)
    rss()
    clock = time.monotonic

    def cpu_seconds() -> float:
        times = os.times()
        return times.user + times.system

    last: list[float] = []

    def sample() -> dict[str, float]:
        """The CPU share is left out of the first sample: it needs a span of time."""
        values = {"sys/proc_rss_gb": rss() / GB}
        spent, now = cpu_seconds(), clock()
        if last and now > last[1]:
            values["sys/proc_cpu_percent"] = max(0.0, 100.0 * (spent - last[0]) / (now - last[1]))
        last[:] = [spent, now]
        return values

    return sample


def _rss_reader(page: int) -> Callable[[], float]:
    if os.path.exists("/proc/self/statm"):
        return lambda: float(_read("/proc/self/statm").split()[1]) * page
    psutil = _psutil()
    if psutil is None:
        raise FamilyUnavailable("no /proc/self/statm and psutil is not installed (pip install psutil)")
    process = psutil.Process()
    return lambda: float(process.memory_info().rss)


def _psutil() -> Any:
    try:
        import psutil  # type: ignore[import-not-found, import-untyped, unused-ignore]
    except ImportError:
        return None
    return psutil


def _psutil_families() -> list[tuple[str, Callable[[], Reader]]]:
    """cpu, ram, disk and net through psutil (systems without /proc)."""
    psutil = _psutil()

    def needs_psutil() -> Any:
        if psutil is None:
            raise FamilyUnavailable(
                f"there is no /proc on {sys.platform} and psutil is not installed (pip install psutil)"
            )
        return psutil

    def cpu() -> Reader:
        module = needs_psutil()
        module.cpu_percent(None)
        return lambda: {"sys/cpu_percent": float(module.cpu_percent(None))}

    def ram() -> Reader:
        module = needs_psutil()

        def sample() -> dict[str, float]:
            memory = module.virtual_memory()
            return {
                "sys/ram_used_gb": (memory.total - memory.available) / GB,
                "sys/ram_total_gb": memory.total / GB,
                "sys/ram_percent": float(memory.percent),
            }

        return sample

    def disk() -> Reader:
        module = needs_psutil()

        def read() -> tuple[float, float]:
            counters = module.disk_io_counters()
            if counters is None:
                raise FamilyUnavailable("psutil reports no disks")
            return float(counters.read_bytes), float(counters.write_bytes)

        return _SinceStart(read, ("sys/disk_read_mb", "sys/disk_write_mb")).sample

    def net() -> Reader:
        module = needs_psutil()

        def read() -> tuple[float, float]:
            counters = module.net_io_counters()
            return float(counters.bytes_sent), float(counters.bytes_recv)

        return _SinceStart(read, ("sys/net_sent_mb", "sys/net_recv_mb")).sample

    return [("cpu", cpu), ("ram", ram), ("disk", disk), ("net", net), ("process", _process_family)]


# ------------------------------------------------------------------------ GPUs


def gpu_values(
    index: int,
    util: float | None,
    used_mib: float | None,
    total_mib: float | None,
    temp_c: float | None,
    power_w: float | None,
) -> dict[str, float]:
    """The sys/gpu{index}_* keys of one GPU; a reading the GPU does not support is left out."""
    prefix = f"sys/gpu{index}_"
    values: dict[str, float] = {}
    for field, value in zip(GPU_FIELDS, (util, used_mib, total_mib, temp_c, power_w)):
        if value is None:
            continue
        values[prefix + field] = value / 1024.0 if field.startswith("mem_") else value
    if used_mib is not None and total_mib:
        values[prefix + "mem_percent"] = 100.0 * used_mib / total_mib
    return values


def _smi_number(text: str) -> float | None:
    """A number of nvidia-smi's CSV; None for "[N/A]", "[Not Supported]" and the like."""
    try:
        number = float(text.strip())
    except ValueError:
        return None
    return number if number - number == 0.0 else None


def parse_nvidia_smi(text: str) -> dict[str, float]:
    """The output of ``nvidia-smi --query-gpu=NVIDIA_SMI_FIELDS --format=csv,noheader,nounits``
    (memory in MiB, temperature in °C, power in W)."""
    values: dict[str, float] = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.split(",")]
        if len(cells) != 6 or not cells[0].isdigit():
            continue
        readings = [_smi_number(cell) for cell in cells[1:]]
        values.update(gpu_values(int(cells[0]), *readings))
    return values


class NvidiaSmi:
    """GPUs through the nvidia-smi command (one short child process per sample)."""

    def __init__(self, executable: str) -> None:
        self._command = [executable, f"--query-gpu={NVIDIA_SMI_FIELDS}", "--format=csv,noheader,nounits"]

    def sample(self) -> dict[str, float]:
        import subprocess

        done = subprocess.run(self._command, capture_output=True, text=True, timeout=NVIDIA_SMI_TIMEOUT_S, check=False)
        if done.returncode != 0:
            raise FamilyUnavailable(f"nvidia-smi exited with status {done.returncode}: {done.stderr.strip()[:200]}")
        values = parse_nvidia_smi(done.stdout)
        if not values:
            raise FamilyUnavailable(f"nvidia-smi printed no GPU: {done.stdout.strip()[:200]!r}")
        return values


class Nvml:
    """GPUs through NVML, the library nvidia-smi itself uses, loaded with ctypes."""

    def __init__(self, library: Any) -> None:
        import ctypes

        class Utilization(ctypes.Structure):
            _fields_ = [("gpu", ctypes.c_uint), ("memory", ctypes.c_uint)]

        class Memory(ctypes.Structure):
            _fields_ = [("total", ctypes.c_ulonglong), ("free", ctypes.c_ulonglong), ("used", ctypes.c_ulonglong)]

        self._ctypes = ctypes
        self._utilization = Utilization
        self._memory = Memory
        self._lib = library
        self._call("nvmlInit_v2")
        count = ctypes.c_uint(0)
        self._call("nvmlDeviceGetCount_v2", ctypes.byref(count))
        self._handles = []
        for index in range(count.value):
            handle = ctypes.c_void_p()
            self._call("nvmlDeviceGetHandleByIndex_v2", ctypes.c_uint(index), ctypes.byref(handle))
            self._handles.append(handle)
        if not self._handles:
            self.close()
            raise FamilyUnavailable("NVML found no GPU")

    def _call(self, name: str, *args: Any) -> None:
        status = getattr(self._lib, name)(*args)
        if status != 0:
            raise FamilyUnavailable(f"{name} returned NVML error {status}")

    def _optional(self, name: str, *args: Any) -> bool:
        """A reading some GPUs do not support (temperature, power): False instead of an error."""
        return bool(getattr(self._lib, name)(*args) == 0)

    def sample(self) -> dict[str, float]:
        ctypes = self._ctypes
        values: dict[str, float] = {}
        for index, handle in enumerate(self._handles):
            utilization, memory = self._utilization(), self._memory()
            temperature, milliwatts = ctypes.c_uint(0), ctypes.c_uint(0)
            util = (
                float(utilization.gpu)
                if self._optional("nvmlDeviceGetUtilizationRates", handle, ctypes.byref(utilization))
                else None
            )
            self._call("nvmlDeviceGetMemoryInfo", handle, ctypes.byref(memory))
            # NVML_TEMPERATURE_GPU = 0: the GPU die.
            temp = (
                float(temperature.value)
                if self._optional("nvmlDeviceGetTemperature", handle, ctypes.c_int(0), ctypes.byref(temperature))
                else None
            )
            power = (
                milliwatts.value / 1000.0
                if self._optional("nvmlDeviceGetPowerUsage", handle, ctypes.byref(milliwatts))
                else None
            )
            values.update(gpu_values(index, util, memory.used / MB, memory.total / MB, temp, power))
        return values

    def close(self) -> None:
        self._lib.nvmlShutdown()


def open_nvml(library: str | None = None) -> Nvml:
    """NVML from ``library`` (default NVML_LIBRARY, looked up where the system finds shared libraries)."""
    import ctypes

    library = library or NVML_LIBRARY
    try:
        loaded = ctypes.CDLL(library)
    except OSError as error:
        raise FamilyUnavailable(f"{library} cannot be loaded ({error})") from None
    try:
        return Nvml(loaded)
    except AttributeError as error:
        raise FamilyUnavailable(f"{library} lacks an NVML function ({error})") from None


def _gpu_family() -> Reader:
    """NVML when it loads and sees a GPU; otherwise nvidia-smi; otherwise FamilyUnavailable with both reasons."""
    try:
        nvml = open_nvml()
    except FamilyUnavailable as nvml_error:
        import shutil

        executable = shutil.which("nvidia-smi")
        if executable is None:
            raise FamilyUnavailable(f"NVML: {nvml_error}; nvidia-smi is not on PATH") from None
        smi = NvidiaSmi(executable)
        try:
            smi.sample()
        except Exception as smi_error:
            raise FamilyUnavailable(f"NVML: {nvml_error}; nvidia-smi: {smi_error}") from None
        return smi.sample
    try:
        nvml.sample()
    except FamilyUnavailable:
        nvml.close()
        raise
    return nvml.sample


# -------------------------------------------------------------------- sampler


class Sampler:
    """Samples every ``interval`` seconds in a daemon thread and hands each sample to ``record``."""

    def __init__(self, record: Record, interval: float = DEFAULT_INTERVAL_S, gpu: bool = True) -> None:
        self._record = record
        self._interval = interval
        self._gpu = gpu
        self._readers: list[tuple[str, Reader]] = []
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._step = 0

    def _open_families(self) -> None:
        families = _linux_families() if os.path.exists("/proc/stat") else _psutil_families()
        if self._gpu:
            families.append(("gpu", _gpu_family))
        for name, open_family in families:
            try:
                self._readers.append((name, open_family()))
            except Exception as error:
                self._skip(name, error)

    def _skip(self, family: str, error: BaseException) -> None:
        reason = str(error) or type(error).__name__
        warn(f"system metrics: the {family} family cannot be read and is skipped ({reason}).")

    def sample(self) -> dict[str, float]:
        """One reading of every family still readable; a family that fails now is dropped with one warning."""
        values: dict[str, float] = {}
        for entry in list(self._readers):
            try:
                values.update(entry[1]())
            except Exception as error:
                self._readers.remove(entry)
                self._skip(entry[0], error)
        return {key: value for key, value in values.items() if value - value == 0.0}

    def _emit(self) -> None:
        values = self.sample()
        if not values or self._stopped.is_set():
            return
        self._record(self._step, tuple(values), tuple(values.values()))
        self._step += 1

    def _main(self) -> None:
        self._open_families()
        try:
            self._emit()
            while not self._stopped.wait(self._interval):
                self._emit()
        finally:
            for _, reader in self._readers:
                owner = getattr(reader, "__self__", None)
                if isinstance(owner, Nvml):
                    owner.close()

    def start(self) -> Sampler:
        self._thread = _start_thread(self._main)
        return self

    def stop(self) -> None:
        """No sample is recorded after this returns (one under way is dropped after STOP_WAIT_S)."""
        self._stopped.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(STOP_WAIT_S)


def _start_thread(target: Callable[[], None]) -> threading.Thread:
    """A daemon thread born with SIGINT and SIGTERM blocked, so a Ctrl-C reaches the main thread."""
    import signal

    thread = threading.Thread(target=target, name="stonks-hardware", daemon=True)
    if not hasattr(signal, "pthread_sigmask"):
        thread.start()
        return thread
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        thread.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    return thread


def check_interval(interval: Any) -> float:
    """hardware_interval as seconds; StonksError for anything but a positive finite number."""
    from ._errors import StonksError

    if isinstance(interval, bool) or not isinstance(interval, (int, float)) or not 0 < interval < float("inf"):
        raise StonksError(f"hardware_interval must be a positive number of seconds, e.g. 5.0, not {interval!r}.")
    return float(interval)
