"""newsmon's log policy: INFO for a cycle's summary and each failing feed, WARNING for what needs a person, ERROR
only for what failed. The libraries underneath stay quiet unless asked (``newsmon --verbose``, or
``NEWSMON_VERBOSE=1``, which the processes a command starts inherit, Prefect's flow-run processes included):

- kafka-python logs an ERROR for every refused connection it will retry, 16 of them while a local broker starts;
  newsmon says itself when Kafka did not acknowledge (the outbox keeps the alerts);
- transformers warns of its own deprecations (``torch_dtype``), torch's ONNX tracer of constants in a graph it
  exports once; neither is the user's to act on.
"""

from __future__ import annotations

import logging
import os
import warnings

__all__ = ["LIBRARIES", "apply_log_policy", "verbose"]

LIBRARIES = ("kafka", "transformers", "sentence_transformers", "torch", "onnxruntime", "huggingface_hub", "filelock")


def verbose() -> bool:
    """Whether the libraries' own logs were asked for."""
    return os.environ.get("NEWSMON_VERBOSE", "").lower() in {"1", "true", "yes"}


def apply_log_policy(loud: bool = False) -> None:
    """Quiet the libraries' loggers and warnings, unless ``loud`` (which the processes started from here then
    inherit) or ``NEWSMON_VERBOSE`` says otherwise. Idempotent: every entry point calls it."""
    if loud:
        os.environ["NEWSMON_VERBOSE"] = "1"
    if verbose():
        return
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")  # read when transformers is first imported
    for name in LIBRARIES:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    warnings.filterwarnings("ignore", module=r"(transformers|sentence_transformers|torch)(\.|$)")
