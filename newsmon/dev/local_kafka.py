"""A real Apache Kafka on this machine without Docker: jars from Maven Central, KRaft mode, Java 17+.

First use resolves ``org.apache.kafka:kafka_2.13`` and its runtime dependencies with ``mvn`` into the cache
dir (outside git); each node's data lives under the data dir and survives restarts. One node serves the
pipeline and most tests; the fault tests start three (every node is broker and controller).
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from newsmon.config import Settings
from newsmon.errors import LocalKafkaError

__all__ = ["KafkaNode", "LocalKafka", "NodeStatus", "local_kafka"]

_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>newsmon.local</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>{version}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>2.24.3</version></dependency>
  </dependencies>
</project>
"""

_LOG4J = """Configuration:
  Appenders:
    Console:
      name: STDOUT
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Logger:
      - name: kafka.server.KafkaRaftServer
        level: INFO
    Root:
      level: WARN
      AppenderRef:
        - ref: STDOUT
"""


@dataclass(frozen=True, slots=True)
class KafkaNode:
    """One KRaft node (broker and controller) on loopback."""

    node_id: int
    broker_port: int
    controller_port: int
    directory: Path

    @property
    def properties(self) -> Path:
        return self.directory / "server.properties"

    @property
    def pid_file(self) -> Path:
        return self.directory / "kafka.pid"

    @property
    def log_file(self) -> Path:
        return self.directory / "server.log"


@dataclass(frozen=True, slots=True)
class NodeStatus:
    node_id: int
    port: int
    pid: int | None

    @property
    def running(self) -> bool:
        return self.pid is not None


