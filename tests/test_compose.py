"""docker-compose.yml and docker/Dockerfile, checked against the project without Docker.

No container is built or started: the compose file is read with PyYAML, the Dockerfile line by line, and
what they name is checked against the repository (paths, volumes), against the real command-line parsers
(``panro.cli.build_parser()`` and Airflow's own, in a subprocess) and against the sources (which
environment variables the code reads). Compose interpolation (``${VAR:?...}``) is emulated: a variable
becomes its default when it has one, a placeholder otherwise; nothing else is substituted.
"""

from __future__ import annotations

import ast
import fnmatch
import json
import os
import re
import shlex
import subprocess
import sys
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from panro.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / "docker" / ".env.example"
PANRO_IMAGE_DOCKERFILE = ROOT / "docker" / "Dockerfile"
AIRFLOW = Path(sys.executable).with_name("airflow")

# Where the code reads its environment, and which files there count as sources.
SOURCE_DIRS = ["include", "plugins", "dags", "dbt_project"]
SOURCE_SUFFIXES = {".py", ".sql", ".yml", ".yaml"}
SKIPPED_DIRS = {"target", "logs", "dbt_packages", "__pycache__"}  # generated, git-ignored
CHECKED_PREFIXES = ("PANRO_", "PORTAL_", "WAREHOUSE_")

# The Airflow commands the stack must run, and the panro ones.
AIRFLOW_ROLES = {
    "api-server": ["api-server"],
    "scheduler": ["scheduler"],
    "dag-processor": ["dag-processor"],
    "triggerer": ["triggerer"],
    "migrate": ["db", "migrate"],
}
PLACEHOLDER = "placeholder"

# What the Airflow services need from include/panro/config.py (and the simulator from cli.py). Each name is
# also checked to be read by that file, so a rename there fails here rather than silently in production.
# Not listed: PANRO_DROP_DIR and PANRO_OUTBOX_DIR (default under PANRO_STATE_DIR), PANRO_ALLOCATION_SEED
# (a published default). PANRO_BUSINESS_KEY_SALT has a development-only default, so it must be set.
# WAREHOUSE_URL is needed unless the Airflow connection panro_warehouse is given instead.
AIRFLOW_NEEDS = [
    "PANRO_HOME",
    "PANRO_STATE_DIR",
    "PORTAL_BASE_URL",
    "PORTAL_TOKEN",
    "PANRO_BUSINESS_KEY_SALT",
]
SIMULATOR_NEEDS = ["PORTAL_TOKEN"]

SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|FERNET|SALT|(^|_)KEY($|_)", re.IGNORECASE)
REFERENCE = re.compile(r"\$(?:(?P<escaped>\$)|\{(?P<braced>[^}]*)\}|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))")
BRACED = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>.*))?$", re.DOTALL)
SHELL_VARIABLE = re.compile(r"\$(?:\{[A-Za-z_][A-Za-z0-9_]*\}|[A-Za-z_][A-Za-z0-9_]*)")
SHELL_OPERATORS = {"&&", "||", ";", "|"}


# ---------------------------------------------------------------------------------------------- helpers


def references(text: str) -> list[tuple[str, str | None, str]]:
    """The compose variables ``text`` refers to: (name, operator, argument); ``$$`` is an escape."""
    found = []
    for match in REFERENCE.finditer(text):
        if match["escaped"]:
            continue
        if match["plain"]:
            found.append((match["plain"], None, ""))
            continue
        braced = BRACED.match(match["braced"])
        assert braced, f"malformed compose variable ${{{match['braced']}}} in {text!r}"
        found.append((braced["name"], braced["op"], braced["arg"] or ""))
    return found


def interpolate(text: str) -> str:
    """Compose's interpolation with a stand-in environment: defaults where given, placeholders elsewhere."""

    def replace(match: re.Match) -> str:
        if match["escaped"]:
            return "$"
        if match["plain"]:
            return PLACEHOLDER
        braced = BRACED.match(match["braced"])
        assert braced, f"malformed compose variable ${{{match['braced']}}} in {text!r}"
        if braced["op"] in (":-", "-"):
            return braced["arg"]
        return PLACEHOLDER

    return REFERENCE.sub(replace, text)


