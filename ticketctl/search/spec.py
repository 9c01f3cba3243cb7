"""The index spec: the mapping file, its normal form and its SHA-256.

The file (``mappings/events.json``) holds the analysis settings, the mappings
and a ``_meta`` block. Shards and replicas are not in the file: they come from
``search.shards`` and ``search.replicas`` so that one file serves a laptop and
a cluster.

Drift is decided by comparing *normal forms*, never raw JSON. A live index
answers with server defaults and every setting as a string (``"1"``,
``"true"``), under ``index.`` prefixes; the file says ``1`` and ``true``.
:func:`desired_spec` and :func:`live_spec` reduce both sides to the same shape
(flat setting keys without ``index.``, scalars as strings, ``type: object``
dropped where ES omits it, ticketctl's own ``_meta.ticketctl`` block left out),
and :meth:`NormalSpec.digest` hashes that shape. Equal digests mean "in sync".
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ticketctl.config.files import read_text
from ticketctl.errors import ConfigError
from ticketctl.search.jsonpos import JsonPath, scan_keys

MAPPING_FILENAME = "events.json"
# ticketctl's own block inside the mapping's _meta; not part of the spec it describes.
TOOL_META_KEY = "ticketctl"
SHARDS = "number_of_shards"
REPLICAS = "number_of_replicas"
ALWAYS_MANAGED = (SHARDS, REPLICAS)
TOP_LEVEL_KEYS = ("settings", "mappings")
_NUMBERED_KEY = re.compile(r"^(.*)\.(\d+)$")


@dataclass(frozen=True)
class MappingFile:
    """A parsed mapping file, with the line of every key for error messages."""

    path: Path
    display: str
    settings: dict[str, Any]
    mappings: dict[str, Any]
    lines: dict[JsonPath, int] = field(repr=False)

    def where(self, *path: str | int) -> str:
        """``file:line`` of a key path, or of its nearest ancestor that has a line."""
        probe: JsonPath = tuple(path)
        while probe and probe not in self.lines:
            probe = probe[:-1]
        return f"{self.display}:{self.lines.get(probe, 1)}"

    @property
    def meta(self) -> dict[str, Any]:
        meta = self.mappings.get("_meta")
        return dict(meta) if isinstance(meta, dict) else {}

    @property
    def schema_version(self) -> int | None:
        version = self.meta.get("schema_version")
        return version if isinstance(version, int) and not isinstance(version, bool) else None

    @property
    def analyzer_examples(self) -> dict[str, dict[str, list[str]]]:
        """``_meta.analyzer_examples``: analyzer → text → the tokens it must produce."""
        examples = self.meta.get("analyzer_examples")
        return examples if isinstance(examples, dict) else {}

    @property
    def flat_settings(self) -> dict[str, Any]:
        """The file's settings as flat keys without ``index.``, values as written."""
        return flatten_settings(self.settings)


def default_mapping_path() -> Path:
    from ticketctl.config.resources import mappings_dir

    return mappings_dir() / MAPPING_FILENAME


def load_mapping(path: Path | None = None) -> MappingFile:
    """Read and structurally check a mapping file; errors name ``file:line``."""
    path = default_mapping_path() if path is None else path
    display = _display(path)
    missing = (
        "mapping file not found",
        "check the search.mapping setting or --mapping FILE; without either, reinstall ticketctl to restore the "
        "packaged mappings/events.json",
    )
    text = read_text(path, display, unreadable="cannot read mapping file", missing=missing)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(
            f"{display}:{error.lineno}:{error.colno}: invalid JSON: {error.msg}",
            hint="fix the JSON syntax at that position (a trailing comma or a missing quote is typical)",
        ) from None
    lines, duplicates = scan_keys(text)
    if duplicates:
        twice = duplicates[0]
        more = f" (and {len(duplicates) - 1} more)" if len(duplicates) > 1 else ""
        raise ConfigError(
            f"{display}:{twice.line}: {twice.dotted}: set twice in the same object, first on line "
            f"{twice.first_line}{more}",
            hint="keep one of the two: JSON would silently keep only the last",
        )
    if not isinstance(document, dict):
        raise ConfigError(f"{display}:1: expected a JSON object with 'settings' and 'mappings'")
    for key in document:
        if key not in TOP_LEVEL_KEYS:
            hint = (
                "remove it: ticketctl manages the alias itself (setting search.index)"
                if key == "aliases"
                else "the file holds only 'settings' and 'mappings'"
            )
            raise ConfigError(f"{display}:{lines.get((key,), 1)}: unexpected top-level key {key!r}", hint=hint)
    settings = document.get("settings", {})
    mappings = document.get("mappings")
    if not isinstance(settings, dict):
        raise ConfigError(f"{display}:{lines.get(('settings',), 1)}: 'settings' must be an object")
    if not isinstance(mappings, dict) or not isinstance(mappings.get("properties"), dict):
        line = lines.get(("mappings",), 1)
        raise ConfigError(
            f"{display}:{line}: 'mappings' must be an object with a 'properties' object",
            hint='write "mappings": {"properties": {"name": {"type": "text"}}}',
        )
    mapping_file = MappingFile(path=path, display=display, settings=settings, mappings=mappings, lines=lines)
    _refuse_sizing_settings(mapping_file)
    return mapping_file


