"""A stand-in for the one name of PyTorch cuda_oom.py uses (PyTorch 2.x
defines OutOfMemoryError as a RuntimeError subclass in module `torch`)."""


class OutOfMemoryError(RuntimeError):
    pass
