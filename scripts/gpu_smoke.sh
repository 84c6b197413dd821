#!/usr/bin/env bash
# GPU smoke test of the whole job on the HF backend, for an H100/H200 with PyTorch and transformers but no vllm and
# no network. It builds two random-weight models (nothing is downloaded):
#   - a policy with a Llama-3.2-1B-shaped config (LlamaForCausalLM, bf16);
#   - a classifier PM with a Qwen3-0.6B-shaped config (Qwen3ForSequenceClassification, num_labels=1, bf16);
# both with the bundled SmolLM2 tokenizer (it has a chat template; the vocabulary is sized to it), then runs a 2-job
# multirun (seed=0,1) in ONE process (Hydra's basic launcher), so job 2 only starts if job 1 freed the GPU.
# Then the tiny real-family models (scripts/tiny_smoke.py) through vLLM (when importable) and both classifier PMs.
# Writes a small JSON of timings, peak GPU memory and throughput (bon and bare vLLM side by side). Budget: 8 minutes.
#
#   scripts/gpu_smoke.sh [--out FILE] [--tokenizer DIR] [--wheels DIR] [--cpu-tiny]
#
#   --tokenizer DIR  a folder with the SmolLM2 tokenizer files (default: the converted bundled model,
#                    bon.models.resolve("bundled:smollm2-135m-instruct"), i.e. ~/.cache/bon/models/...). To bring it
#                    to an offline machine, copy tokenizer.json, tokenizer_config.json and special_tokens_map.json of
#                    that folder (3 MB).
#   --wheels DIR     install bon's missing small dependencies offline first. Make the folder where pip works:
#                      pip download -d wheels --only-binary=:all: --python-version 3.11 \
#                        -r requirements.txt --no-deps
#                    (transformers, accelerate and torch are on the GPU image already; the rest are pure-Python or
#                    small wheels: hydra-core, omegaconf, antlr4-python3-runtime, hydra-submitit-launcher, submitit,
#                    wandb, vaderSentiment, pyarrow, pandas, matplotlib, einops, gguf, tqdm, and their deps).
#   --cpu-tiny       tiny models (2 layers, hidden 128) on the CPU: proves the script runs where no GPU is at hand.
#   --out FILE       the JSON (default: gpu_smoke.json, or $OUT/gpu_smoke.json when $OUT is set).
#
# Python: $PYTHON if set (PYTHON=/path/to/venv/bin/python scripts/gpu_smoke.sh), else the project's venv .venv/bin/python
# beside scripts/ (what `make` builds), else `python` from PATH (then activate a venv with torch first).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -n "${PYTHON:-}" ]]; then PY=$PYTHON
elif [[ -x .venv/bin/python ]]; then PY=$PWD/.venv/bin/python
else PY=python
fi
"$PY" -c "import torch" 2>/dev/null || { echo "error: $PY cannot import torch; set PYTHON=/path/to/venv/bin/python" \
  "or build the project's venv (.venv) first" >&2; exit 2; }
OUTFILE=${OUT:+$OUT/gpu_smoke.json}
OUTFILE=${OUTFILE:-gpu_smoke.json}
TOKENIZER=""
WHEELS=""
TINY=0
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUTFILE=$2; shift 2 ;;
    --tokenizer) TOKENIZER=$2; shift 2 ;;
    --wheels) WHEELS=$2; shift 2 ;;
    --cpu-tiny) TINY=1; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
if [ -n "$WHEELS" ]; then
  "$PY" -m pip install -q --no-index --find-links "$WHEELS" -r requirements.txt
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 WANDB_MODE=disabled
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# Part 1 (HF job, <= 5.5 min), then part 2 (scripts/tiny_smoke.py, <= 2 min): tiny Llama-3/Qwen2/Llama-RM through
# bon's vLLM sampler and both classifier PMs, bare vLLM side by side; its last line is the one JSON of both parts.
rc=0
timeout 330 "$PY" - "$WORK" "$OUTFILE" "$TOKENIZER" "$TINY" <<'PY' || rc=$?
import json
import sys
import time
from pathlib import Path

import torch
from transformers import (AutoTokenizer, LlamaConfig, LlamaForCausalLM, Qwen3Config,
                          Qwen3ForSequenceClassification)

work, out_file, tok_dir, tiny = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4] == "1"
t_start = time.time()
gpu = torch.cuda.is_available() and not tiny
if not gpu and not tiny:
    sys.exit("no GPU visible; use --cpu-tiny to run the tiny CPU version")
if not tok_dir:
    from bon.models import resolve
    tok_dir = resolve("bundled:smollm2-135m-instruct")
tok = AutoTokenizer.from_pretrained(tok_dir)
assert tok.chat_template, f"{tok_dir}: the tokenizer has no chat template"
pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
dtype = torch.bfloat16 if gpu else torch.float32
torch.manual_seed(0)

