"""Just enough of a Dockerfile reader for the container tests: stages, their instructions,
and the values an engine would give ENV, USER, VOLUME, EXPOSE, HEALTHCHECK, ENTRYPOINT, CMD
and the ``install -d`` folders a RUN creates.

It follows the Dockerfile reference where this project's file needs it: ``\\`` continues a
line, comment lines inside a continuation are dropped, exec form is JSON, shell form runs
under ``/bin/sh -c``, ``$VAR``/``${VAR}`` expand in ENV from the variables before it, and a
global ARG's default fills ``FROM``. It is not a general parser.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

_VAR = re.compile(r"\$(?:\{(\w+)\}|(\w+))")
_FLAG = re.compile(r"--([\w-]+)=(\S+)\s*")


@dataclass(frozen=True)
class Instruction:
    """One instruction: its keyword (upper case) and the rest, continuations joined."""

    keyword: str
    rest: str


@dataclass(frozen=True)
class Folder:
    """A folder an ``install -d`` in a RUN creates, with its mode and owner."""

    path: str
    mode: int
    owner: str | None
    group: str | None


@dataclass
class Stage:
    """A ``FROM`` and the instructions up to the next one."""

    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        """Every instruction with this keyword, in order."""
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction | None:
        """The one that takes effect (the last), if any."""
        found = self.all(keyword)
        return found[-1] if found else None

    def env(self, base_env: dict[str, str]) -> dict[str, str]:
        """``base_env`` (the base image's) with this stage's ENV applied."""
        env = dict(base_env)
        for instruction in self.all("ENV"):
            for key, value in _env_pairs(instruction.rest):
                env[key] = _VAR.sub(lambda m: env.get(m.group(1) or m.group(2), ""), value)
        return env

    def user(self) -> str | None:
        """The USER in effect at the end of the stage (``None``: root)."""
        found = self.last("USER")
        return found.rest.strip() if found else None

    def volumes(self) -> list[str]:
        """Every VOLUME path."""
        return [p for i in self.all("VOLUME") for p in _words(i.rest)]

    def exposed(self) -> list[str]:
        """Every EXPOSE port (``9092``, ``9092/tcp``)."""
        return [p for i in self.all("EXPOSE") for p in i.rest.split()]

    def entrypoint(self) -> list[str]:
        """ENTRYPOINT as the argv the engine runs."""
        found = self.last("ENTRYPOINT")
        return command(found.rest) if found else []

    def cmd(self) -> list[str]:
        """CMD as the arguments the engine appends to ENTRYPOINT."""
        found = self.last("CMD")
        return command(found.rest) if found else []

    def healthcheck(self) -> tuple[dict[str, str], list[str]]:
        """HEALTHCHECK's options (``interval`` -> ``30s``) and the argv of its CMD."""
        found = self.last("HEALTHCHECK")
        if found is None:
            return {}, []
        rest, options = found.rest, {}
        while match := _FLAG.match(rest):
            options[match.group(1)] = match.group(2)
            rest = rest[match.end():]
        keyword, _, argv = rest.partition(" ")
        assert keyword.upper() == "CMD", f"HEALTHCHECK {keyword}: only CMD is read here"
        return options, command(argv)

    def copies(self) -> list[tuple[dict[str, str], list[str], str]]:
        """Every COPY as (its ``--flags``, sources, destination)."""
        result = []
        for instruction in self.all("COPY"):
            rest, flags = instruction.rest, {}
            while match := _FLAG.match(rest):
                flags[match.group(1)] = match.group(2)
                rest = rest[match.end():]
            *sources, dest = _words(rest)
            result.append((flags, sources, dest))
        return result

    def folders(self) -> list[Folder]:
        """The folders the stage's RUNs create with ``install -d``."""
        return [f for i in self.all("RUN") for step in re.split(r"&&|;", i.rest)
                for f in _install_dirs(shlex.split(step))]


def command(text: str) -> list[str]:
    """Exec form (JSON) as it is; shell form as ``/bin/sh -c``."""
    text = text.strip()
    if text.startswith("["):
        return list(json.loads(text))
    return ["/bin/sh", "-c", text]


def parse(path: Path) -> list[Stage]:
    """The stages of the Dockerfile at ``path``, in order."""
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for instruction in _instructions(path.read_text()):
        if instruction.keyword == "ARG" and not stages:
            name, _, default = instruction.rest.partition("=")
            args[name.strip()] = default.strip()
        elif instruction.keyword == "FROM":
            words = instruction.rest.split()
            base = _VAR.sub(lambda m: args.get(m.group(1) or m.group(2), ""), words[0])
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base, name))
        elif stages:
            stages[-1].instructions.append(instruction)
    return stages


def _instructions(text: str) -> list[Instruction]:
    result, pending = [], ""
    for line in text.splitlines():
        if line.strip().startswith("#") or (not line.strip() and not pending):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        whole = (pending + line).strip()
        pending = ""
        if whole:
            keyword, _, rest = whole.partition(" ")
            result.append(Instruction(keyword.upper(), " ".join(rest.split())
                                      if not rest.lstrip().startswith("[") else rest.strip()))
    return result


def _words(text: str) -> list[str]:
    text = text.strip()
    return list(json.loads(text)) if text.startswith("[") else shlex.split(text)


def _env_pairs(text: str) -> list[tuple[str, str]]:
    words = shlex.split(text)
    if words and "=" not in words[0]:  # the legacy form: ENV KEY value with spaces
        return [(words[0], text.split(None, 1)[1] if len(words) > 1 else "")]
    return [tuple(w.split("=", 1)) for w in words]  # type: ignore[misc]


def _install_dirs(argv: list[str]) -> list[Folder]:
    if argv[:1] != ["install"] or "-d" not in argv:
        return []
    mode, owner, group, paths = 0o755, None, None, []
    words = iter(argv[1:])
    for word in words:
        if word == "-m":
            mode = int(next(words), 8)
        elif word == "-o":
            owner = next(words)
        elif word == "-g":
            group = next(words)
        elif not word.startswith("-"):
            paths.append(word)
    return [Folder(p, mode, owner, group) for p in paths]
