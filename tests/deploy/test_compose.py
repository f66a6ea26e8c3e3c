"""docker-compose.yml and deploy/Dockerfile, proved without a Docker engine: the file is
valid Compose, its rules hold, and every long-running service's command, run natively
with the environment the file gives it, comes up and runs the pipeline end to end."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
import redis

from tests.conftest import PG_ADMIN, demo_rows, write_export
from tests.deploy.compose import (
    ROOT,
    MissingVariable,
    interpolate,
    load_yaml,
    native,
    read_env_file,
    validate,
    variables_used,
)
from tests.portal.conftest import free_port, sign_in
from tests.worker.cluster import CENR, Process, empty_rabbitmq_queues, wait_until
from worker.settings import Settings

LONG_RUNNING = ("worker", "watcher", "web")
REDIS_DB = 12


@pytest.fixture
def compose() -> dict:
    return interpolate(load_yaml(), read_env_file())


def test_the_file_is_valid_compose_and_keeps_its_rules(compose: dict) -> None:
    """The compose file validates, publishes only web and a local-only flower, keeps the backends on
    an internal network, and builds the Python services from one image."""
    assert validate(compose) == []
    services = compose["services"]
    assert set(services) == {
        "redis", "postgres", "migrate", "worker", "watcher", "web", "flower", "rabbitmq",
    }  # fmt: skip
    published = {
        name: service["ports"] for name, service in services.items() if service.get("ports")
    }
    assert set(published) == {"web", "flower"}
    assert services["flower"]["profiles"] == ["monitoring"]
    assert services["rabbitmq"]["profiles"] == ["rabbitmq"]
    assert all(p.startswith("127.0.0.1:") for p in published["flower"]), "flower: local only"
    assert compose["networks"]["backend"]["internal"] is True
    for name in ("redis", "postgres", "rabbitmq"):
        assert "healthcheck" in services[name]
        assert services[name]["networks"] == ["backend"]
    assert "postgres-data:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    assert "rabbitmq-data:/var/lib/rabbitmq" in services["rabbitmq"]["volumes"]
    assert services["rabbitmq"]["healthcheck"]["test"][1] == "rabbitmq-diagnostics"
    python = [n for n, s in services.items() if s.get("build")]
    assert sorted(python) == ["migrate", "watcher", "web", "worker"]
    for name in python:  # one image, built from deploy/Dockerfile
        assert services[name]["build"] == {"context": ".", "dockerfile": "deploy/Dockerfile"}
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in LONG_RUNNING:
        conditions = services[name]["depends_on"]
        assert conditions["migrate"]["condition"] == "service_completed_successfully"
        assert conditions["redis"]["condition"] == "service_healthy"
        # the optional broker: waited for when its profile is on, ignored when it is not
        assert conditions["rabbitmq"] == {"condition": "service_healthy", "required": False}
        assert "replicas" not in services[name].get("deploy", {})
    assert "container_name" not in services["worker"], "--scale worker=N needs no fixed name"
    assert "healthcheck" in services["web"]


@pytest.mark.parametrize(
    ("auth", "starts"), [("", False), ("admin", False), (":", False), ("admin:s3cret", True)]
)
def test_flower_refuses_to_start_without_a_password(auth: str, starts: bool) -> None:
    """Flower's command exits 1 with a message naming FLOWER_BASIC_AUTH unless it holds a
    user and a password; with them it goes on to start Flower (here a stand-in)."""
    service = interpolate(load_yaml(), {**read_env_file(), "FLOWER_BASIC_AUTH": auth})
    command = service["services"]["flower"]["command"]
    assert command[:2] == ["sh", "-c"]
    script = command[2].replace("exec celery", "exec echo celery")  # no Flower here
    env = {"PATH": "/usr/bin:/bin", **service["services"]["flower"]["environment"]}
    result = subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True,
                            check=False)  # fmt: skip
    if starts:
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("celery --broker=redis://redis:6379/0 flower")
    else:
        assert result.returncode == 1
        assert "set FLOWER_BASIC_AUTH=user:password" in result.stderr
        assert result.stdout == ""


@pytest.mark.parametrize(("password", "starts"), [("", False), ("s3cret-long", True)])
def test_rabbitmq_refuses_to_start_without_a_password(password: str, starts: bool) -> None:
    """The rabbitmq profile's broker exits 1 naming RABBITMQ_PASSWORD while it is empty; with
    one it goes on to the image's own entrypoint (here a stand-in)."""
    service = interpolate(load_yaml(), {**read_env_file(), "RABBITMQ_PASSWORD": password})
    spec = service["services"]["rabbitmq"]
    assert spec["environment"] == {"RABBITMQ_DEFAULT_USER": "cenr",
                                   "RABBITMQ_DEFAULT_PASS": password}  # fmt: skip
    script = spec["command"][2].replace("exec docker-entrypoint.sh", "exec echo entrypoint")
    env = {"PATH": "/usr/bin:/bin", **spec["environment"]}
    result = subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True,
                            check=False)  # fmt: skip
    if starts:
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "entrypoint rabbitmq-server"
    else:
        assert result.returncode == 1
        assert "set RABBITMQ_PASSWORD in .env" in result.stderr


