"""Tiny real-family models (scripts/tiny_models.py) through bon's vLLM sampler, HF classifier and vLLM classifier,
with bare vLLM side by side. Prints one JSON line of throughput figures; run by scripts/gpu_smoke.sh.

    python scripts/tiny_smoke.py WORK_DIR [MERGE_JSON]

MERGE_JSON: a JSON file whose object the line extends (gpu_smoke.sh's HF job figures). Without vLLM importable only
the HF classifier runs. Figures are wall times of one pass after a warm-up pass; the tiny models make them mostly
overhead (scheduling, tokenization, Python), which is what bon adds over bare vLLM.
"""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
M, MAX_NEW, N_PROMPTS = 8, 32, 16


def timed(fn):
    fn()  # warm-up (compilation, caches)
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def main(argv: list[str]) -> int:
    import torch

    from bon.chat import Prompt, render_generation_prompt
    from bon.scoring import make_pm

    work = Path(argv[0])
    merged = json.loads(Path(argv[1]).read_text()) if len(argv) > 1 and Path(argv[1]).exists() else {}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, str(HERE / "tiny_models.py"), str(work / "tiny")], check=True,
                   capture_output=True)
    tiny = work / "tiny"
    gpu = torch.cuda.is_available()
    prompts = [Prompt.of([{"role": "user", "content": f"Question {i}: comment on argument number {i}."}], key=str(i))
               for i in range(N_PROMPTS)]
    res: dict = {"device": torch.cuda.get_device_name(0) if gpu else "cpu", "m": M, "prompts": N_PROMPTS,
                 "max_new_tokens": MAX_NEW, "build_s": round(time.perf_counter() - t0, 1)}
    responses = [f"Reply {j}: " + "it is a fair point " * (1 + j % 5) for j in range(M)]
    convs = [p.conversation for p in prompts for _ in responses]
    resp = [r for _ in prompts for r in responses]

    hf = make_pm("classifier", model=str(tiny / "llama-rm"), dtype="float32")
    hf_scores, s = timed(lambda: hf.score(convs, [""] * len(resp), resp, progress=False))
    res["hf_classifier_seq_per_s"] = round(len(resp) / s, 1)
    del hf
    if importlib.util.find_spec("vllm") is None:
        res["vllm"] = "not importable"
    else:
        from vllm import LLM, SamplingParams

        from bon.sampling.vllm import VLLMSampler

        for family in ("llama", "qwen2"):
            smp = VLLMSampler(str(tiny / family), max_new_tokens=MAX_NEW, max_model_len=1024)
            comps, s = timed(lambda: smp.sample(prompts, m=M, seed=0, progress=False))
            toks = sum(c.n_tokens for cs in comps for c in cs)
            res[f"bon_vllm_{family}_tok_per_s"] = round(toks / s, 1)
            res[f"bon_vllm_{family}_stop_frac"] = round(
                sum(c.finish_reason == "stop" for cs in comps for c in cs) / (M * N_PROMPTS), 3)
            llm = smp.engine(0)  # bare vLLM on the same engine: same prompts, n=M, one generate call
            texts = [render_generation_prompt(smp.tokenizer, p.conversation) for p in prompts]
            ids = [{"prompt_token_ids": smp.tokenizer(t, add_special_tokens=False).input_ids} for t in texts]
            params = SamplingParams(n=M, temperature=1.0, max_tokens=MAX_NEW, seed=0,
                                    stop_token_ids=smp.tokenizer.convert_tokens_to_ids(
                                        ["<|eot_id|>" if family == "llama" else "<|im_end|>"]))
            outs, s = timed(lambda: llm.generate(ids, params, use_tqdm=False))
            toks = sum(len(c.token_ids) for o in outs for c in o.outputs)
            res[f"bare_vllm_{family}_tok_per_s"] = round(toks / s, 1)
            smp.close()
        vc = make_pm("classifier_vllm", model=str(tiny / "llama-rm"), max_length=1024,
                     gpu_memory_utilization=0.3)
        v_scores, s = timed(lambda: vc.score(convs, [""] * len(resp), resp, progress=False))
        res["vllm_classifier_seq_per_s"] = round(len(resp) / s, 1)
        llm = vc.llm
        rendered = [vc.tokenizer.apply_chat_template(list(c) + [{"role": "assistant", "content": r}], tokenize=False)
                    for c, r in zip(convs, resp)]
        ids = [{"prompt_token_ids": vc.tokenizer(t, add_special_tokens=False).input_ids} for t in rendered]
        _, s = timed(lambda: llm.classify(ids, use_tqdm=False))
        res["bare_vllm_classify_seq_per_s"] = round(len(resp) / s, 1)
        res["hf_vs_vllm_classifier_max_abs_diff"] = float(abs(hf_scores - v_scores).max())
        vc.close()
    res["tiny_total_s"] = round(time.perf_counter() - t0, 1)
    merged["tiny_families"] = res
    print(json.dumps(merged))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
