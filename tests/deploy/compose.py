"""docker-compose.yml without Docker: read it, interpolate it, check it against the
Compose specification, and turn a service into the native command and environment it
would run with.

Interpolation follows the Compose specification: ``${VAR}``, ``${VAR:-default}``,
``${VAR-default}``, ``${VAR:?error}``, ``${VAR?error}`` and ``$$`` for a literal dollar.
A native run emulates what Docker would provide: service names resolve to the local
servers (``hosts``), and volume targets inside the container map to local folders
(``mounts``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / "deploy" / ".env.example"
_VARIABLE = re.compile(r"\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])((?:[^{}]|\{[^}]*\})*))?\})")


class MissingVariable(Exception):
    pass


def load_yaml(path: Path = COMPOSE) -> dict[str, Any]:
    from ruamel.yaml import YAML

    loaded = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
    return json.loads(json.dumps(loaded))  # plain dicts and lists, anchors merged


def read_env_file(path: Path = ENV_EXAMPLE) -> dict[str, str]:
    env = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key.strip()] = value.strip()
    return env


def variables_used(path: Path = COMPOSE) -> set[str]:
    return {m.group(1) for m in _VARIABLE.finditer(path.read_text()) if m.group(1)}


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """``value`` with every variable replaced, as ``docker compose`` would."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match[str]) -> str:
        name, operator, argument = match.groups()
        if name is None:
            return "$"
        current = env.get(name)
        unset_or_empty = current is None or ((operator or "").startswith(":") and current == "")
        if operator in (":-", "-"):
            return str(interpolate(argument, env)) if unset_or_empty else str(current)
        if operator in (":?", "?"):
            if unset_or_empty:
                raise MissingVariable(f"required variable {name} is missing a value: {argument}")
            return str(current)
        return current or ""

    return _VARIABLE.sub(replace, value)


def compose_schema() -> dict[str, Any]:
    """The Compose specification's JSON schema, as vendored by check-jsonschema."""
    schema = resources.files("check_jsonschema") / "builtin_schemas/vendor/compose-spec.json"
    return dict(json.loads(schema.read_text(encoding="utf-8")))


def validate(document: dict[str, Any]) -> list[str]:
    from jsonschema.validators import validator_for

    schema = compose_schema()
    validator = validator_for(schema)(schema)
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(document)
    ]


@dataclass
class NativeService:
    name: str
    argv: list[str]
    env: dict[str, str]


def native(
    document: dict[str, Any], name: str, hosts: dict[str, str], mounts: dict[str, Path]
) -> NativeService:
    """The service's command and environment with Docker's part played locally: each
    ``host:port`` of ``hosts`` is rewritten, each mount target becomes its local folder."""
    service = document["services"][name]
    environment = service.get("environment", {})
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)

    def local(text: str) -> str:
        for container_address, address in hosts.items():
            text = text.replace(container_address, address)
        for target, folder in sorted(mounts.items(), key=lambda kv: -len(kv[0])):
            if text == target or text.startswith(target + "/"):
                text = str(folder) + text[len(target) :]
        return text

    argv = [local(str(arg)) for arg in service["command"]]
    env = {key: local(str(value)) for key, value in environment.items() if value is not None}
    return NativeService(name, argv, env)
