"""Settings: one object, environment beats the config file, errors name the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsmon.config import FeedConfig, load_settings
from newsmon.errors import ConfigError


def test_config_file_feeds_and_env_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("kafka_bootstrap: file:9092\nfeeds:\n  - url: https://example.com/rss\n    name: Ex Ample\n")
    assert load_settings(config).kafka_bootstrap == "file:9092"
    monkeypatch.setenv("NEWSMON_KAFKA_BOOTSTRAP", "env:9092")
    settings = load_settings(config)
    assert settings.kafka_bootstrap == "env:9092"
    assert settings.feeds[0].id == "ex-ample"


def test_bad_values_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="fetch_timeout_seconds"):
        load_settings(fetch_timeout_seconds=-1)
    bad = tmp_path / "bad.yaml"
    bad.write_text("- just a list\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_settings(bad)
    with pytest.raises(ConfigError, match="http"):
        load_settings(feeds=[{"url": "file:///etc/passwd"}])


def test_feed_ids_are_stable_slugs() -> None:
    assert FeedConfig(url="https://a.example/rss", name="Yonhap (English)").id == "yonhap-english"
    assert FeedConfig(url="https://a.example/rss", name="x", id="custom").id == "custom"


def test_the_test_session_keeps_prefect_out_of_the_users_home() -> None:
    """Prefect snapshots its settings at import, so the tests' isolation must be in place before that."""
    from prefect.settings import get_current_settings

    from .conftest import PREFECT_HOME

    settings = get_current_settings()
    assert settings.home == PREFECT_HOME
    assert settings.server.ephemeral.startup_timeout_seconds == 120
