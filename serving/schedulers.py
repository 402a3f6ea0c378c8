"""Scheduler names of the public contract mapped to diffusers scheduler classes.

Schedulers hold per-run state (timesteps, multistep history), so every request builds a fresh one.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # importing diffusers costs every orchestrator process ~3 s of CPU; only the scheduler needs it
    from diffusers.schedulers.scheduling_utils import SchedulerMixin


@dataclass(frozen=True)
class SchedulerSpec:
    """A diffusers scheduler class by module and name, and the overrides applied on top of the checkpoint's config.

    The class is imported on first use: every orchestrator process imports this module at server start, and
    some scheduler modules are costly (DPMSolverMultistepScheduler's imports scipy.stats, ~1 s of CPU).
    """

    module: str
    class_name: str
    overrides: dict[str, Any] = field(default_factory=dict)

    def scheduler_class(self) -> type[SchedulerMixin]:
        return getattr(importlib.import_module(f"diffusers.schedulers.{self.module}"), self.class_name)


SCHEDULERS: dict[str, SchedulerSpec] = {
    "ddim": SchedulerSpec("scheduling_ddim", "DDIMScheduler"),
    "euler": SchedulerSpec("scheduling_euler_discrete", "EulerDiscreteScheduler"),
    "euler_ancestral": SchedulerSpec("scheduling_euler_ancestral_discrete", "EulerAncestralDiscreteScheduler"),
    "dpmpp_2m": SchedulerSpec("scheduling_dpmsolver_multistep", "DPMSolverMultistepScheduler",
                              {"algorithm_type": "dpmsolver++", "solver_order": 2}),
    "pndm": SchedulerSpec("scheduling_pndm", "PNDMScheduler", {"skip_prk_steps": True}),
    "unipc": SchedulerSpec("scheduling_unipc_multistep", "UniPCMultistepScheduler"),
}


def create_scheduler(name: str, base_config: dict[str, Any]) -> SchedulerMixin:
    if name not in SCHEDULERS:
        raise KeyError(name)
    spec = SCHEDULERS[name]
    return spec.scheduler_class().from_config({**base_config, **spec.overrides})
