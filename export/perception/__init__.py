"""Perception networks: presets, from_pretrained loading and repository writing (issue 8)."""
