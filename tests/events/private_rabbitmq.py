"""A RabbitMQ node of the test's own: own node name, AMQP port, data dir and Erlang cookie.

The failure tests stop, restart and throttle it; the system node on 5672 is never touched. The node
runs as this user from the packaged scripts (not the service wrappers, which switch users), in its
own process group, and only that group is ever signalled.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

from shared.processes import free_port, listening

RABBITMQ_BIN = Path("/usr/lib/rabbitmq/bin")
START_TIMEOUT_SECONDS = 90.0


class PrivateRabbit:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.node = f"t2b-test-{uuid.uuid4().hex[:8]}@localhost"
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None
        (root / "home").mkdir(parents=True, exist_ok=True)
        (root / "enabled_plugins").write_text("[].\n")  # no management plugin: faster start, no port clash

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"

    def environment(self) -> dict[str, str]:
        return {
            **os.environ,
            "HOME": str(self.root / "home"),  # its own Erlang cookie, shared with ctl() only
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(free_port()),
            "RABBITMQ_MNESIA_BASE": str(self.root / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.root / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.root / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(self.root / "rabbitmq"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.root / "advanced.config"),
            "RABBITMQ_PID_FILE": str(self.root / "rabbit.pid"),
        }

    def start(self) -> None:
        """Start (or start again, on the same data dir: durable queues and persistent messages survive)."""
        log = (self.root / "server.out").open("ab")
        self._process = subprocess.Popen(
            [str(RABBITMQ_BIN / "rabbitmq-server")],
            env=self.environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not listening("127.0.0.1", self.port, 0.2):
            if self._process.poll() is not None or time.monotonic() > deadline:
                tail = (self.root / "server.out").read_text(errors="replace")[-2000:]
                self.kill()
                raise RuntimeError(f"private RabbitMQ node {self.node} did not start:\n{tail}")
            time.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL this node's process group: a crash, not a clean stop."""
        if self._process is None:
            return
        if self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGKILL)
        self._process.wait(10)
        self._process = None
        deadline = time.monotonic() + 10
        while listening("127.0.0.1", self.port, 0.1) and time.monotonic() < deadline:
            time.sleep(0.1)

    def ctl(self, *arguments: str) -> str:
        """rabbitmqctl against this node only."""
        done = subprocess.run(
            [str(RABBITMQ_BIN / "rabbitmqctl"), "-q", "-n", self.node, *arguments],
            env=self.environment(),
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        )
        return done.stdout
