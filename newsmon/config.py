"""One typed settings object for the whole pipeline.

Values come from, in rising priority: the defaults below, an optional YAML config file (``--config``), and
environment variables named ``NEWSMON_<FIELD>`` (e.g. ``NEWSMON_KAFKA_BOOTSTRAP``). Settings are built once
by the CLI (or a flow's entry point) and passed down; no other module reads the environment.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from newsmon.errors import ConfigError, plain_validation
from newsmon.files import load_yaml
from newsmon.netguard import NetworkPolicy

__all__ = ["PROJECT_ROOT", "FeedConfig", "Settings", "load_settings"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _xdg(var: str, fallback: str) -> Path:
    """The XDG base directory ``var`` for newsmon; the only place that looks at the environment for paths."""
    base = os.environ.get(var) or str(Path.home() / fallback)
    return Path(base) / "newsmon"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "feed"


class FeedConfig(BaseModel):
    """One feed to poll. ``id`` is stable across URL changes and keys the feed's HTTP state."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str
    name: str = ""
    id: str = ""
    interval_seconds: int = Field(default=900, ge=10)
    tags: tuple[str, ...] = ()
    enabled: bool = True

    @model_validator(mode="after")
    def _fill_defaults(self) -> FeedConfig:
        if not self.url.startswith(("http://", "https://")):
            raise ValueError(f"feed url must be http:// or https://, got {self.url!r}")
        name = self.name or self.url
        object.__setattr__(self, "name", name)
        if not self.id:
            object.__setattr__(self, "id", _slug(name))
        return self


