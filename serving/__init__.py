"""Running the Triton model repository: server process, component runners, orchestrator pipelines."""
