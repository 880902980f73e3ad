"""Where this process sits in a distributed job: rank, world size, local rank, node.

Each answer comes from ``torch.distributed`` once a process group is initialised, then from the
variables torchrun and Lightning set (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``NODE_RANK``),
then from SLURM's (``SLURM_PROCID``, ``SLURM_NTASKS``, ``SLURM_LOCALID``, ``SLURM_NODEID``), and
otherwise describes a single process. torch is optional: this module imports it only when it is
already installed, so ``stonks.distributed`` works in any environment.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = [
    "barrier",
    "get_distributed_info",
    "get_local_rank",
    "get_node_rank",
    "get_num_nodes",
    "get_rank",
    "get_world_size",
    "is_distributed",
    "is_main_process",
    "is_rank_zero",
]


def _process_group() -> Any | None:
    """``torch.distributed`` when a process group is initialised in this process, else None."""
    try:
        import torch.distributed as torch_distributed
    except ImportError:
        return None
    if torch_distributed.is_available() and torch_distributed.is_initialized():
        return torch_distributed
    return None


def _env_int(*names: str, default: int) -> int:
    """The first of ``names`` set to an integer in the environment, else ``default``."""
    for name in names:
        value = os.environ.get(name, "").strip()
        if value:
            try:
                return int(value)
            except ValueError:
                continue
    return default


def get_rank() -> int:
    """Global rank of this process (0 outside a distributed job)."""
    group = _process_group()
    if group is not None:
        return int(group.get_rank())
    return _env_int("RANK", "SLURM_PROCID", default=0)


def get_world_size() -> int:
    """Number of processes in the job (1 outside a distributed job)."""
    group = _process_group()
    if group is not None:
        return int(group.get_world_size())
    return _env_int("WORLD_SIZE", "SLURM_NTASKS", default=1)


def get_local_rank() -> int:
    """Rank of this process on its node, which is usually the index of its GPU (0 by default)."""
    return _env_int("LOCAL_RANK", "SLURM_LOCALID", default=0)


def get_node_rank() -> int:
    """Index of this node in the job (0 by default)."""
    return _env_int("NODE_RANK", "GROUP_RANK", "SLURM_NODEID", default=0)


def get_num_nodes() -> int:
    """Number of nodes in the job (1 by default)."""
    return _env_int("NUM_NODES", "SLURM_NNODES", "SLURM_JOB_NUM_NODES", default=1)


def is_distributed() -> bool:
    """True when the job has more than one process."""
    return get_world_size() > 1


def is_main_process() -> bool:
    """True on global rank 0, the process that should write the run."""
    return get_rank() == 0


is_rank_zero = is_main_process


def barrier() -> None:
    """Waits for every rank when a process group is initialised; returns at once otherwise."""
    group = _process_group()
    if group is not None:
        group.barrier()


def get_distributed_info() -> dict[str, int | str]:
    """The job's layout, as logged in a run's config: ranks, sizes, and the backend, SLURM job
    id and master address when there are ones."""
    info: dict[str, int | str] = {
        "rank": get_rank(),
        "local_rank": get_local_rank(),
        "world_size": get_world_size(),
        "node_rank": get_node_rank(),
        "num_nodes": get_num_nodes(),
    }
    group = _process_group()
    if group is not None:
        info["backend"] = str(group.get_backend())
    for key, variable in (("slurm_job_id", "SLURM_JOB_ID"), ("master_addr", "MASTER_ADDR")):
        value = os.environ.get(variable)
        if value:
            info[key] = value
    return info
