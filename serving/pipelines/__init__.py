"""Orchestrator pipelines: diffusers-style numbered stages calling components through a caller."""
