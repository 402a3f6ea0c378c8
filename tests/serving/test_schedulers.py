"""Scheduler names resolve to diffusers classes, imported on first use, with the contract's overrides applied."""

from __future__ import annotations

import pytest
from diffusers.schedulers.scheduling_utils import SchedulerMixin

from serving.schedulers import SCHEDULERS, create_scheduler

BASE_CONFIG = {"num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear"}


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_every_name_builds_its_scheduler_with_the_overrides(name: str) -> None:
    scheduler = create_scheduler(name, BASE_CONFIG)
    spec = SCHEDULERS[name]
    assert isinstance(scheduler, SchedulerMixin) and type(scheduler).__name__ == spec.class_name
    for key, value in {**BASE_CONFIG, **spec.overrides}.items():
        assert scheduler.config[key] == value


def test_unknown_name_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        create_scheduler("lms", BASE_CONFIG)
