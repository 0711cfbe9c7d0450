"""Downstream Kafka consumers of newsmon's alert topics, all on one shared consumer loop (``loop.py``)."""
