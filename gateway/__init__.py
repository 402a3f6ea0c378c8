"""REST gateway in front of the Triton pipelines (FastAPI; never imports torch)."""
