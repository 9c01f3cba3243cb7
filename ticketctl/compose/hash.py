"""Compose v2's ``com.docker.compose.config-hash`` of a service, computed the way Compose computes it.

``docker compose up`` recreates a container whose ``config-hash`` label differs
from the hash it computes for the service (``ServiceHash`` in Compose's
``pkg/compose/hash.go``): SHA-256 over Go's ``json.Marshal`` of compose-go's
``ServiceConfig`` with ``build``, ``pull_policy``, ``scale``,
``deploy.replicas``, ``depends_on`` and ``profiles`` cleared. ticketctl puts
that same hash on its containers, so Compose's own ``up`` in a ticketctl stack
folder changes nothing.

The document is rebuilt here for the part of the Compose specification that
ticketctl's loader accepts (:data:`ticketctl.compose.file.SERVICE_KEYS`):
fields in ``ServiceConfig``'s declaration order, the normal forms compose-go
gives short syntaxes (``ports``, ``volumes``, ``healthcheck.test``), Go's
duration strings and Go's JSON string escaping. It is pinned to the Compose
version of :data:`COMPOSE_VERSION`, which the tests run beside it
(``docker compose config --hash '*'`` must print the same hashes).
"""

from __future__ import annotations

import hashlib
import posixpath
import shlex
from collections.abc import Mapping
from typing import Any

from ticketctl.compose.syntax import PORT_RE, go_duration, parse_duration, scalar

COMPOSE_VERSION = "2.40.3"
"""The Compose release whose hash this module reproduces (compose-go v2.9.1)."""


def compose_service_hash(body: Mapping[str, Any]) -> str:
    """The config hash Compose gives the service whose interpolated file body is ``body``."""
    encoded = go_json(compose_service_document(body))
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


def compose_service_document(body: Mapping[str, Any]) -> dict[str, Any]:
    """compose-go's ``ServiceConfig`` of ``body`` as Go marshals it, without the fields Compose leaves out."""
    document: dict[str, Any] = {"command": _command(body.get("command"))}
    if body.get("configs"):
        document["configs"] = [_config(item) for item in body["configs"]]
    document["entrypoint"] = None
    if body.get("environment"):
        document["environment"] = _mapping(body["environment"], keep_null=True)
    if body.get("healthcheck"):
        document["healthcheck"] = _healthcheck(body["healthcheck"])
    if body.get("image"):
        document["image"] = str(body["image"])
    if body.get("labels"):
        document["labels"] = _mapping(body["labels"], keep_null=False)
    document["networks"] = _networks(body.get("networks"))
    if body.get("ports"):
        document["ports"] = [_port(item) for item in body["ports"]]
    if body.get("restart"):
        document["restart"] = str(body["restart"])
    if body.get("stop_grace_period") is not None:
        document["stop_grace_period"] = go_duration(parse_duration(body["stop_grace_period"]))
    if body.get("ulimits"):
        document["ulimits"] = {name: _ulimit(value) for name, value in sorted(body["ulimits"].items())}
    if body.get("user") not in (None, ""):
        document["user"] = scalar(body["user"])
    if body.get("volumes"):
        document["volumes"] = [_volume(item) for item in body["volumes"]]
    return document


def _command(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return shlex.split(value)
    return [scalar(item) for item in value]


def _mapping(value: Any, *, keep_null: bool) -> dict[str, Any]:
    """``environment`` and ``labels``: a mapping or a list of KEY[=VALUE], keys sorted as Go sorts map keys."""
    items: dict[str, Any] = {}
    if isinstance(value, Mapping):
        for key, item in value.items():
            items[str(key)] = None if item is None and keep_null else ("" if item is None else scalar(item))
    else:
        for entry in value:
            key, equals, item = str(entry).partition("=")
            items[key] = item if equals else (None if keep_null else "")
    return dict(sorted(items.items()))


def _config(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        return {"source": value}
    reference: dict[str, Any] = {}
    for key in ("source", "target", "uid", "gid"):
        if value.get(key) not in (None, ""):
            reference[key] = scalar(value[key])
    if value.get("mode") is not None:
        mode = value["mode"]
        reference["mode"] = "0%o" % (int(mode, 8) if isinstance(mode, str) else int(mode))
    return reference


def _healthcheck(value: Mapping[str, Any]) -> dict[str, Any]:
    health: dict[str, Any] = {}
    test = value.get("test")
    if test is not None:
        health["test"] = ["CMD-SHELL", test] if isinstance(test, str) else [scalar(part) for part in test]
    for key in ("timeout", "interval"):
        if value.get(key) is not None:
            health[key] = go_duration(parse_duration(value[key]))
    if value.get("retries") is not None:
        health["retries"] = int(value["retries"])
    for key in ("start_period", "start_interval"):
        if value.get(key) is not None:
            health[key] = go_duration(parse_duration(value[key]))
    if value.get("disable"):
        health["disable"] = True
    return health


def _networks(value: Any) -> dict[str, None]:
    if not value:
        return {"default": None}
    return {str(name): None for name in sorted(value)}


def _port(value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping):
        port = {"mode": value.get("mode", "ingress")}
        if value.get("host_ip"):
            port["host_ip"] = str(value["host_ip"])
        port["target"] = int(value["target"])
        if value.get("published") not in (None, ""):
            port["published"] = scalar(value["published"])
        port["protocol"] = value.get("protocol", "tcp")
        return port
    match = PORT_RE.match(scalar(value))
    if match is None:  # the loader refused it already
        raise ValueError(f"not a port: {value!r}")
    parsed: dict[str, Any] = {"mode": "ingress"}
    if match.group("ip"):
        parsed["host_ip"] = match.group("ip").strip("[]")
    parsed["target"] = int(match.group("container"))
    if match.group("host"):
        parsed["published"] = match.group("host")
    parsed["protocol"] = match.group("proto") or "tcp"
    return parsed


def _ulimit(value: Any) -> Any:
    if isinstance(value, int):
        return value
    return {"soft": int(value["soft"]), "hard": int(value["hard"])}


def _volume(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        source, target, *options = value.split(":")
        mount: dict[str, Any] = {"type": "volume", "source": source, "target": _clean_path(target)}
        if "ro" in options:
            mount["read_only"] = True
        mount["volume"] = {}
        return mount
    mount = {"type": value.get("type", "volume")}
    for key in ("source", "target"):
        if value.get(key):
            mount[key] = str(value[key])
    if value.get("read_only"):
        mount["read_only"] = True
    return mount


def _clean_path(target: str) -> str:
    """Go's ``path.Clean``, which compose-go applies to the target of a short volume syntax."""
    cleaned = posixpath.normpath(target) if target else ""
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


# --------------------------------------------------------------------------- Go's encoding/json


def go_json(value: Any) -> str:
    """``value`` as Go's ``json.Marshal`` writes it: compact, in the given key order, HTML-safe escapes."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _go_string(value)
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{_go_string(str(key))}:{go_json(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(go_json(item) for item in value) + "]"
    raise TypeError(f"cannot encode {type(value).__name__} as Go JSON")


_GO_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _go_string(text: str) -> str:
    """Go escapes <, > and & (HTML safety), U+2028/U+2029 and control characters as \\u00XX; other text is UTF-8."""
    out = ['"']
    for character in text:
        code = ord(character)
        if character in _GO_ESCAPES:
            out.append(_GO_ESCAPES[character])
        elif code < 0x20 or character in "<>&" or code in (0x2028, 0x2029):
            out.append(f"\\u{code:04x}")
        else:
            out.append(character)
    out.append('"')
    return "".join(out)
