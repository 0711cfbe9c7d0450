"""newsmon's log policy: INFO for a cycle's summary and each failing feed, WARNING for what needs a person, ERROR
only for what failed. The libraries underneath stay quiet unless asked (``newsmon --verbose``, or
``NEWSMON_VERBOSE=1``, which the processes a command starts inherit, Prefect's flow-run processes included):

- kafka-python logs an ERROR for every refused connection it will retry, 16 of them while a local broker starts;
  newsmon says itself when Kafka did not acknowledge (the outbox keeps the alerts);
- transformers warns of its own deprecations (``torch_dtype``), torch's ONNX tracer of constants in a graph it
  exports once; neither is the user's to act on;
- Prefect logs every exception that ends a flow or task run as an ERROR with its traceback. newsmon's own
  errors (a ``NewsmonError``: Kafka did not acknowledge, a config file is wrong) already say what happened and
  what to do, so Prefect's line about them is kept as a WARNING without the traceback.
"""

from __future__ import annotations

import logging
import os
import warnings

__all__ = ["LIBRARIES", "OWN", "ExplainedFailures", "apply_log_policy", "verbose"]

PREFECT_RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs")
OWN = ("newsmon", "models", "flows", "consumers")  # newsmon's own loggers: their INFO lines are for the user
LIBRARIES = ("kafka", "transformers", "sentence_transformers", "torch", "onnxruntime", "huggingface_hub", "filelock")


def verbose() -> bool:
    """Whether the libraries' own logs were asked for."""
    return os.environ.get("NEWSMON_VERBOSE", "").lower() in {"1", "true", "yes"}


class _Console(logging.StreamHandler):  # type: ignore[type-arg]
    """newsmon's own lines on stderr, in the same shape as a flow run's (time | level | source - message)."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(
            logging.Formatter("%(asctime)s.%(msecs)03d | %(levelname)-7s | %(name)s - %(message)s", "%H:%M:%S")
        )


class ExplainedFailures(logging.Filter):
    """Turns a log record about one of newsmon's own errors into a WARNING without a traceback: the error's
    message is the explanation, the stack is newsmon's and Prefect's internals."""

    def filter(self, record: logging.LogRecord) -> bool:
        from newsmon.errors import NewsmonError

        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, NewsmonError) and record.levelno > logging.WARNING:
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def apply_log_policy(loud: bool = False) -> None:
    """Quiet the libraries' loggers and warnings, unless ``loud`` (which the processes started from here then
    inherit) or ``NEWSMON_VERBOSE`` says otherwise. Idempotent: every entry point calls it."""
    if loud:
        os.environ["NEWSMON_VERBOSE"] = "1"
    for name in OWN:  # INFO by default: the one-time model export says it is working, a seed's notes are seen
        own = logging.getLogger(name)
        if not any(isinstance(h, _Console) for h in own.handlers):
            own.addHandler(_Console())
            own.setLevel(logging.INFO)
            own.propagate = False  # printed once, here; in a flow run Prefect's API handler also gets them
    if verbose():
        return
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")  # read when transformers is first imported
    for name in LIBRARIES:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    for name in PREFECT_RUN_LOGGERS:
        run_logger = logging.getLogger(name)
        if not any(isinstance(f, ExplainedFailures) for f in run_logger.filters):
            run_logger.addFilter(ExplainedFailures())
    warnings.filterwarnings("ignore", module=r"(transformers|sentence_transformers|torch)(\.|$)")