# Llama-3.2-1B's shape (hidden 2048, 16 layers, 32 heads / 8 KV heads of 64, MLP 8192, tied embeddings); the
# vocabulary is the tokenizer's. --cpu-tiny keeps head_dim 64 and shrinks the rest.
big = dict(hidden_size=2048, num_hidden_layers=16, num_attention_heads=32, num_key_value_heads=8, head_dim=64,
           intermediate_size=8192)
small = dict(hidden_size=128, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1, head_dim=64,
             intermediate_size=256)
policy_cfg = LlamaConfig(vocab_size=len(tok), max_position_embeddings=8192, rope_theta=500000.0,
                         tie_word_embeddings=True, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                         pad_token_id=pad, **(small if tiny else big))
# Qwen3-0.6B's shape (hidden 1024, 28 layers, 16 heads / 8 KV heads of 128, MLP 3072), one reward logit.
qbig = dict(hidden_size=1024, num_hidden_layers=28, num_attention_heads=16, num_key_value_heads=8, head_dim=128,
            intermediate_size=3072)
pm_cfg = Qwen3Config(vocab_size=len(tok), max_position_embeddings=8192, num_labels=1, pad_token_id=pad,
                     **(small if tiny else qbig))
t = time.time()
for name, cls, cfg in [("policy", LlamaForCausalLM, policy_cfg), ("pm", Qwen3ForSequenceClassification, pm_cfg)]:
    model = cls(cfg).to(dtype)
    with torch.no_grad():  # random init at std 0.02 gives near-uniform policies; a wider one gives some structure
        for p in model.parameters():
            if p.dim() == 2:
                p.normal_(0, 0.05)
    model.save_pretrained(work / name)
    tok.save_pretrained(work / name)
    del model
build_s = time.time() - t


class PeakMem:
    """Hydra callback: per job, wall time, peak GPU memory, and what is still allocated when the job ends."""
    jobs = []

    def on_job_start(self, config, **kw):
        self.t0 = time.time()
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()

    def on_job_end(self, config, job_return, **kw):
        row = {"seed": int(config.seed), "wall_s": round(time.time() - self.t0, 1),
               "status": str(job_return.status.name)}
        if torch.cuda.is_initialized():
            row["peak_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
        PeakMem.jobs.append(row)

    def on_multirun_end(self, config, **kw):
        if torch.cuda.is_initialized():  # after run() released everything
            PeakMem.left_gib = round(torch.cuda.memory_allocated() / 2**30, 3)


overrides = [
    "experiment=demo", "sampler=hf", f"policy.model={work / 'policy'}", "pm=classifier", f"pm.model={work / 'pm'}",
    f"pm.dtype={'bfloat16' if gpu else 'float32'}", "judge.answer_grading=string",
    "metrics=[reward,answer_sycophancy,feedback_sycophancy,mimicry_sycophancy]",
    f"m={8 if gpu else 2}", f"ns={[1, 2, 4, 8] if gpu else [1, 2]}".replace(" ", ""),
    f"dataset.max_items={4 if gpu else 1}", f"sampler.max_new_tokens={64 if gpu else 4}", "n_boot=200",
    "wandb.mode=disabled", "progress=false", f"store={work / 'store'}", f"hydra.sweep.dir={work / 'sweep'}",
    "+hydra.callbacks.peak._target_=__main__.PeakMem", "seed=0,1",
]
sys.argv = ["bon.run", "-m", *overrides]
from bon.run import main  # noqa: E402

t = time.time()
try:
    main()
except SystemExit as e:
    if e.code not in (0, None):
        raise
multirun_s = time.time() - t
ok = len(PeakMem.jobs) == 2 and all(j["status"] == "COMPLETED" for j in PeakMem.jobs) and all(
    (work / "sweep" / str(i) / "curves.csv").exists() for i in (0, 1))
result = {
    "ok": ok, "device": torch.cuda.get_device_name(0) if gpu else "cpu (--cpu-tiny)",
    "torch": torch.__version__, "build_models_s": round(build_s, 1), "multirun_s": round(multirun_s, 1),
    "total_s": round(time.time() - t_start, 1), "jobs": PeakMem.jobs,
    "gpu_left_allocated_gib": getattr(PeakMem, "left_gib", None),
    "stage_timings_s": [json.loads((work / "sweep" / str(i) / "run.json").read_text())["timings_s"]
                        for i in (0, 1) if (work / "sweep" / str(i) / "run.json").exists()],
}
out_file.parent.mkdir(parents=True, exist_ok=True)
out_file.write_text(json.dumps(result, indent=2) + "\n")
print(json.dumps(result))
sys.exit(0 if ok else 1)
PY
timeout 140 "$PY" scripts/tiny_smoke.py "$WORK" "$OUTFILE" > "$WORK/tiny.json" || rc=$?
if [ -s "$WORK/tiny.json" ]; then
  tail -n 1 "$WORK/tiny.json" > "$OUTFILE"
  cat "$OUTFILE"
fi
exit $rc
