# NVIDIA's Triton container (24.10 = Triton 2.51, the version this project tests against) plus the
# Python packages the repository's Python-backend models import: the pipelines (serving/), torch,
# diffusers, transformers and onnxruntime. The same image runs the one-shot export.
ARG TRITON_IMAGE=nvcr.io/nvidia/tritonserver:24.10-py3
FROM ${TRITON_IMAGE}

WORKDIR /opt/imagery
COPY constraints.txt pyproject.toml ./
# torch: PyPI's default Linux wheel is the CUDA build (constraints.txt pins the local CPU build, so it
# is left out here); the rest at the project's pinned versions.
RUN grep -v -E '^(torch|nvidia-pytriton|onnxruntime)==' constraints.txt > /tmp/constraints-gpu.txt \
 && pip install --no-cache-dir -c /tmp/constraints-gpu.txt \
      torch diffusers transformers onnx onnxscript onnxruntime-gpu "numpy<2" pillow safetensors \
 && pip install --no-cache-dir --no-deps "open_clip_torch==3.3.0"  # the CLIP BPE vocabulary (export/tokenizer.py)

COPY export ./export
COPY serving ./serving
COPY clients ./clients
COPY model_repository ./model_repository
# The model repository's model.py files import `serving`; the backend stub runs Python in isolated
# mode (PYTHONPATH is ignored), so the packages go into site-packages. The container's Python is 3.10.
RUN pip install --no-cache-dir --no-deps --ignore-requires-python .

ENV OMP_NUM_THREADS=1
EXPOSE 8000 8001 8002
CMD ["tritonserver", "--model-repository=/models", "--http-port=8000", "--grpc-port=8001", "--metrics-port=8002"]
