"""Backstop: one failure-handling policy, the same decision in every language.

>>> from backstop import default_policy, Failure
>>> default_policy().classify(Failure(http_status=503)).failure_class
<FailureClass.TRANSIENT: 'transient'>

The policy engine is Backstop's WebAssembly core, run by wasmtime.
"""

from ._exceptions import exception_chain, exception_type_name, failure_from_exception
from ._model import (Classification, EngineError, ErrorCode, Failure, FailureClass, PolicyError,
                     PolicyLoadError)
from ._policy import Policy, PolicyFormat, default_policy, load_policy, load_policy_file

__all__ = [
    "Classification",
    "EngineError",
    "ErrorCode",
    "Failure",
    "FailureClass",
    "Policy",
    "PolicyError",
    "PolicyFormat",
    "PolicyLoadError",
    "default_policy",
    "exception_chain",
    "exception_type_name",
    "failure_from_exception",
    "load_policy",
    "load_policy_file",
]
