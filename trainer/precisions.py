"""The dtype policies `--precision` can name, kept free of TensorFlow so configs can offer them as choices.

`trainer.distribute.dtype_policy` turns one of them into the policy this machine trains under.
"""

from __future__ import annotations

GPU_POLICY, BFLOAT16_POLICY, FLOAT32_POLICY = "mixed_float16", "mixed_bfloat16", "float32"
PRECISIONS = ("auto", FLOAT32_POLICY, GPU_POLICY, BFLOAT16_POLICY)