class LocalKafka:
    """A local KRaft cluster of ``nodes`` nodes; node i listens on ``port + 2i`` (broker) and ``+1`` (controller)."""

    def __init__(
        self,
        data_dir: Path,
        cache_dir: Path,
        *,
        version: str = "4.1.1",
        port: int = 9092,
        nodes: int = 1,
        java_home: Path | None = None,
        heap: str = "512m",
    ) -> None:
        self.data_dir = data_dir
        self.cache_dir = cache_dir
        self.version = version
        self.heap = heap
        self.java_home = java_home
        self.nodes = tuple(
            KafkaNode(i + 1, port + 2 * i, port + 2 * i + 1, data_dir / f"node-{i + 1}") for i in range(nodes)
        )

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{n.broker_port}" for n in self.nodes)

    @property
    def jars_dir(self) -> Path:
        return self.cache_dir / f"kafka-{self.version}" / "libs"

    # -- preparing ---------------------------------------------------------------------------------------------
    def java(self) -> str:
        """The java executable (``java_home`` or PATH), checked to be version 17 or newer."""
        java = str(self.java_home / "bin" / "java") if self.java_home else shutil.which("java")
        if not java or not Path(java).exists():
            raise LocalKafkaError(
                "Java 17+ is needed to run the local Kafka: install a JDK (e.g. "
                "'apt-get install openjdk-17-jre-headless') or set NEWSMON_JAVA_HOME"
            )
        out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False).stderr
        found = re.search(r'version "(\d+)', out)
        if not found or int(found.group(1)) < 17:
            raise LocalKafkaError(f"Kafka {self.version} needs Java 17 or newer; {java} says: {out.strip()[:200]}")
        return java

    def ensure_jars(self) -> Path:
        """Resolve Kafka's jars with Maven on first use; later calls return the cached folder at once."""
        done = self.jars_dir / ".complete"
        if done.exists():
            return self.jars_dir
        mvn = shutil.which("mvn")
        if mvn is None:
            raise LocalKafkaError(
                "Maven ('mvn') is needed once to download Apache Kafka's jars: install it "
                "(e.g. 'apt-get install maven'), or point NEWSMON_KAFKA_BOOTSTRAP at a broker"
            )
        work = self.jars_dir.parent
        work.mkdir(parents=True, exist_ok=True)
        (work / "pom.xml").write_text(_POM.format(version=self.version), encoding="utf-8")
        staging = work / "libs.partial"
        shutil.rmtree(staging, ignore_errors=True)
        result = subprocess.run(
            [mvn, "-q", "-B", "dependency:copy-dependencies", "-DincludeScope=runtime", f"-DoutputDirectory={staging}"],
            cwd=work,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0 or not any(staging.glob("kafka_2.13-*.jar")):
            raise LocalKafkaError(
                f"Maven could not resolve Apache Kafka {self.version}:\n{(result.stdout + result.stderr)[-2000:]}"
            )
        shutil.rmtree(self.jars_dir, ignore_errors=True)
        staging.rename(self.jars_dir)
        (work / "log4j2.yaml").write_text(_LOG4J, encoding="utf-8")
        done.touch()
        return self.jars_dir

    def _cluster_id(self) -> str:
        path = self.data_dir / "cluster.id"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            cluster_id = "-"
            while cluster_id.startswith("-"):  # a leading dash would read as an option
                cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            path.write_text(cluster_id, encoding="utf-8")
        return path.read_text(encoding="utf-8").strip()

    def _write_properties(self, node: KafkaNode) -> None:
        voters = ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in self.nodes)
        replicas = min(3, len(self.nodes))
        lines = {
            "process.roles": "broker,controller",
            "node.id": node.node_id,
            "controller.quorum.voters": voters,
            "listeners": f"PLAINTEXT://127.0.0.1:{node.broker_port},CONTROLLER://127.0.0.1:{node.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{node.broker_port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": node.directory / "log",
            "num.partitions": 3,
            "offsets.topic.replication.factor": replicas,
            "transaction.state.log.replication.factor": replicas,
            "transaction.state.log.min.isr": min(2, replicas),
            "share.coordinator.state.topic.replication.factor": replicas,
            "share.coordinator.state.topic.min.isr": min(2, replicas),
            "group.initial.rebalance.delay.ms": 0,
            "auto.create.topics.enable": "true",
        }
        node.directory.mkdir(parents=True, exist_ok=True)
        node.properties.write_text("".join(f"{k}={v}\n" for k, v in lines.items()), encoding="utf-8")

    def _format(self, java: str, node: KafkaNode) -> None:
        if (node.directory / "log" / "meta.properties").exists():
            return
        result = subprocess.run(
            [
                java,
                "-cp",
                f"{self.jars_dir}/*",
                f"-Dlog4j2.configurationFile={self.jars_dir.parent / 'log4j2.yaml'}",
                "kafka.tools.StorageTool",
                "format",
                f"--cluster-id={self._cluster_id()}",
                "--config",
                str(node.properties),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise LocalKafkaError(
                f"formatting KRaft storage of node {node.node_id} failed:\n{(result.stdout + result.stderr)[-2000:]}"
            )

    # -- running -------------------------------------------------------------------------------------------------
    def _pid(self, node: KafkaNode) -> int | None:
        """The node's process id if it runs (checked against /proc, so a reused pid is not mistaken)."""
        try:
            pid = int(node.pid_file.read_text(encoding="utf-8"))
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return None
        if b"kafka.Kafka" not in cmdline or str(node.properties).encode() not in cmdline:
            return None
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
        return None if stat.rsplit(")", 1)[1].split()[0] == "Z" else pid

    def status(self) -> list[NodeStatus]:
        return [NodeStatus(n.node_id, n.broker_port, self._pid(n)) for n in self.nodes]

    def start_node(self, node: KafkaNode) -> None:
        """Start one node in the background (its own session, so it outlives this process)."""
        if self._pid(node) is not None:
            return
        java = self.java()
        self.ensure_jars()
        self._write_properties(node)
        self._format(java, node)
        log = node.log_file.open("ab")
        process = subprocess.Popen(
            [
                java,
                f"-Xmx{self.heap}",
                "-Xms128m",
                "-XX:+UseG1GC",
                "-Djava.awt.headless=true",
                f"-Dlog4j2.configurationFile={self.jars_dir.parent / 'log4j2.yaml'}",
                "-cp",
                f"{self.jars_dir}/*",
                "kafka.Kafka",
                str(node.properties),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        node.pid_file.write_text(str(process.pid), encoding="utf-8")
        self._wait_exec(node, process)

    def _wait_exec(self, node: KafkaNode, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
        """Wait until the child has become java running kafka.Kafka: between fork and exec its /proc entry still
        shows this Python, which a busy machine stretches long enough to look like a node that died."""
        deadline = time.monotonic() + timeout
        while self._pid(node) is None:
            if process.poll() is not None or time.monotonic() > deadline:
                tail = node.log_file.read_text(errors="replace")[-3000:] if node.log_file.exists() else ""
                raise LocalKafkaError(f"Kafka node {node.node_id} did not start (exit {process.poll()}):\n{tail}")
            time.sleep(0.05)

    def start(self, timeout: float = 120.0) -> str:
        """Start every node not yet running and wait until the cluster answers; returns the bootstrap list."""
        for node in self.nodes:
            self.start_node(node)
        self.wait_ready(timeout)
        return self.bootstrap

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Wait until every node is registered as a broker; a node that dies meanwhile is reported with its log."""
        from kafka import KafkaAdminClient
        from kafka.errors import KafkaError

        deadline = time.monotonic() + timeout
        last_error = ""
        while time.monotonic() < deadline:
            for node in self.nodes:
                if self._pid(node) is None:
                    tail = node.log_file.read_text(errors="replace")[-3000:] if node.log_file.exists() else ""
                    raise LocalKafkaError(f"Kafka node {node.node_id} exited during start-up; log tail:\n{tail}")
            try:
                admin = KafkaAdminClient(
                    bootstrap_servers=self.bootstrap, request_timeout_ms=5000, client_id="newsmon-local-kafka"
                )
                try:
                    brokers = admin.describe_cluster()["brokers"]
                finally:
                    admin.close()
                if len(brokers) >= len(self.nodes):
                    return
                last_error = f"{len(brokers)} of {len(self.nodes)} brokers registered"
            except (KafkaError, OSError) as exc:
                last_error = f"{type(exc).__name__}: {exc}"
            time.sleep(0.5)
        raise LocalKafkaError(f"Kafka at {self.bootstrap} did not answer within {timeout:g} s ({last_error})")

    def stop_node(self, node: KafkaNode, *, kill: bool = False, timeout: float = 60.0) -> None:
        """SIGTERM (or SIGKILL with ``kill``) one node and wait for it to exit."""
        pid = self._pid(node)
        if pid is None:
            return
        os.kill(pid, signal.SIGKILL if kill else signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self._pid(node) is not None:
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                deadline = time.monotonic() + 10
            time.sleep(0.2)
        node.pid_file.unlink(missing_ok=True)

    def stop(self, *, kill: bool = False) -> None:
        for node in self.nodes:
            self.stop_node(node, kill=kill)


def local_kafka(settings: Settings) -> LocalKafka:
    """The local single-node broker the settings describe (its data under the data dir, jars in the cache)."""
    return LocalKafka(
        settings.kafka_dir,
        settings.cache_dir,
        version=settings.kafka_version,
        port=settings.kafka_local_port,
        java_home=settings.java_home,
    )
