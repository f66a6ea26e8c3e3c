"""Separate hosts on one machine: Linux network namespaces joined by a bridge.

Each host is a namespace with its own ``eth0`` on a private /24, plugged into a bridge in
the test's own namespace (which can reach every host, as an operator's machine would).
``cut`` unplugs a host: its processes keep running but can reach nothing, as when a
machine's network fails. Needs root (``ip netns``); everything is removed on ``down``.
"""

from __future__ import annotations

import itertools
import os
import random
import subprocess
from dataclasses import dataclass, field

_INSTANCES = itertools.count()


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


@dataclass
class Hosts:
    names: list[str]
    # Unique per instance: a second set of hosts in the same test process must not meet
    # the names of the first, whose namespaces may outlive ``down`` for a moment.
    tag: str = field(default_factory=lambda: f"{os.getpid() % 1000:03d}{next(_INSTANCES) % 10}")
    subnet: int = field(default_factory=lambda: random.randint(1, 250))
    created: list[str] = field(default_factory=list)

    @property
    def bridge(self) -> str:
        return f"cbr{self.tag}"

    def namespace(self, name: str) -> str:
        return f"cenr{self.tag}-{name}"

    def address(self, name: str) -> str:
        return f"10.77.{self.subnet}.{self.names.index(name) + 1}"

    def _veth(self, name: str) -> str:
        return f"cv{self.tag}{self.names.index(name)}"

    def up(self) -> Hosts:
        ip("link", "add", self.bridge, "type", "bridge")
        self.created.append("bridge")
        ip("addr", "add", f"10.77.{self.subnet}.254/24", "dev", self.bridge)
        ip("link", "set", self.bridge, "up")
        for name in self.names:
            namespace = self.namespace(name)
            ip("netns", "add", namespace)
            self.created.append(namespace)
            ip("link", "add", self._veth(name), "type", "veth", "peer", "name", "eth0",
               "netns", namespace)  # fmt: skip
            ip("link", "set", self._veth(name), "master", self.bridge)
            ip("link", "set", self._veth(name), "up")
            ip("-n", namespace, "addr", "add", f"{self.address(name)}/24", "dev", "eth0")
            ip("-n", namespace, "link", "set", "eth0", "up")
            ip("-n", namespace, "link", "set", "lo", "up")
        return self

    def prefix(self, name: str) -> list[str]:
        """Run a command on host ``name``: ``[*prefix, command, ...]``."""
        return ["ip", "netns", "exec", self.namespace(name)]

    def cut(self, name: str) -> None:
        ip("link", "set", self._veth(name), "down")

    def down(self) -> None:
        for name in self.names:
            pids = subprocess.run(
                ["ip", "netns", "pids", self.namespace(name)], capture_output=True, text=True,
                check=False,
            ).stdout.split()  # fmt: skip
            for pid in pids:
                subprocess.run(["kill", "-9", pid], check=False)
        for item in reversed(self.created):
            if item == "bridge":
                subprocess.run(["ip", "link", "del", self.bridge], check=False, capture_output=True)
            else:
                subprocess.run(["ip", "netns", "del", item], check=False, capture_output=True)