def walk_strings(node, path=""):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk_strings(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk_strings(value, f"{path}[{index}]")
    elif isinstance(node, str):
        yield path, node


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def argv_of(command) -> list[str]:
    if command is None:
        return []
    if isinstance(command, str):
        return shlex.split(interpolate(command))
    return [interpolate(str(part)) for part in command]


def healthcheck_commands(service: dict) -> list[list[str]]:
    """The commands of a healthcheck; shell forms are split on ``&&``, ``||``, ``;`` and ``|``."""
    test = (service.get("healthcheck") or {}).get("test")
    if not test or test == ["NONE"]:
        return []
    if isinstance(test, str):
        test = ["CMD-SHELL", test]
    if test[0] == "CMD":
        return [argv_of(test[1:])]
    assert test[0] == "CMD-SHELL", f"healthcheck test must start with CMD or CMD-SHELL: {test}"
    words = shlex.split(SHELL_VARIABLE.sub(PLACEHOLDER, interpolate(" ".join(test[1:]))))
    commands, current = [], []
    for word in words:
        if word in SHELL_OPERATORS:
            commands.append(current)
            current = []
        else:
            current.append(word)
    return [command for command in commands + [current] if command]


def all_commands(services: dict) -> list[tuple[str, list[str]]]:
    found = []
    for name, service in services.items():
        if service.get("command") is not None:
            found.append((name, argv_of(service["command"])))
        found.extend((f"{name} (healthcheck)", argv) for argv in healthcheck_commands(service))
    return found


def named_volume_mounts(service: dict) -> list[tuple[str, str]]:
    """(volume, target) of the service's named-volume mounts; bind mounts fail the test."""
    mounts = []
    for entry in service.get("volumes") or []:
        if isinstance(entry, str):
            source, _, rest = entry.partition(":")
            target = rest.split(":")[0]
            kind = "bind" if source.startswith((".", "/", "~", "$")) else "volume"
        else:
            kind, source, target = entry.get("type", "volume"), entry.get("source"), entry.get("target")
        assert kind == "volume" and source, f"host mount {entry!r}: mount named volumes only"
        mounts.append((source, target))
    return mounts


def parse_dockerfile(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    instructions, pending = [], ""
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        text = pending + stripped
        pending = ""
        keyword, _, rest = text.partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
    assert not pending, f"{path}: the last instruction ends with a line continuation"
    return instructions


def dockerfile_env(instructions) -> dict[str, str]:
    env = {}
    for keyword, rest in instructions:
        if keyword != "ENV":
            continue
        words = shlex.split(rest)
        if words and "=" not in words[0]:  # legacy form: ENV KEY value
            env[words[0]] = " ".join(words[1:])
        else:
            env.update(word.split("=", 1) for word in words)
    return env


def dockerfile_copies(instructions) -> list[tuple[list[str], str]]:
    copies = []
    for keyword, rest in instructions:
        if keyword not in ("COPY", "ADD"):
            continue
        words = json.loads(rest) if rest.startswith("[") else shlex.split(rest)
        if any(word.startswith("--from") for word in words):
            continue  # from another stage or image, not from the build context
        words = [word for word in words if not word.startswith("--")]
        copies.append((words[:-1], words[-1]))
    return copies


@cache
def source_texts() -> dict[Path, str]:
    texts = {}
    for folder in SOURCE_DIRS:
        for path in sorted((ROOT / folder).rglob("*")):
            relative = path.relative_to(ROOT)
            if any(part in SKIPPED_DIRS or part.endswith(".egg-info") for part in relative.parts):
                continue
            if path.is_file() and path.suffix in SOURCE_SUFFIXES:
                texts[relative] = path.read_text(encoding="utf-8", errors="replace")
    return texts


def is_read_by_sources(name: str) -> bool:
    literal = re.compile(r"""["']""" + re.escape(name) + r"""["']""")
    return any(literal.search(text) for text in source_texts().values())


def environ_reads(path: Path) -> set[str]:
    """Names read through ``os.environ.get("X", ...)``, ``os.environ["X"]`` or ``os.getenv("X")``."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = ast.unparse(node.func)
            if func in ("os.environ.get", "os.getenv", "environ.get", "getenv"):
                names.add(node.args[0].value)
        elif (
            isinstance(node, ast.Subscript)
            and ast.unparse(node.value) in ("os.environ", "environ")
            and isinstance(node.slice, ast.Constant)
        ):
            names.add(node.slice.value)
    return names


def module_constant(path: Path, name: str) -> str:
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{path} defines no {name}")


# ---------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def compose() -> dict:
    assert COMPOSE_FILE.is_file(), "docker-compose.yml is missing"
    document = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(document, dict) and isinstance(document.get("services"), dict), "no services"
    return document


@pytest.fixture(scope="module")
def services(compose) -> dict[str, dict]:
    return compose["services"]


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    assert PANRO_IMAGE_DOCKERFILE.is_file(), "docker/Dockerfile is missing"
    return parse_dockerfile(PANRO_IMAGE_DOCKERFILE)


@pytest.fixture(scope="module")
def roles(services) -> dict[str, str]:
    """Role -> service name, found by what each service runs rather than by its name."""
    found: dict[str, list[str]] = {}
    for name, service in services.items():
        argv = argv_of(service.get("command"))
        if argv[:1] == ["airflow"]:
            for role, words in AIRFLOW_ROLES.items():
                if argv[1 : 1 + len(words)] == words:
                    found.setdefault(role, []).append(name)
        elif argv[:2] in (["panro", "serve"], ["panro", "simulate"]):
            found.setdefault(f"panro {argv[1]}", []).append(name)
    for role, names in found.items():
        assert len(names) == 1, f"more than one service runs {role}: {names}"
    return {role: names[0] for role, names in found.items()}


def service_env(services, name: str, dockerfile) -> dict[str, str]:
    """The environment a service's processes see: the image's ENV (when built from our Dockerfile),
    then the service's own."""
    service = services[name]
    env = {}
    build = service.get("build")
    if build is not None:
        context = build if isinstance(build, str) else build.get("context", ".")
        file = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
        if (COMPOSE_FILE.parent / context / file).resolve() == PANRO_IMAGE_DOCKERFILE:
            env.update(dockerfile_env(dockerfile))
    env.update(environment(service))
    return env


def url_of(value: str):
    """A URL as compose would pass it (variables interpolated with stand-ins)."""
    parts = urlsplit(interpolate(value))
    assert parts.scheme and parts.hostname, f"not a URL: {value!r}"
    return parts


# ---------------------------------------------------------------------------------------------- services


def test_required_services_exist(services, roles):
    for role in [*AIRFLOW_ROLES, "panro serve", "panro simulate"]:
        assert role in roles, f"no service runs {role}; services: {sorted(services)}"
    postgres = {name for name, s in services.items() if str(s.get("image", "")).startswith("postgres:")}
    metadata = url_of(environment(services[roles["scheduler"]])["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    assert metadata.hostname in postgres, (
        f"Airflow's metadata database {metadata.hostname} is no PostgreSQL service"
    )
    warehouse = url_of(environment(services[roles["scheduler"]])["AIRFLOW_CONN_PANRO_WAREHOUSE"])
    assert warehouse.hostname in postgres, f"the warehouse {warehouse.hostname} is no PostgreSQL service"
    assert metadata.hostname != warehouse.hostname, "the warehouse must not share Airflow's metadata server"
    for name in postgres:
        assert services[name].get("healthcheck"), f"{name}: a PostgreSQL service needs a healthcheck"
        assert named_volume_mounts(services[name]), f"{name}: PostgreSQL data needs a named volume"


def test_airflow_services_share_one_configuration(services, roles):
    airflow = [roles[role] for role in AIRFLOW_ROLES]
    reference = environment(services[airflow[0]])
    for name in airflow:
        env = environment(services[name])
        assert env.get("AIRFLOW__CORE__EXECUTOR") == "LocalExecutor", f"{name}: not LocalExecutor"
        for key in (
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
            "AIRFLOW__API_AUTH__JWT_SECRET",
            "AIRFLOW__CORE__FERNET_KEY",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
        ):
            assert env.get(key), f"{name}: {key} is not set"
            assert env[key] == reference[key], f"{name}: {key} differs between the Airflow components"
    execution = url_of(reference["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
    assert execution.hostname == roles["api-server"], "the Execution API URL must name the api-server service"
    api_argv = argv_of(services[roles["api-server"]]["command"])
    api_port = int(api_argv[api_argv.index("--port") + 1]) if "--port" in api_argv else 8080
    assert (execution.port or 80) == api_port, "the Execution API URL's port is not the api-server's"


def test_connection_urls_match_the_database_services(services, roles):
    env = environment(services[roles["scheduler"]])
    for key in ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW_CONN_PANRO_WAREHOUSE"):
        raw = env[key]
        url = url_of(raw)
        db = environment(services[url.hostname])
        assert url.username == db.get("POSTGRES_USER", "postgres"), f"{key}: user is not the server's"
        assert url.path.lstrip("/") == db.get("POSTGRES_DB", url.username), (
            f"{key}: database is not the server's"
        )
        assert (url.port or 5432) == 5432, f"{key}: PostgreSQL listens on 5432 inside the network"
        password_vars = {name for name, _, _ in references(raw)}
        server_vars = {name for name, _, _ in references(db.get("POSTGRES_PASSWORD", ""))}
        assert server_vars and password_vars == server_vars, (
            f"{key}: its password must be the same variable as {url.hostname}'s POSTGRES_PASSWORD"
        )


def test_portal_url_points_at_the_simulator(services, roles):
    simulator = roles["panro serve"]
    argv = argv_of(services[simulator]["command"])
    args = build_parser().parse_args(argv[1:])
    portal = url_of(environment(services[roles["scheduler"]])["PORTAL_BASE_URL"])
    assert portal.hostname == simulator, (
        f"PORTAL_BASE_URL names {portal.hostname}, the simulator is {simulator}"
    )
    assert portal.port == args.port, (
        f"PORTAL_BASE_URL port {portal.port}, the simulator listens on {args.port}"
    )
    assert args.host == "0.0.0.0", "the simulator must listen on all interfaces of its container"
    # The same token on both sides.
    token_vars = {n for n, _, _ in references(environment(services[simulator]).get("PORTAL_TOKEN", ""))}
    client_vars = {n for n, _, _ in references(environment(services[roles["scheduler"]])["PORTAL_TOKEN"])}
    assert token_vars and token_vars == client_vars, (
        "simulator and Airflow must take PORTAL_TOKEN from one variable"
    )


def test_depends_on_conditions(services, roles):
    for name, service in services.items():
        depends = service.get("depends_on") or {}
        if isinstance(depends, list):
            depends = {target: {"condition": "service_started"} for target in depends}
        for target, spec in depends.items():
            assert target in services, f"{name} depends on unknown service {target}"
            condition = (spec or {}).get("condition", "service_started")
            if condition == "service_healthy":
                assert services[target].get("healthcheck"), (
                    f"{name} waits for {target} to be healthy: no healthcheck"
                )
            elif condition == "service_completed_successfully":
                assert str(services[target].get("restart", "no")) in ("no", "False"), (
                    f"{target} is awaited as one-shot by {name} but restarts"
                )
    metadata = url_of(
        environment(services[roles["scheduler"]])["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    ).hostname
    expected_init = {metadata: "service_healthy"}
    assert (services[roles["migrate"]].get("depends_on") or {}).get(metadata, {}).get(
        "condition"
    ) == "service_healthy"
    for role in ("api-server", "scheduler", "dag-processor", "triggerer"):
        depends = services[roles[role]].get("depends_on") or {}
        for target, condition in {
            **expected_init,
            roles["migrate"]: "service_completed_successfully",
        }.items():
            assert (depends.get(target) or {}).get("condition") == condition, (
                f"{roles[role]} must wait for {target} ({condition})"
            )
    warehouse = url_of(environment(services[roles["scheduler"]])["AIRFLOW_CONN_PANRO_WAREHOUSE"]).hostname
    scheduler_depends = services[roles["scheduler"]].get("depends_on") or {}
    assert (scheduler_depends.get(warehouse) or {}).get("condition") == "service_healthy", (
        "the scheduler runs the tasks (LocalExecutor): it must wait for a healthy warehouse"
    )
    simulator_depends = services[roles["panro serve"]].get("depends_on") or {}
    assert (simulator_depends.get(roles["panro simulate"]) or {}).get("condition") == (
        "service_completed_successfully"
    ), "the simulator must wait for its scenario"


# ---------------------------------------------------------------------------------------------- build, volumes


def test_build_contexts_and_images(services):
    built = set()
    for name, service in services.items():
        build = service.get("build")
        if build is None:
            continue
        context = build if isinstance(build, str) else build.get("context", ".")
        dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
        context_dir = (COMPOSE_FILE.parent / context).resolve()
        assert context_dir.is_dir(), f"{name}: build context {context} does not exist"
        assert (context_dir / dockerfile).is_file(), f"{name}: {dockerfile} does not exist in {context}"
        if service.get("image"):
            built.add(service["image"])
    assert built, "no service builds the panro image"
    for name, service in services.items():
        image = service.get("image")
        assert image or service.get("build"), f"{name}: neither image nor build"
        if image and not service.get("build") and image not in built:
            assert ":" in image and not image.endswith(":latest"), f"{name}: pin a tag for {image}"


def test_named_volumes_declared_and_used(compose, services):
    declared = set(compose.get("volumes") or {})
    used = set()
    for service in services.values():
        used.update(volume for volume, _ in named_volume_mounts(service))
    assert used <= declared, f"volumes used but not declared: {sorted(used - declared)}"
    assert declared <= used, f"volumes declared but not used: {sorted(declared - used)}"


def test_state_dir_is_a_volume_wherever_it_is_used(services, dockerfile):
    for name, service in services.items():
        state = service_env(services, name, dockerfile).get("PANRO_STATE_DIR")
        if state is None or not service.get("command"):
            continue
        argv = argv_of(service["command"])
        if argv[:1] not in (["airflow"], ["panro"]):
            continue
        targets = [target for _, target in named_volume_mounts(service)]
        assert state in targets, (
            f"{name}: PANRO_STATE_DIR {state} is not a named volume (state would be lost)"
        )


# ---------------------------------------------------------------------------------------------- commands


def test_panro_commands_are_known_to_the_cli(services):
    parser = build_parser()
    subcommands = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction").choices
    panro = [(name, argv) for name, argv in all_commands(services) if argv[:1] == ["panro"]]
    assert panro, "no service runs panro"
    for name, argv in panro:
        assert len(argv) > 1 and argv[1] in subcommands, f"{name}: `panro {argv[1:2]}` is no subcommand"
        try:
            parser.parse_args(argv[1:])
        except SystemExit as exc:
            pytest.fail(f"{name}: `{' '.join(argv)}` is rejected by panro's parser (exit {exc.code})")


def test_scenario_written_is_the_scenario_served(services, roles):
    parser = build_parser()
    simulate = parser.parse_args(argv_of(services[roles["panro simulate"]]["command"])[1:])
    serve = parser.parse_args(argv_of(services[roles["panro serve"]]["command"])[1:])
    assert simulate.out == serve.scenario, f"simulate writes {simulate.out}, serve reads {serve.scenario}"
    volume_of = {}
    for role in ("panro simulate", "panro serve"):
        mounts = named_volume_mounts(services[roles[role]])
        matching = [v for v, target in mounts if str(serve.scenario).startswith(target.rstrip("/") + "/")]
        assert matching, f"{roles[role]}: {serve.scenario} is on no named volume"
        volume_of[role] = matching[0]
    assert volume_of["panro simulate"] == volume_of["panro serve"], (
        "the scenario is written to another volume"
    )


def test_airflow_commands_exist(services, tmp_path):
    airflow = [(name, argv) for name, argv in all_commands(services) if argv[:1] == ["airflow"]]
    started = {tuple(argv[1:3]) for _, argv in airflow} | {tuple(argv[1:2]) for _, argv in airflow}
    for words in AIRFLOW_ROLES.values():
        assert tuple(words) in started, f"no service runs `airflow {' '.join(words)}`"
    # Airflow's real parser, in a child with a throw-away AIRFLOW_HOME (it writes airflow.cfg there).
    script = (
        "import contextlib, io, json, sys\n"
        "from airflow.cli.cli_parser import get_parser\n"
        "parser = get_parser()\n"
        "errors = []\n"
        "for name, argv in json.load(sys.stdin):\n"
        "    err = io.StringIO()\n"
        "    try:\n"
        "        with contextlib.redirect_stderr(err):\n"
        "            parser.parse_args(argv)\n"
        "    except SystemExit as exc:\n"
        "        errors.append([name, argv, exc.code, err.getvalue().strip()[-400:]])\n"
        "print(json.dumps(errors))\n"
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
    env.update(AIRFLOW_HOME=str(tmp_path), AIRFLOW__CORE__LOAD_EXAMPLES="False")
    proc = subprocess.run(
        [sys.executable, "-c", script],
        input=json.dumps([[n, argv[1:]] for n, argv in airflow]),
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    errors = json.loads(proc.stdout.strip().splitlines()[-1])
    assert not errors, "commands Airflow's CLI rejects:\n" + "\n".join(
        f"{name}: airflow {' '.join(argv)} -> exit {code}: {message}" for name, argv, code, message in errors
    )


# ---------------------------------------------------------------------------------------------- environment


def test_panro_environment_variables_are_read_by_the_code(services, dockerfile):
    setters = {}
    for name in services:
        for key in environment(services[name]):
            setters.setdefault(key, []).append(name)
    for key in dockerfile_env(dockerfile):
        setters.setdefault(key, []).append("docker/Dockerfile")
    checked = {key: names for key, names in setters.items() if key.startswith(CHECKED_PREFIXES)}
    assert checked, "no PANRO_/PORTAL_/WAREHOUSE_ variable is set at all"
    unread = {key: names for key, names in checked.items() if not is_read_by_sources(key)}
    assert not unread, f"set but read nowhere in {', '.join(SOURCE_DIRS)}: {unread}"


def test_services_get_the_settings_they_need(services, roles, dockerfile):
    config_reads = environ_reads(ROOT / "include" / "panro" / "config.py")
    cli_reads = environ_reads(ROOT / "include" / "panro" / "cli.py")
    for name in AIRFLOW_NEEDS:
        assert name in config_reads, f"include/panro/config.py no longer reads {name}: update this test"
    for name in SIMULATOR_NEEDS:
        assert name in cli_reads, f"include/panro/cli.py no longer reads {name}: update this test"
    assert "WAREHOUSE_URL" in config_reads
    conn_id = module_constant(ROOT / "plugins" / "panro_airflow.py", "WAREHOUSE_CONN_ID")
    conn_var = f"AIRFLOW_CONN_{conn_id.upper()}"
    for role in AIRFLOW_ROLES:
        name = roles[role]
        env = service_env(services, name, dockerfile)
        missing = [var for var in AIRFLOW_NEEDS if not env.get(var)]
        assert not missing, f"{name}: not set: {missing}"
        assert env.get("WAREHOUSE_URL") or env.get(conn_var), f"{name}: neither WAREHOUSE_URL nor {conn_var}"
        assert env.get("AIRFLOW__CORE__DAGS_FOLDER") == f"{env['PANRO_HOME']}/dags", f"{name}: DAGs folder"
        assert env.get("AIRFLOW__CORE__PLUGINS_FOLDER") == f"{env['PANRO_HOME']}/plugins", f"{name}: plugins"
        assert f"{env['PANRO_HOME']}/plugins" in env.get("PYTHONPATH", "").split(":"), (
            f"{name}: the DAGs import panro_airflow: plugins/ must be on PYTHONPATH"
        )
        assert str(env.get("AIRFLOW__CORE__LOAD_EXAMPLES")).lower() == "false", f"{name}: example DAGs load"
    env = service_env(services, roles["panro serve"], dockerfile)
    missing = [var for var in SIMULATOR_NEEDS if not env.get(var)]
    assert not missing, f"{roles['panro serve']}: not set: {missing}"


# ---------------------------------------------------------------------------------------------- security


def test_published_ports_bind_loopback_only(services, roles):
    for name, service in services.items():
        for entry in service.get("ports") or []:
            if isinstance(entry, dict):
                host_ip = entry.get("host_ip")
                assert host_ip in ("127.0.0.1", "::1"), f"{name}: port {entry} is not bound to loopback"
                continue
            text = interpolate(str(entry))
            assert text.startswith(("127.0.0.1:", "[::1]:")), (
                f"{name}: port {entry!r} is not bound to loopback"
            )
            assert text.count(":") >= 2, f"{name}: port {entry!r} names no host port"
    assert not services[roles["panro serve"]].get("ports"), (
        "the simulator must stay inside the compose network"
    )
    assert services[roles["api-server"]].get("ports"), "the Airflow api-server publishes no port"


def test_no_literal_secrets(compose):
    def is_reference_only(value: str) -> bool:
        refs = references(value)
        return (
            len(refs) == 1
            and refs[0][1] in (None, ":?", "?")  # no default: a default would be a committed secret
            and REFERENCE.fullmatch(value.strip()) is not None
        )

    problems = []
    for path, value in walk_strings(compose):
        key = path.rsplit(".", 1)[-1]
        if SECRET_NAME.search(key) and not is_reference_only(value):
            problems.append(f"{path}: {value!r}")
        if "://" in value:
            # Each ${...} becomes a token first: its ":?message" would otherwise end the URL's netloc.
            tokens = {}

            def tokenize(match: re.Match, tokens=tokens) -> str:
                tokens[f"ref{len(tokens)}"] = match[0]
                return "$" if match["escaped"] else f"ref{len(tokens) - 1}"

            password = urlsplit(REFERENCE.sub(tokenize, value)).password
            if password is not None and not is_reference_only(tokens.get(password, password)):
                problems.append(f"{path}: URL with a literal password")
        for name, op, arg in references(value):
            if SECRET_NAME.search(name) and op in (":-", "-") and arg:
                problems.append(f"{path}: ${{{name}}} has a default value")
    assert not problems, "literal secrets in docker-compose.yml:\n" + "\n".join(problems)


def test_env_example_documents_every_required_variable(compose):
    required = {
        name for _, value in walk_strings(compose) for name, op, _ in references(value) if op in (":?", "?")
    }
    assert required, "no ${VAR:?...} requirement at all"
    assert ENV_EXAMPLE.is_file(), "docker/.env.example is missing"
    documented = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^\s*#?\s*([A-Z][A-Z0-9_]*)=(.*)$", line)
        if match:
            documented[match[1]] = match[2].strip()
    missing = sorted(required - set(documented))
    assert not missing, f"required by docker-compose.yml but not in docker/.env.example: {missing}"
    filled = sorted(name for name, value in documented.items() if SECRET_NAME.search(name) and value)
    assert not filled, f"docker/.env.example must not carry secret values: {filled}"


# ---------------------------------------------------------------------------------------------- Dockerfile


def test_dockerfile(dockerfile):
    base = dict(dockerfile)["FROM"]
    requires = re.search(r'requires-python\s*=\s*">=(\d+\.\d+)', (ROOT / "pyproject.toml").read_text())
    assert requires and base.startswith(f"python:{requires[1]}"), f"base image {base} vs requires-python"
    users = [rest for keyword, rest in dockerfile if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), "the image must run as a non-root user"
    runs = " ".join(rest for keyword, rest in dockerfile if keyword == "RUN")
    assert re.search(r"install .*-r \S*requirements\.lock", runs), "requirements.lock is not installed"
    assert re.search(r"install [^&]*--compile-bytecode[^&]*-r \S*requirements\.lock", runs), (
        "the dependencies are installed without their bytecode (every task would compile its imports)"
    )
    env = dockerfile_env(dockerfile)
    home = env.get("PANRO_HOME")
    assert home, "PANRO_HOME is not set"
    assert re.search(rf"pip install --no-deps -e {re.escape(home)}(\s|$)", runs), (
        "panro is not installed editable"
    )
    destinations = {}
    for sources, dest in dockerfile_copies(dockerfile):
        for source in sources:
            destinations[source.rstrip("/")] = dest
    for folder in ("include", "dags", "plugins", "dbt_project", "expectations", "pyproject.toml"):
        copied = [src for src in destinations if fnmatch.fnmatch(folder, src)]
        assert copied, f"{folder} is not copied into the image"
        assert destinations[copied[0]].rstrip("/") in (home, f"{home}/{folder}"), (
            f"{folder} is not under {home}"
        )


def test_the_installed_dependencies_carry_their_bytecode():
    """`make install` compiles the dependencies' bytecode (uv does not by default, and under
    PYTHONDONTWRITEBYTECODE no process caches it): dbt, Great Expectations and Airflow, imported by
    every task, load from .pyc instead of compiling their sources in each process."""
    code = """
import importlib.util, json, os, sys
import airflow.sdk, dbt.cli.main, great_expectations
files = [m.__file__ for m in list(sys.modules.values()) if (getattr(m, "__file__", None) or "").endswith(".py")]
installed = [f for f in files if "/site-packages/" in f]
missing = [f for f in installed if not os.path.exists(importlib.util.cache_from_source(f))]
print(json.dumps({"installed": len(installed), "missing": missing}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    found = json.loads(out.splitlines()[-1])  # the last line: the libraries may log before it
    assert found["installed"] > 1000, found["installed"]
    assert not found["missing"], (
        f"modules without bytecode (run `make install` again): {found['missing'][:10]}"
    )


def test_dockerfile_copies_existing_paths(dockerfile):
    for sources, _ in dockerfile_copies(dockerfile):
        for source in sources:
            if any(char in source for char in "*?["):
                continue  # a glob may match nothing (optional content): Docker's BuildKit accepts that
            path = ROOT / source
            assert path.exists(), f"COPY {source}: no such path in the build context"
            if path.is_dir():
                # git keeps no empty folder: a folder without files would be missing from a fresh clone.
                assert any(p.is_file() for p in path.rglob("*")), f"COPY {source}: the folder holds no file"


# ---------------------------------------------------------------------------------------------- access, BI

WAREHOUSE_INIT = ["python", "-m", "panro.warehouse", "init"]
METABASE_SETUP = "docker/metabase_setup.py"


def service_running(services, argv: list[str]) -> str:
    names = [name for name, s in services.items() if argv_of(s.get("command"))[: len(argv)] == argv]
    assert len(names) == 1, f"expected one service running {' '.join(argv)}, found {names}"
    return names[0]


def same_variables(a: str, b: str) -> bool:
    return {n for n, _, _ in references(a)} == {n for n, _, _ in references(b)} != set()


def test_warehouse_roles_are_created_before_anything_uses_them(services, roles):
    init = service_running(services, WAREHOUSE_INIT)
    assert str(services[init].get("restart", "no")) in ("no", "False")
    env = environment(services[init])
    url = url_of(env["WAREHOUSE_URL"])
    owner_url = url_of(environment(services[roles["scheduler"]])["AIRFLOW_CONN_PANRO_WAREHOUSE"])
    server = environment(services[owner_url.hostname])
    # as the warehouse owner (roles and grants need it), on the warehouse the DAGs use
    assert (url.hostname, url.username, url.path) == (
        owner_url.hostname,
        server["POSTGRES_USER"],
        owner_url.path,
    )
    assert same_variables(env["WAREHOUSE_URL"], server["POSTGRES_PASSWORD"])
    assert (services[init].get("depends_on") or {}).get(url.hostname, {}).get(
        "condition"
    ) == "service_healthy"
    # dbt grants to the roles: the scheduler (which runs the tasks) starts only after init succeeded
    assert (services[roles["scheduler"]].get("depends_on") or {}).get(init, {}).get("condition") == (
        "service_completed_successfully"
    )


def test_warehouse_init_command_creates_roles_and_the_bi_login(services, fresh_db):
    """The init service's exact command and environment shape, run against a real database."""
    import uuid

    import psycopg

    init = service_running(services, WAREHOUSE_INIT)
    env = {key: interpolate(value) for key, value in environment(services[init]).items()}
    user = f"metabase_{uuid.uuid4().hex[:8]}"  # roles are per server: a name of this test's own
    env.update(WAREHOUSE_URL=fresh_db, PANRO_BI_USER=user, PANRO_BI_PASSWORD="compose-test-password")
    proc = subprocess.run(
        [sys.executable, *argv_of(services[init]["command"])[1:]],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    try:
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert f"login {user} in panro_bi" in proc.stdout
        with psycopg.connect(fresh_db) as conn:
            member_of = conn.execute(
                "select g.rolname from pg_auth_members m join pg_roles g on g.oid = m.roleid"
                " join pg_roles u on u.oid = m.member where u.rolname = %s",
                (user,),
            ).fetchall()
            schemas = conn.execute(
                "select nspname from pg_namespace where has_schema_privilege(%s, oid, 'USAGE')"
                " and nspname not like 'pg\\_%%' and nspname <> 'information_schema' order by 1",
                (user,),
            ).fetchall()
        assert member_of == [("panro_bi",)]
        assert schemas == [("marts",), ("public",)]
    finally:
        with psycopg.connect(fresh_db, autocommit=True) as conn:
            conn.execute(f'drop role if exists "{user}"')


def test_bi_tool_connects_to_the_warehouse_as_the_bi_login(services, roles, dockerfile):
    metabase = [
        name for name, s in services.items() if str(s.get("image", "")).startswith("metabase/metabase:")
    ]
    assert len(metabase) == 1, "one Metabase service"
    bi = services[metabase[0]]
    assert any(str(p).startswith("127.0.0.1:") and str(p).endswith(":3000") for p in bi.get("ports") or [])
    assert named_volume_mounts(bi), "Metabase's own settings need a named volume"
    init = service_running(services, WAREHOUSE_INIT)
    assert (bi.get("depends_on") or {}).get(init, {}).get("condition") == "service_completed_successfully"

    setup = service_running(services, ["python", f"/opt/panro/{METABASE_SETUP}"])
    env, init_env = environment(services[setup]), environment(services[init])
    assert url_of(env["METABASE_URL"]).hostname == metabase[0]
    assert (services[setup].get("depends_on") or {}).get(metabase[0], {}).get(
        "condition"
    ) == "service_healthy"
    warehouse = url_of(environment(services[roles["scheduler"]])["AIRFLOW_CONN_PANRO_WAREHOUSE"])
    assert env["METABASE_WAREHOUSE_HOST"] == warehouse.hostname
    assert env["METABASE_WAREHOUSE_DB"] == environment(services[warehouse.hostname])["POSTGRES_DB"]
    # the login warehouse-init creates in panro_bi is the one Metabase uses, and it is not the owner
    for key in ("PANRO_BI_USER", "PANRO_BI_PASSWORD"):
        assert same_variables(env[key], init_env[key]), f"{key}: Metabase and warehouse-init differ"
    assert interpolate(env["PANRO_BI_USER"]) != warehouse.username
    # the script is in the image where the command looks for it
    copies = {dest: sources for sources, dest in dockerfile_copies(dockerfile)}
    assert copies.get(f"/opt/panro/{METABASE_SETUP}") == [METABASE_SETUP]
    assert (ROOT / METABASE_SETUP).is_file()


def test_metabase_setup_registers_the_bi_login_once(tmp_path):
    """docker/metabase_setup.py against a stand-in for Metabase's API (the endpoints it calls): a first
    run sets Metabase up and adds the warehouse as the BI login, marts only; a second run updates it."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    state = {"users": 0, "databases": {}, "calls": []}

    class Metabase(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _answer(self, body, status=200):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            state["calls"].append(("GET", self.path))
            if self.path == "/api/health":
                return self._answer({"status": "ok"})
            if self.path == "/api/session/properties":
                return self._answer({"has-user-setup": state["users"] > 0, "setup-token": "tok"})
            if self.path == "/api/database" and self.headers.get("X-Metabase-Session") == "sess":
                return self._answer({"data": list(state["databases"].values())})
            return self._answer({"message": "no"}, 401)

        def _body(self):
            return json.loads(self.rfile.read(int(self.headers["Content-Length"])))

        def do_POST(self):
            body = self._body()
            state["calls"].append(("POST", self.path))
            if self.path == "/api/setup" and body["token"] == "tok" and state["users"] == 0:
                state["users"] += 1
                return self._answer({"id": "sess"})
            if self.path == "/api/session" and body == {
                "username": "admin@example.kr",
                "password": "pw-admin-1",
            }:
                return self._answer({"id": "sess"})
            if self.path == "/api/database" and self.headers.get("X-Metabase-Session") == "sess":
                state["databases"][1] = {"id": 1, **body}
                return self._answer(state["databases"][1])
            return self._answer({"message": "no"}, 400)

        def do_PUT(self):
            body = self._body()
            state["calls"].append(("PUT", self.path))
            if self.path == "/api/database/1" and self.headers.get("X-Metabase-Session") == "sess":
                state["databases"][1]["details"] = body["details"]
                return self._answer(state["databases"][1])
            return self._answer({"message": "no"}, 400)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Metabase)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    env = {
        **os.environ,
        "METABASE_URL": f"http://127.0.0.1:{server.server_address[1]}",
        "METABASE_ADMIN_EMAIL": "admin@example.kr",
        "METABASE_ADMIN_PASSWORD": "pw-admin-1",
        "PANRO_BI_USER": "metabase",
        "PANRO_BI_PASSWORD": "bi-1",
        "NO_PROXY": "*",
    }
    try:
        for password in ("bi-1", "bi-2"):  # the second run: a rotated BI password
            env["PANRO_BI_PASSWORD"] = password
            proc = subprocess.run(
                [sys.executable, str(ROOT / METABASE_SETUP)],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert proc.returncode == 0, proc.stdout + proc.stderr
    finally:
        server.shutdown()
        server.server_close()
    [database] = state["databases"].values()
    assert database["engine"] == "postgres"
    assert {k: database["details"][k] for k in ("host", "dbname", "user", "password")} == {
        "host": "warehouse",
        "dbname": "panro",
        "user": "metabase",
        "password": "bi-2",
    }
    assert database["details"]["schema-filters-patterns"] == "marts"
    assert [c for c in state["calls"] if c[0] != "GET"] == [
        ("POST", "/api/setup"),
        ("POST", "/api/database"),
        ("POST", "/api/session"),
        ("PUT", "/api/database/1"),
    ]