def _refuse_sizing_settings(mapping_file: MappingFile) -> None:
    for key in mapping_file.flat_settings:
        if key in ALWAYS_MANAGED:
            setting = "search.shards" if key == SHARDS else "search.replicas"
            env = "TICKETCTL_" + setting.upper().replace(".", "__")
            raw_path = _raw_settings_path(mapping_file.settings, key)
            raise ConfigError(
                f"{mapping_file.where('settings', *raw_path)}: settings.{key}: shards and replicas come from settings",
                hint=f"remove it from the file and set {setting} (ticketctl.yaml or {env})",
            )


def _raw_settings_path(settings: Mapping[str, Any], flat_key: str) -> tuple[str, ...]:
    """The key path in the nested file of a flat setting key, for its line number."""
    for key, value in settings.items():
        bare = key.removeprefix("index.")
        if bare == flat_key or key == flat_key:
            return (key,)
        if isinstance(value, Mapping):
            prefix = "" if key == "index" else bare + "."
            if flat_key.startswith(prefix):
                rest = _raw_settings_path(value, flat_key[len(prefix) :])
                if rest:
                    return (key, *rest)
    return ()


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------- normal form


@dataclass(frozen=True)
class NormalSpec:
    """Settings and mappings in the one shape that both the file and a live index reduce to."""

    settings: dict[str, Any]
    mappings: dict[str, Any]

    def canonical_json(self) -> str:
        return json.dumps(
            {"settings": self.settings, "mappings": self.mappings},
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )

    def digest(self) -> str:
        """SHA-256 (hex) of the canonical JSON of the normal form."""
        return hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()


def normal_scalar(value: Any) -> Any:
    """The string form that ES/OpenSearch echo back: ``1`` → ``"1"``, ``True`` → ``"true"``."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def normal_value(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(key): normal_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [normal_value(item) for item in value]
    return normal_scalar(value)


def flatten_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Nested or dotted settings → flat keys without the ``index.`` prefix.

    Old servers flatten arrays as ``filter.0``, ``filter.1``; those are folded
    back into lists so both forms compare equal.
    """
    flat: dict[str, Any] = {}

    def walk(node: Mapping[str, Any], prefix: str) -> None:
        for key, value in node.items():
            dotted = f"{prefix}{key}"
            if isinstance(value, Mapping):
                walk(value, dotted + ".")
            else:
                flat[dotted] = list(value) if isinstance(value, tuple) else value

    walk(settings, "")
    stripped = {key.removeprefix("index."): value for key, value in flat.items()}
    return _fold_numbered_keys(stripped)


def _fold_numbered_keys(flat: dict[str, Any]) -> dict[str, Any]:
    numbered: dict[str, dict[int, Any]] = {}
    folded: dict[str, Any] = {}
    for key, value in flat.items():
        match = _NUMBERED_KEY.match(key)
        if match is not None:
            numbered.setdefault(match.group(1), {})[int(match.group(2))] = value
        else:
            folded[key] = value
    for key, items in numbered.items():
        if key in folded:  # a real key ending in digits next to a scalar: keep both as they were
            folded.update({f"{key}.{index}": item for index, item in items.items()})
        else:
            folded[key] = [items[index] for index in sorted(items)]
    return folded


