"""SycophancyEval data: the reader, the bundled sample, and an optional hub download."""
from bon.data.sycophancy_eval import (  # noqa: F401
    ANSWER_TEMPLATES, FEEDBACK_FRAMINGS, KINDS, DataError, Dataset, Example, bundled_dir, load,
)
