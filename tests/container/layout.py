"""The image's filesystem, built without an engine under a folder standing for ``/``.

The Dockerfile's build stage makes ``/opt/pushoverd`` a venv without pip and installs the
project into it; :func:`build` does the same under ``root`` (the project built from the files
the stage COPYs, as pip builds it there). Only the dependencies come another way: they are
copied from the distributions this test environment has installed (the runtime requirements
of pyproject.toml and theirs, nothing else), so the layout takes seconds and no index.

The runtime stage's folders (``install -d`` with their modes and owner) are made under
``root``, and :meth:`Layout.env` is the image's environment with its paths moved there too.
"""

from __future__ import annotations

import importlib.metadata as metadata
import os
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from tests.container.dockerfile import Stage, parse

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"

BASE_ENV = {
    "PATH": "/usr/local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
}
"""What the python:3.11-slim base image sets that the image's ENV builds on."""


def stages() -> tuple[Stage, Stage]:
    """The Dockerfile's build stage and its runtime (last) stage."""
    found = parse(DOCKERFILE)
    return found[0], found[-1]


def runtime_user() -> tuple[int, int]:
    """The uid and gid of the runtime stage's ``USER uid:gid``."""
    user = stages()[1].user()
    assert user is not None, "the image has no USER: it would run as root"
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) != 0, f"USER {user}: not a numeric non-root uid"
    return int(uid), int(gid or uid)


@dataclass(frozen=True)
class Layout:
    """The image's files under ``root``; ``prefix`` is the venv's path in the image."""

    root: Path
    prefix: str

    def path(self, image_path: str) -> Path:
        """Where ``image_path`` of the image is in this layout."""
        return self.root / image_path.lstrip("/")

    def moved(self, value: str) -> str:
        """``value`` with every path the image owns moved under ``root``."""
        owned = [self.prefix, *(f.path for f in stages()[1].folders()), *stages()[1].volumes()]
        for image_path in sorted(set(owned), key=len, reverse=True):
            value = _replace_path(value, image_path, str(self.path(image_path)))
        return value

    def env(self) -> dict[str, str]:
        """The image's environment (base image and ENV), its own paths moved under root."""
        return {k: self.moved(v) for k, v in stages()[1].env(BASE_ENV).items()}

    def which(self, name: str, env: dict[str, str]) -> str:
        """``name`` resolved on ``env``'s PATH, as the engine resolves an exec-form argv[0]."""
        found = shutil.which(name, path=env["PATH"])
        assert found, f"{name} is not on the image's PATH {env['PATH']}"
        return found


def _replace_path(value: str, old: str, new: str) -> str:
    parts = value.split(":")  # a PATH-like list, or one path
    return ":".join(new + p[len(old):] if p == old or p.startswith(old + "/") else p
                    for p in parts)


def build(root: Path, interpreter: str, owner: tuple[int, int] | None) -> Layout:
    """Build the image's files under ``root`` with ``interpreter`` as the image's python.
    ``owner`` (uid, gid) is given to the folders the Dockerfile gives an owner (as root)."""
    build_stage, runtime = stages()
    (_, _, prefix), = [c for c in runtime.copies() if c[0].get("from") == "build"]
    layout = Layout(root, prefix)
    venv = layout.path(prefix)
    subprocess.run([interpreter, "-m", "venv", "--without-pip", str(venv)], check=True)
    context = _build_context(build_stage, root / "build-context")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"),
                    "install", "--quiet", "--no-deps", "--no-cache-dir", str(context)],
                   check=True, capture_output=True)
    _copy_distributions(runtime_requirements(), _site_packages(venv))
    for folder in runtime.folders():
        path = layout.path(folder.path)
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(folder.mode)
        if owner and folder.owner:
            os.chown(path, *owner)
    return layout


def _build_context(stage: Stage, dest: Path) -> Path:
    """The build stage's COPYs from the repository, laid out as in its WORKDIR."""
    for flags, sources, target in stage.copies():
        assert not flags, f"COPY {flags}: the build stage copies only from the context"
        for source in sources:
            src, dst = REPO / source, dest / target / (Path(source).name if target.endswith("/")
                                                      else "")
            if src.is_dir():
                shutil.copytree(src, dst, ignore=shutil.ignore_patterns(
                    "__pycache__", "*.egg-info"))
            else:
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dst)
    return dest


def runtime_requirements() -> list[str]:
    """pyproject.toml's ``[project] dependencies`` (no extras)."""
    with open(REPO / "pyproject.toml", "rb") as f:
        return list(tomllib.load(f)["project"]["dependencies"])


def _distributions(requirements: list[str]) -> list[metadata.Distribution]:
    """The installed distributions these requirements need, theirs included."""
    found: dict[str, metadata.Distribution] = {}
    todo = [(Requirement(r), frozenset({""})) for r in requirements]
    while todo:
        req, extras = todo.pop()
        if req.marker and not any(req.marker.evaluate({"extra": e}) for e in extras):
            continue
        name = canonicalize_name(req.name)
        if name in found:
            continue
        found[name] = metadata.distribution(req.name)
        todo += [(Requirement(r), frozenset({"", *req.extras}))
                 for r in found[name].requires or []]
    return list(found.values())


def _copy_distributions(requirements: list[str], site: Path) -> None:
    for dist in _distributions(requirements):
        for file in dist.files or []:
            source = Path(str(dist.locate_file(file)))
            if file.parts[0] == ".." or not source.is_file():  # console scripts: not needed
                continue
            (site / file).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, site / file)


def _site_packages(venv: Path) -> Path:
    (found,) = venv.glob("lib/python*/site-packages")
    return found


def interpreter(user: tuple[int, int] | None) -> str | None:
    """A Python of this test's version that ``user`` (None: this process's) can run, or None.

    This environment's own base interpreter first; when it lives where that user cannot read
    (a root-only pyenv, say), the system's python3 of the same version.
    """
    candidates = [os.path.realpath(getattr(sys, "_base_executable", sys.executable)),
                  "/usr/bin/python3", "/usr/local/bin/python3"]
    want = f"{sys.version_info[0]}.{sys.version_info[1]}"
    for candidate in dict.fromkeys(candidates):
        if os.path.exists(candidate) and _version(candidate, user) == want:
            return candidate
    return None


def _version(python: str, user: tuple[int, int] | None) -> str | None:
    ids = {"user": user[0], "group": user[1], "extra_groups": []} if user else {}
    try:
        done = subprocess.run(
            [python, "-c", "import sys, venv; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True, text=True, cwd="/", **ids)  # type: ignore[call-overload]
    except OSError:
        return None
    return done.stdout.strip() if done.returncode == 0 else None