def normal_mappings(mappings: Mapping[str, Any]) -> dict[str, Any]:
    """Mappings in normal form: scalars as strings, ``type: object`` dropped, tool meta left out."""
    out: dict[str, Any] = {}
    for key, value in mappings.items():
        if key == "_meta":
            meta = {k: v for k, v in (value or {}).items() if k != TOOL_META_KEY}
            if meta:
                out["_meta"] = normal_value(meta)
        elif key == "properties":
            out["properties"] = {name: _normal_field(spec) for name, spec in (value or {}).items()}
        else:
            out[key] = normal_value(value)
    return out


def _normal_field(spec: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in spec.items():
        if key in ("properties", "fields") and isinstance(value, Mapping):
            out[key] = {name: _normal_field(child) for name, child in value.items()}
        else:
            out[key] = normal_value(value)
    if "properties" in out and out.get("type") == "object":
        del out["type"]  # ES and OpenSearch omit the implicit object type when they echo a mapping
    return out


def desired_spec(mapping_file: MappingFile, *, shards: int, replicas: int) -> NormalSpec:
    """The normal form of what the file asks for, with concrete shards and replicas."""
    settings = {key: normal_value(value) for key, value in mapping_file.flat_settings.items()}
    settings[SHARDS] = normal_scalar(shards)
    settings[REPLICAS] = normal_scalar(replicas)
    return NormalSpec(settings=settings, mappings=normal_mappings(mapping_file.mappings))


def managed_setting_keys(mapping_file: MappingFile) -> list[str]:
    """The setting keys ticketctl owns on the index, recorded in ``_meta`` at create/migrate time."""
    return sorted({*mapping_file.flat_settings, *ALWAYS_MANAGED})


def live_spec(
    live_settings: Mapping[str, Any],
    live_mappings: Mapping[str, Any],
    *,
    managed_keys: Iterable[str],
) -> NormalSpec:
    """The normal form of a live index.

    Only managed settings count (shards, replicas, the file's keys, the keys
    recorded at the last apply, and all of ``analysis``); the dozens of
    server-generated ones (uuid, creation_date, version, provided_name, …) do not.
    """
    flat = flatten_settings(live_settings)
    wanted = set(managed_keys) | set(ALWAYS_MANAGED)
    settings = {key: normal_value(value) for key, value in flat.items() if key in wanted or key.startswith("analysis.")}
    return NormalSpec(settings=settings, mappings=normal_mappings(live_mappings))


# --------------------------------------------------------------------------- request bodies


def unflatten(flat: Mapping[str, Any]) -> dict[str, Any]:
    """Flat dotted keys → nested objects, for readable request bodies."""
    nested: dict[str, Any] = {}
    for key in sorted(flat):
        node = nested
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):  # a scalar and a subtree share a prefix: send the flat key
                node = nested
                parts = [key]
                break
            node = child
        node[parts[-1]] = flat[key]
    return nested


def tool_meta(mapping_file: MappingFile, spec: NormalSpec) -> dict[str, Any]:
    """The ``_meta.ticketctl`` block: what applied this index, and the spec it was applied from.

    The spec itself is recorded (in normal form) beside its hash, so that a
    change made later through the search API can be named field by field.
    """
    from ticketctl import __version__

    return {
        "spec_hash": spec.digest(),
        "schema_version": mapping_file.schema_version,
        "tool_version": __version__,
        "managed_settings": managed_setting_keys(mapping_file),
        "spec": {"settings": spec.settings, "mappings": spec.mappings},
    }


def index_settings_body(mapping_file: MappingFile, *, shards: int, replicas: int) -> dict[str, Any]:
    flat = dict(mapping_file.flat_settings)
    flat[SHARDS] = shards
    flat[REPLICAS] = replicas
    return {"index": unflatten(flat)}


def mappings_body(mapping_file: MappingFile, spec: NormalSpec) -> dict[str, Any]:
    mappings = json.loads(json.dumps(mapping_file.mappings))  # a deep copy
    meta = dict(mappings.get("_meta") or {})
    meta[TOOL_META_KEY] = tool_meta(mapping_file, spec)
    mappings["_meta"] = meta
    return dict(mappings)


def creation_body(
    mapping_file: MappingFile, *, shards: int, replicas: int, alias: str | None, spec: NormalSpec
) -> dict[str, Any]:
    """The one request body that creates a version: settings, mappings with ``_meta``, and the alias."""
    body: dict[str, Any] = {
        "settings": index_settings_body(mapping_file, shards=shards, replicas=replicas),
        "mappings": mappings_body(mapping_file, spec),
    }
    if alias is not None:
        body["aliases"] = {alias: {"is_write_index": True}}
    return body
