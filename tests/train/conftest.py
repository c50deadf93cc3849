"""Generator tests run torch on one thread.

The tiny models' ops are far too small to gain from intra-op threads, and on a loaded
machine (shared CI runners, parallel workers) OpenMP threads spin-waiting on each other
made one tiny UNet call take seconds instead of tens of milliseconds.
"""

import torch

torch.set_num_threads(1)
