"""Builds diffusion components from a checkpoint, exports them and writes the Triton model repository."""
