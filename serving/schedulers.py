"""Scheduler names of the public contract mapped to diffusers scheduler classes.

Schedulers hold per-run state (timesteps, multistep history), so every request builds a fresh one.
"""

from __future__ import annotations

from typing import Any

from diffusers import (
    DDIMScheduler,
    DPMSolverMultistepScheduler,
    EulerAncestralDiscreteScheduler,
    EulerDiscreteScheduler,
    PNDMScheduler,
    UniPCMultistepScheduler,
)
from diffusers.schedulers.scheduling_utils import SchedulerMixin

# name -> (class, overrides applied on top of the checkpoint's scheduler config)
SCHEDULERS: dict[str, tuple[type[SchedulerMixin], dict[str, Any]]] = {
    "ddim": (DDIMScheduler, {}),
    "euler": (EulerDiscreteScheduler, {}),
    "euler_ancestral": (EulerAncestralDiscreteScheduler, {}),
    "dpmpp_2m": (DPMSolverMultistepScheduler, {"algorithm_type": "dpmsolver++", "solver_order": 2}),
    "pndm": (PNDMScheduler, {"skip_prk_steps": True}),
    "unipc": (UniPCMultistepScheduler, {}),
}


def create_scheduler(name: str, base_config: dict[str, Any]) -> SchedulerMixin:
    if name not in SCHEDULERS:
        raise KeyError(name)
    cls, overrides = SCHEDULERS[name]
    return cls.from_config({**base_config, **overrides})
