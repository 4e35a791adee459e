"""A training step that runs out of GPU memory, with PyTorch's own message
(c10/cuda/CUDACachingAllocator.cpp). `torch` here is a local stand-in module
(PyTorch is not installed), so the traceback names `torch.OutOfMemoryError`
as PyTorch 2.x prints it; `--legacy` raises the RuntimeError of PyTorch 1.x.

usage: cuda_oom.py [--legacy]
"""

import sys

import torch  # the stand-in next to this script


def forward(batch_size: int) -> None:
    if "--legacy" in sys.argv:
        raise RuntimeError(
            "CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 15.78 GiB total capacity; "
            "13.21 GiB already allocated; 1.05 GiB free; 13.50 GiB reserved in total by PyTorch) "
            "If reserved memory is >> allocated memory try setting max_split_size_mb to avoid "
            "fragmentation.  See documentation for Memory Management and PYTORCH_CUDA_ALLOC_CONF"
        )
    raise torch.OutOfMemoryError(
        "CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 79.15 GiB "
        "of which 1.03 GiB is free. Including non-PyTorch memory, this process has 78.11 GiB "
        "memory in use. Of the allocated memory 75.02 GiB is allocated by PyTorch, and 1.32 GiB "
        "is reserved by PyTorch but unallocated. If reserved but unallocated memory is large try "
        "setting PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True to avoid fragmentation.  See "
        "documentation for Memory Management  "
        "(https://pytorch.org/docs/stable/notes/cuda.html#environment-variables)"
    )


def train() -> None:
    for step in range(3):
        print(f"step {step}: loss 2.31", flush=True)
    forward(batch_size=512)


train()