class Settings(BaseSettings):
    """Everything a newsmon process can be told; see the README's configuration table."""

    model_config = SettingsConfigDict(env_prefix="NEWSMON_", extra="forbid", frozen=True)

    data_dir: Path = Field(default_factory=lambda: _xdg("XDG_DATA_HOME", ".local/share"))
    cache_dir: Path = Field(default_factory=lambda: _xdg("XDG_CACHE_HOME", ".cache"))
    seeds_dir: Path = PROJECT_ROOT / "seeds"
    feeds: tuple[FeedConfig, ...] = ()
    feeds_file: Path | None = None  # a YAML list of feeds (newsmon feeds import writes it); relative to --config

    # State: empty keeps it in <data_dir>/state.sqlite3 (one machine); postgresql://user:pass@host/db shares it
    # between any number of workers
    state_url: str = ""
    worker_name: str = ""  # how this worker signs its leases; default <host>:<pid>
    lease_seconds: float = Field(default=300.0, gt=0)  # a dead worker's feeds and stories are free again after it
    lease_batch: int = Field(default=500, ge=1)  # feeds leased, fetched and recorded at a time: how workers share

    # Kafka: when kafka_bootstrap is empty, a local Apache Kafka is started on demand.
    kafka_bootstrap: str = ""
    kafka_local_port: int = Field(default=9092, ge=1024, le=65533)
    kafka_version: str = "4.1.1"
    java_home: Path | None = None
    topic_matches: str = "newsmon.matches"
    topic_stories: str = ""
    topic_dlq: str = "newsmon.dlq"
    topic_partitions: int = Field(default=3, ge=1)
    topic_replication: int = Field(default=1, ge=1)
    topic_min_insync_replicas: int = Field(default=1, ge=1)  # acks=all waits for this many replicas
    topic_per_seed_topic: bool = False  # also route each match to <topic_matches>.<seed topic id>
    delivery_timeout_seconds: float = Field(default=30.0, gt=0)

    # Fetching
    user_agent: str = "newsmon/0.1 (+https://github.com/newsmon/newsmon; news monitoring)"
    fetch_timeout_seconds: float = Field(default=20.0, gt=0)
    fetch_max_bytes: int = Field(default=15 * 1024 * 1024, gt=0)
    fetch_max_redirects: int = Field(default=10, ge=0)
    fetch_concurrency: int = Field(default=16, ge=1)
    fetch_per_host_concurrency: int = Field(default=4, ge=1)
    fetch_allow_networks: Annotated[tuple[str, ...], NoDecode] = ()  # CIDRs the SSRF guard lets through
    fetch_ssrf_guard: bool = True
    parse_timeout_seconds: float = Field(default=10.0, gt=0)

    # Embedding and matching
    # onnx-int8: the fastest backend whose alert decisions agree with torch fp32 on >= 99 % of both dev sets
    # (scripts/bench_encoders.py measures it), with the fp32 graph deciding its close calls again: stories some
    # seed's relevance puts within model_confirm_band of a threshold (0 turns it off)
    model_backend: Literal["torch", "onnx", "onnx-int8"] = "onnx-int8"
    model_confirm_band: float = Field(default=0.05, ge=0, lt=1)
    models_dir: Path | None = None  # where ONNX exports are kept; default <data_dir>/models
    embed_batch_size: int | None = Field(default=None, ge=1)  # texts per batch; default the backend's (64 / 8)
    near_duplicate_cosine: float = Field(default=0.90, gt=0, le=1)  # title cosine that makes two stories one
    near_duplicate_window_hours: float = Field(default=72, ge=0)  # ... when published this close together
    review_retention_days: float = Field(default=30, ge=0)  # scored stories kept for 'newsmon review export'
    story_retention_days: float = Field(default=7, ge=0)  # fetched stories kept for 'newsmon replay'

    # The bundled demo feeds' local server (a stable port keeps conditional GETs working across runs)
    demo_feeds_port: int = Field(default=18765, ge=0, le=65535)

    # Scheduling
    poll_interval_seconds: int = Field(default=900, ge=10)

    @field_validator("feeds", mode="before")
    @classmethod
    def _feeds_from_list(cls, value: Any) -> Any:
        return tuple(value) if isinstance(value, list) else value

    @field_validator("fetch_allow_networks", mode="before")
    @classmethod
    def _networks_from_text(cls, value: Any) -> Any:
        """A list, or (from the environment) a comma-separated string of CIDRs; each must parse."""
        if isinstance(value, str):
            value = [v for v in value.split(",") if v.strip()]
        NetworkPolicy.from_cidrs(value)
        return tuple(v.strip() for v in value)

    @field_validator("state_url")
    @classmethod
    def _state_url_scheme(cls, value: str) -> str:
        if value and not value.startswith(("postgresql://", "postgres://", "sqlite:///")):
            raise ValueError(
                "state_url must start with postgresql:// (e.g. postgresql://newsmon:secret@db:5432/newsmon) or "
                "sqlite:/// (a file path); leave it empty for <data_dir>/state.sqlite3"
            )
        return value

    @model_validator(mode="after")
    def _replicas_fit(self) -> Settings:
        if self.topic_min_insync_replicas > self.topic_replication:
            raise ValueError(
                f"topic_min_insync_replicas ({self.topic_min_insync_replicas}) cannot exceed topic_replication "
                f"({self.topic_replication}): no write could ever be acknowledged"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Environment beats the config file (passed as init values), which beats the defaults."""
        return env_settings, init_settings, file_secret_settings

    @property
    def network_policy(self) -> NetworkPolicy:
        """Where fetches may connect: public addresses plus ``fetch_allow_networks``."""
        return NetworkPolicy.from_cidrs(self.fetch_allow_networks, guard=self.fetch_ssrf_guard)

    @property
    def state_db(self) -> Path:
        """The SQLite file of the state, unless ``state_url`` names a PostgreSQL database."""
        if self.state_url.startswith("sqlite:///"):
            return Path(self.state_url.removeprefix("sqlite:///"))
        return self.data_dir / "state.sqlite3"

    @property
    def shared_state(self) -> bool:
        """Whether the state lives in PostgreSQL, shared by several workers."""
        return self.state_url.startswith(("postgresql://", "postgres://"))

    @property
    def prefect_home(self) -> Path:
        """Prefect's home for newsmon's runs (its settings, the temporary API's database) unless PREFECT_HOME
        is set: each data dir keeps its own run records, instead of every checkout sharing ~/.prefect."""
        return self.data_dir / "prefect"

    @property
    def kafka_dir(self) -> Path:
        return self.data_dir / "kafka"

    @property
    def model_cache_dir(self) -> Path:
        """Where the ONNX exports of the encoder are kept (made on first use)."""
        return self.models_dir or self.data_dir / "models"


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build settings from an optional YAML file plus overrides; every problem becomes a ConfigError."""
    values: dict[str, Any] = {}
    if config_file is not None:
        try:
            loaded = load_yaml(config_file.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read config file {config_file}: {exc}") from exc
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {config_file} must hold a mapping (e.g. 'feeds: [...]')")
        values.update(loaded)
        feeds_file = values.get("feeds_file")
        if feeds_file and not Path(feeds_file).expanduser().is_absolute():
            values["feeds_file"] = config_file.parent / Path(feeds_file)
    values.update(overrides)
    try:
        return Settings(**values)
    except ValidationError as exc:
        where = f" in {config_file}" if config_file else ""
        raise ConfigError(f"invalid settings{where}:\n{plain_validation(exc, Settings.model_fields)}") from exc
