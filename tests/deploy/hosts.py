"""Separate hosts on one machine: Linux network namespaces joined by a bridge.

Each host is a namespace with its own ``eth0`` on a private /24, plugged into a bridge in
the test's own namespace (which can reach every host, as an operator's machine would).
``cut`` unplugs a host: its processes keep running but can reach nothing, as when a
machine's network fails. Needs root (``ip netns``); everything is removed on ``down``,
and on a failed ``up``.

The /24 is one that no route in the test's namespace uses yet. A set of hosts left behind
(a run that was killed, or an ``up`` that failed before this one cleaned up) keeps its
bridge and its route, and the kernel sends a new host's traffic on the same subnet to
that older, dead bridge: the host is unreachable although its server said "ready".
"""

from __future__ import annotations

import itertools
import os
import random
import re
import subprocess
from dataclasses import dataclass, field

_INSTANCES = itertools.count()
# Not the global ``random``: training seeds it (keras.utils.set_random_seed), so a test
# session that trained a model drew the same subnets on every run.
_RANDOM = random.SystemRandom()


def ip(*args: str) -> str:
    done = subprocess.run(["ip", *args], check=False, capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def _free_subnet() -> int:
    """A third octet for 10.77.X.0/24 that no route or address here uses."""
    routes = ip("-4", "route", "show", "table", "all")
    used = {int(n) for n in re.findall(r"\b10\.77\.(\d+)\.", routes)}
    free = sorted(set(range(1, 251)) - used)
    if not free:
        raise RuntimeError("every 10.77.X.0/24 is in use here: remove leftover test bridges "
                           "(ip -br link | grep cbr) and namespaces (ip netns list)")  # fmt: skip
    return _RANDOM.choice(free)


@dataclass
class Hosts:
    names: list[str]
    # Unique per instance: a second set of hosts in the same test process must not meet
    # the names of the first, whose namespaces may outlive ``down`` for a moment.
    tag: str = field(default_factory=lambda: f"{os.getpid() % 1000:03d}{next(_INSTANCES) % 10}")
    subnet: int = field(default_factory=_free_subnet)
    created: list[tuple[str, str]] = field(default_factory=list)  # (what, name)

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
        try:
            self._up()
        except BaseException:
            self.down()  # nothing half-made stays behind to shadow a later set of hosts
            raise
        return self

    def _up(self) -> None:
        ip("link", "add", self.bridge, "type", "bridge")
        self.created.append(("link", self.bridge))
        ip("addr", "add", f"10.77.{self.subnet}.254/24", "dev", self.bridge)
        ip("link", "set", self.bridge, "up")
        for name in self.names:
            namespace = self.namespace(name)
            ip("netns", "add", namespace)
            self.created.append(("netns", namespace))
            ip("link", "add", self._veth(name), "type", "veth", "peer", "name", "eth0",
               "netns", namespace)  # fmt: skip
            # A namespace outlives ``netns del`` while its killed processes' sockets still
            # retransmit (minutes, to a cut host); deleting our end of the pair on ``down``
            # removes its eth0 at once, so nothing of this set stays in the test's namespace.
            self.created.append(("link", self._veth(name)))
            ip("link", "set", self._veth(name), "master", self.bridge)
            ip("link", "set", self._veth(name), "up")
            ip("-n", namespace, "addr", "add", f"{self.address(name)}/24", "dev", "eth0")
            ip("-n", namespace, "link", "set", "eth0", "up")
            ip("-n", namespace, "link", "set", "lo", "up")
        for name in self.names:  # the kernel must send each host's traffic to our bridge
            route = ip("route", "get", self.address(name))
            if f" dev {self.bridge} " not in f" {route} ":
                raise RuntimeError(f"host {name} ({self.address(name)}) is routed elsewhere, "
                                   f"not to {self.bridge}: {route.strip()}")  # fmt: skip

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
        for what, item in reversed(self.created):  # each host's veth, its namespace, the bridge
            subprocess.run(["ip", what, "del", item], check=False, capture_output=True)
        self.created.clear()
