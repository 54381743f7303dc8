"""``project.toml``: name, schema version, skeleton, image root, settings, metadata.

Example::

    name = "my_capture"
    schema_version = 1
    skeleton = "interhand2.6m-42"
    image_root = "images"

    [settings]
    [metadata]

Unknown top-level keys are rejected (a typo should not be silently ignored). ``settings``
and ``metadata`` are free-form tables. Migrations between schema versions live in
:mod:`annotator.store.migrations`.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import tomli_w

from annotator.store.atomic import atomic_write_bytes
from annotator.store.errors import ProjectFormatError
from annotator.store.layout import PROJECT_NAME

__all__ = [
    "ProjectFile",
    "read_project_file",
    "write_project_file",
    "encode_project_file",
    "SCHEMA_VERSION",
    "SKELETON_ID",
    "PROJECT_NAME",
]

#: The schema this code writes. Bump it together with a new entry in migrations.MIGRATIONS.
SCHEMA_VERSION = 1
#: The only skeleton supported: annotator.skeleton (InterHand2.6M order, 42 joints).
SKELETON_ID = "interhand2.6m-42"
_KEYS = {"name", "schema_version", "skeleton", "image_root", "settings", "metadata"}


@dataclass(frozen=True)
class ProjectFile:
    """The contents of ``project.toml``."""

    name: str
    schema_version: int = SCHEMA_VERSION
    skeleton: str = SKELETON_ID
    image_root: str = "images"
    settings: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    def replace(self, **changes: Any) -> ProjectFile:
        return replace(self, **changes)


def read_raw(project_dir: Path) -> dict[str, Any]:
    """Parse ``project.toml`` without validating keys (migrations read old layouts)."""
    path = Path(project_dir) / PROJECT_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProjectFormatError(f"{project_dir}: not a project (no {PROJECT_NAME})") from None
    except UnicodeDecodeError:
        raise ProjectFormatError(f"{path}: not UTF-8 text") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProjectFormatError(f"{path}: malformed TOML ({exc})") from None


def read_project_file(project_dir: Path) -> ProjectFile:
    """Read and validate ``project.toml`` (any schema version; the caller checks it)."""
    path = Path(project_dir) / PROJECT_NAME
    data = read_raw(project_dir)
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise ProjectFormatError(f"{path}: unknown keys {', '.join(unknown)}")
    version = data.get("schema_version", 0)
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise ProjectFormatError(f"{path}: schema_version must be a non-negative integer")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise ProjectFormatError(f"{path}: 'name' must be a non-empty string")
    image_root = data.get("image_root", "images")
    if not isinstance(image_root, str):
        raise ProjectFormatError(f"{path}: 'image_root' must be a string")
    skeleton = data.get("skeleton", SKELETON_ID)
    if version >= 1 and skeleton != SKELETON_ID:
        raise ProjectFormatError(
            f"{path}: unsupported skeleton {skeleton!r} (this version knows {SKELETON_ID!r})"
        )
    for table in ("settings", "metadata"):
        if not isinstance(data.get(table, {}), dict):
            raise ProjectFormatError(f"{path}: [{table}] must be a table")
    return ProjectFile(
        name=name,
        schema_version=version,
        skeleton=skeleton,
        image_root=image_root,
        settings=dict(data.get("settings", {})),
        metadata=dict(data.get("metadata", {})),
    )


def encode_project_file(project_dir: Path, pf: ProjectFile) -> bytes:
    """The bytes of ``project.toml`` for ``pf``; raises ProjectFormatError before any write."""
    data = {
        "name": pf.name,
        "schema_version": pf.schema_version,
        "skeleton": pf.skeleton,
        "image_root": pf.image_root,
        "settings": pf.settings,
        "metadata": pf.metadata,
    }
    try:
        text = tomli_w.dumps(data)
    except TypeError as exc:
        raise ProjectFormatError(
            f"{Path(project_dir) / PROJECT_NAME}: settings/metadata not TOML-serialisable ({exc})"
        ) from None
    return text.encode("utf-8")


def write_project_file(project_dir: Path, pf: ProjectFile, data: bytes | None = None) -> None:
    """Atomically write ``project.toml`` (``data``: its bytes, already encoded)."""
    if data is None:
        data = encode_project_file(project_dir, pf)
    atomic_write_bytes(Path(project_dir) / PROJECT_NAME, data)
