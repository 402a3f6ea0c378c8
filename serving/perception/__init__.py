"""Perception orchestrators: CLIP score/zero-shot, depth, segmentation, foreground masks (issue 8)."""
