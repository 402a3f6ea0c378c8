"""The orchestrators' own copy of diffusers' latent sampling stays equal to diffusers' class."""

from __future__ import annotations

import torch
from diffusers.models.autoencoders.vae import DiagonalGaussianDistribution

from serving.pipelines.diffusion import sample_latent_distribution


def test_latent_sample_equals_diffusers_diagonal_gaussian() -> None:
    # Wide log-variances exercise diffusers' clamp to [-30, 20] on both ends.
    parameters = torch.randn(2, 8, 5, 7, generator=torch.Generator().manual_seed(1)) * 25
    ours = sample_latent_distribution(parameters, torch.Generator().manual_seed(42))
    theirs = DiagonalGaussianDistribution(parameters).sample(torch.Generator().manual_seed(42))
    assert ours.shape == (2, 4, 5, 7)
    assert torch.equal(ours, theirs)