def test_variables_are_documented_and_secrets_required() -> None:
    """Every variable the compose file uses is documented in the example env file, every CENR_
    variable is a real setting, and each secret must be set."""
    documented = read_env_file()
    assert variables_used() <= set(documented), "every variable is in deploy/.env.example"
    settings_fields = {f"CENR_{name.upper()}" for name in Settings.model_fields}
    for name, service in load_yaml()["services"].items():
        for key in service.get("environment", {}):
            if key.startswith("CENR_"):
                assert key in settings_fields, f"{name}: {key} is not a cenr setting"
    for secret in ("POSTGRES_PASSWORD", "CENR_SECRET_KEY"):
        without = {k: v for k, v in documented.items() if k != secret}
        with pytest.raises(MissingVariable, match=secret):
            interpolate(load_yaml(), without)


def test_dockerfile_builds_a_slim_non_root_image_with_everything_packaged(
    tmp_path: Path,
) -> None:
    """The Dockerfile runs as a non-root user without build tools in its final stage, copies only
    files that exist, and the wheel includes the data files the services read."""
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    stages = dockerfile.split("\nFROM ")
    final = stages[-1]
    assert len(stages) >= 2, "a build stage and a run stage"
    assert "USER cenr" in final
    assert "useradd --system --uid 10001" in final
    for tool in ("gcc", "build-essential", "apt-get install", "pip install"):
        assert tool not in final, f"{tool} in the image that runs"
    assert "COPY --from=build /opt/cenr /opt/cenr" in final
    for line in dockerfile.splitlines():
        if line.startswith("COPY ") and "--from" not in line:
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
    assert "tensorflow-cpu" in (ROOT / "pyproject.toml").read_text(), "CPU wheels only"
    # the pinned, hashed versions, then the project itself without resolving again
    assert "pip install --require-hashes -r requirements.lock" in stages[-2]
    assert "pip install --no-deps ." in stages[-2]
    lock = (ROOT / "requirements.lock").read_text()
    assert "tensorflow-cpu==" in lock
    assert "--hash=sha256:" in lock
    assert "schemathesis" not in lock, "the image holds the service, not the test tools"
    # what `pip install .` puts in the image: the package data the services read at run time
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path),
         str(ROOT)],
        check=True, capture_output=True,
    )  # fmt: skip
    [wheel] = list(tmp_path.glob("*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "schema/default_codebook.json", "schema/migrations/env.py",
        "schema/migrations/versions/0005_users.py", "exporters/assets/cenr.js",
        "exporters/assets/cenr.css", "exporters/templates/shared/protocol.html",
        "exporters/templates/bundle/confusion.svg", "cenr/portal/templates/base.html",
        "cenr/portal/static/portal.js",
    ):  # fmt: skip
        assert needed in names, f"{needed} is not packaged"


@pytest.fixture
def compose_backends() -> Iterator[dict[str, str]]:
    """What the postgres and redis containers would give a fresh deployment: a `cenr`
    role and an empty database, an empty Redis database."""
    database = f"cenr_compose_{uuid.uuid4().hex[:8]}"
    password = read_env_file()["POSTGRES_PASSWORD"]
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_roles WHERE rolname = 'cenr'").fetchone():
            admin.execute("CREATE ROLE cenr LOGIN")
        admin.execute(f"ALTER ROLE cenr PASSWORD '{password}'")
        admin.execute(f'CREATE DATABASE "{database}" OWNER cenr')
    broker = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
    broker.flushdb()
    yield {"@postgres:5432/cenr": f"@127.0.0.1:5432/{database}",
           "redis:6379/0": f"127.0.0.1:6379/{REDIS_DB}"}  # fmt: skip
    broker.flushdb()
    broker.close()
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


RABBITMQ_PASSWORD = "compose-rabbitmq-password"  # noqa: S105 (the test's own broker user)
RABBITMQ_PROFILE = {
    "COMPOSE_PROFILES": "rabbitmq",
    "RABBITMQ_PASSWORD": RABBITMQ_PASSWORD,
    "CENR_BROKER_URL": f"amqp://cenr:{RABBITMQ_PASSWORD}@rabbitmq:5672//",
}


def _rabbitmq_as_compose_gives_it() -> dict[str, str]:
    """The machine's RabbitMQ with what the rabbitmq container gives a deployment: a `cenr`
    user with the .env password on the default vhost, and empty cenr queues."""

    def ctl(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["rabbitmqctl", *argv], capture_output=True, text=True,
                              timeout=120, check=False)  # fmt: skip

    if ctl("add_user", "cenr", RABBITMQ_PASSWORD).returncode != 0:
        assert ctl("change_password", "cenr", RABBITMQ_PASSWORD).returncode == 0
    assert ctl("set_permissions", "-p", "/", "cenr", ".*", ".*", ".*").returncode == 0
    empty_rabbitmq_queues(f"amqp://cenr:{RABBITMQ_PASSWORD}@127.0.0.1:5672//")
    return {"@rabbitmq:5672": "@127.0.0.1:5672"}


@pytest.mark.parametrize("broker", ["redis", "rabbitmq"])
def test_every_service_runs_natively_with_the_files_environment(
    compose_backends: dict[str, str], trained_home: Path, tmp_path: Path, broker: str
) -> None:
    """Each service started with the compose file's command and environment works, with Redis and
    with the rabbitmq profile: a file dropped in the inbox is processed and its workbook can be
    downloaded through the web service."""
    profile = RABBITMQ_PROFILE if broker == "rabbitmq" else {}
    # .env as an office fills it in: a key of its own (`cenr serve` refuses the example's
    # placeholder), and the explicit opt-out of Secure cookies this plain-HTTP run needs
    filled = {"CENR_SECRET_KEY": secrets.token_urlsafe(48), "CENR_SECURE_COOKIES": "false"}
    compose = interpolate(load_yaml(), {**read_env_file(), **filled, **profile})
    data, inbox = tmp_path / "data", tmp_path / "inbox"
    inbox.mkdir()
    port = free_port()
    hosts = {**compose_backends}
    if broker == "rabbitmq":
        hosts.update(_rabbitmq_as_compose_gives_it())
        assert compose["services"]["worker"]["environment"]["CENR_BROKER_URL"].startswith("amqp")
    mounts = {"/data": data, "/inbox": inbox}
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("CENR_")}

    def service(name: str) -> tuple[list[str], dict[str, str]]:
        spec = native(compose, name, hosts, mounts)
        assert spec.argv[0] == "cenr", f"{name}: runs the image's cenr command"
        env = {**base_env, **spec.env}
        if name == "web":  # the container's port 8000, published as a free port here
            spec.argv[spec.argv.index("--port") + 1] = str(port)
        return spec.argv[1:], env

    argv, env = service("migrate")
    migrated = subprocess.run([CENR, *argv], env=env,
                              capture_output=True, text=True, check=False)  # fmt: skip
    assert migrated.returncode == 0, migrated.stderr
    # adding a model, as README's deployment section says: train or copy, then register
    shutil.copytree(trained_home / "models" / "tiny", data / "models" / "tiny")
    registered = subprocess.run([CENR, "register", "tiny"], env=env,
                                capture_output=True, text=True, check=False)  # fmt: skip
    assert registered.returncode == 0, registered.stderr
    admin = subprocess.run(
        [CENR, "users", "add", "alice", "--role", "admin",
         "--password-stdin"], input="alice-admin-password\n", env=env, capture_output=True,
        text=True, check=False,
    )  # fmt: skip
    assert admin.returncode == 0, admin.stderr

    processes = {}
    try:
        for name in LONG_RUNNING:
            argv, env = service(name)
            processes[name] = Process(argv, env, tmp_path / f"{name}.log")
        processes["worker"].wait_for_output("ready", timeout=120)
        processes["watcher"].wait_for_output("watching", timeout=60)

        def healthy() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        assert wait_until(lambda: healthy() or not processes["web"].alive, 60), processes[
            "web"
        ].output()[-3000:]

        write_export(tmp_path / "drop" / "export.csv", demo_rows(5))
        os.replace(tmp_path / "drop" / "export.csv", inbox / "export.csv")
        assert wait_until(lambda: any((inbox / "done").glob("export.csv")), 180), (
            processes["watcher"].output()[-3000:] + processes["worker"].output()[-3000:]
        )
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            assert sign_in(client, "alice", "alice-admin-password").status_code == 303
            jobs = client.get("/api/jobs").json()
            assert len(jobs) == 1
            job = jobs[0]

            def finished() -> bool:
                return bool(client.get(f"/api/jobs/{job['job']}").json()["status"] == "done")

            assert wait_until(finished, 180), processes["worker"].output()[-3000:]
            detail = client.get(f"/api/jobs/{job['job']}").json()
            assert (detail["done"], detail["failed"]) == (5, 0)
            workbook = client.get(f"/jobs/{job['job']}/review.xlsx")
            assert workbook.status_code == 200
            assert workbook.content[:2] == b"PK"
        exports = data / "exports" / job["job"]
        assert (exports / "review.xlsx").is_file(), "the worker wrote the job's exports"
        for process in processes.values():
            assert process.alive, process.output()[-2000:]
    finally:
        for process in processes.values():
            process.stop()
