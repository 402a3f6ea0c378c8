# The REST gateway alone: FastAPI + tritonclient, no torch (a few hundred MB, no GPU).
FROM python:3.11-slim

WORKDIR /opt/imagery
COPY constraints.txt pyproject.toml ./
RUN pip install --no-cache-dir -c constraints.txt \
      fastapi uvicorn pydantic pydantic-settings prometheus-client httpx "tritonclient[grpc]" "numpy<2" pillow python-multipart dnspython
COPY gateway ./gateway
COPY clients ./clients
COPY serving ./serving
RUN pip install --no-cache-dir --no-deps .

ENV GATEWAY_IMAGE_DIR=/data/images
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)"
CMD ["python", "-m", "gateway", "--host", "0.0.0.0", "--port", "8080"]
