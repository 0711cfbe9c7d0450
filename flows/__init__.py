"""Prefect flows: orchestration only (schedule, retries, logging, artifacts) over ``newsmon.pipeline``."""
