"""``pushoverd [run|config|check|healthcheck|hash-password|version] [-config PATH]``: argv ->
config -> daemon.

Startup errors become exit codes: 0 ok, 1 invalid config or handler files (or, for
``healthcheck``, no 204 from ping), 2 bad usage.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import cast

from pushoverd import config as config_module
from pushoverd import healthcheck as health
from pushoverd import logs
from pushoverd.app import Daemon, build_kinds
from pushoverd.auth import hash_password
from pushoverd.config.render import config_text
from pushoverd.errors import ConfigError, PushoverdError
from pushoverd.handlers.base import Forwarder
from pushoverd.topics.files import file_error, handler_dir, load_dir
from pushoverd.topics.forwarding import check_no_cycle
from pushoverd.topics.service import compile_spec

COMMANDS = ("run", "config", "check", "healthcheck", "hash-password", "version")


def _version() -> str:
    try:
        return version("pushoverd")
    except PackageNotFoundError:
        return "unknown"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pushoverd", description="Kapacitor alert topics in, Pushover notifications out.")
    parser.add_argument("command", nargs="?", default="run", choices=COMMANDS,
                        help="run the daemon (default), print the effective config (the defaults "
                             "without a file), check the config and handler files, ping the "
                             "daemon this config describes (exit 0 on 204), print a bcrypt "
                             "hash of a password read from stdin for [[pushoverd.users]], or "
                             "print the version")
    parser.add_argument("-config", "--config", dest="config", default=None,
                        help="config file (else $PUSHOVERD_CONFIG_PATH, $KAPACITOR_CONFIG_PATH)")
    return parser


def _load(path_arg: str | None) -> config_module.LoadedConfig:
    path = config_module.find_config_path(path_arg, os.environ)
    return config_module.load(path)


def _problems(exc: PushoverdError) -> list[str]:
    return list(getattr(exc, "problems", None) or [str(exc)])


def _load_or_report(path_arg: str | None) -> config_module.LoadedConfig | None:
    """The config, or None after printing one line per problem."""
    try:
        return _load(path_arg)
    except ConfigError as exc:
        print("\n".join(_problems(exc)), file=sys.stderr)
        return None


def check(path_arg: str | None) -> int:
    """Validate the config and every handler file; print one line per problem."""
    loaded = _load_or_report(path_arg)
    if loaded is None:
        return 1
    problems = _handler_file_problems(loaded.config)
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print(f"ok: {loaded.path or 'built-in defaults'}")
    return 1 if problems else 0


def _handler_file_problems(config: config_module.Config) -> list[str]:
    if not config.load.enabled:
        return []
    kinds = build_kinds(config)
    result = load_dir(handler_dir(config.load.dir))
    problems = [str(e) for e in result.errors]
    edges: dict[str, list[str]] = {}  # publish and aggregate, in the order run loads them
    for spec, path in result.specs:
        try:
            route = compile_spec(kinds, spec)
            if route.plumbing:
                forwarder = cast(Forwarder, route.handler)
                check_no_cycle(edges, spec.topic, forwarder.targets, forwarder.target_option)
                edges.setdefault(spec.topic, []).extend(forwarder.targets)
        except PushoverdError as exc:
            problems.append(str(file_error(path, exc)))
    return problems


def healthcheck(path_arg: str | None) -> int:
    """Ping the daemon at the config's bind address: 0 if it answers 204, else 1."""
    loaded = _load_or_report(path_arg)
    if loaded is None:
        return 1
    url = health.ping_url(loaded.config.http)
    problem = health.ping(url)
    print(f"unhealthy: {problem}" if problem else f"ok: {url}",
          file=sys.stderr if problem else sys.stdout)
    return 1 if problem else 0


def print_config(path_arg: str | None) -> int:
    """Print the effective config (the file, or with none the defaults, plus the environment;
    validated, paths resolved, secrets redacted) as ``kapacitord config`` does, so a container
    configured by its environment alone can show what it runs with."""
    loaded = _load_or_report(path_arg)
    if loaded is None:
        return 1
    sys.stdout.write(config_text(loaded.config))
    return 0


def read_password() -> str:
    """The password: asked twice without echo on a terminal, else stdin's first line."""
    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Password again: ") != password:
            raise ValueError("the passwords differ")
        return password
    return sys.stdin.readline().removesuffix("\n").removesuffix("\r")


def print_password_hash() -> int:
    """Print the bcrypt hash of a password read from stdin (never the password itself)."""
    try:
        print(hash_password(read_password()))
    except ValueError as exc:
        print(f"pushoverd hash-password: {exc}", file=sys.stderr)
        return 1
    return 0


def run(path_arg: str | None) -> int:
    """Run the daemon until SIGINT/SIGTERM."""
    loaded = _load_or_report(path_arg)
    if loaded is None:
        return 1
    cfg = loaded.config
    logs.setup(cfg.logging.level, cfg.logging.file, cfg.secrets(), cfg.logging.format)
    try:
        asyncio.run(Daemon(loaded).run())
    except PushoverdError as exc:
        print(f"pushoverd: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """The console script."""
    args = _parser().parse_args(argv)
    if args.command == "config":
        return print_config(args.config)
    if args.command == "version":
        print(f"pushoverd {_version()}")
        return 0
    if args.command == "check":
        return check(args.config)
    if args.command == "healthcheck":
        return healthcheck(args.config)
    if args.command == "hash-password":
        return print_password_hash()
    return run(args.config)


if __name__ == "__main__":
    sys.exit(main())
