"""Clients for the served pipelines: Triton (gRPC/HTTP) and, later, the REST gateway."""
