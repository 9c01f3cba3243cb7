"""A container beside the body ``up`` would create it from: every field that differs, by name.

The config hash on a container says *that* its service changed, not *what*;
and it says nothing at all about a change made behind ticketctl's back
(``docker update``, a container recreated by hand with the labels copied), since
the label is copied along. So the planner compares what the Engine holds
(``docker inspect``) with the ``POST /containers/create`` body of the service,
field by field, in the Engine's own terms: the image and the ID its tag points
to, each environment variable, the command, the healthcheck, published ports,
mounts, the restart policy, ulimits, the stop timeout, the file's labels, the
network, and the resource limits that only ``docker update`` sets.

The container's environment holds the image's variables too (``PATH``…), so a
variable counts as wanted when the file sets it or the image declares it.
Values of secrets are never shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ticketctl.config.masking import scrub_known
from ticketctl.config.secrets import OPTIONAL_SECRETS, STACK_SECRETS
from ticketctl.runtime.docker import ANONYMOUS_VOLUME_RE, Container, Image

SECRET_MARK = "(secret, not shown)"
_SECRET_NAMES = frozenset(spec.name for spec in (*STACK_SECRETS, *OPTIONAL_SECRETS))
_SECRET_SUFFIXES = ("PASSWORD", "SECRET", "TOKEN")

# HostConfig fields that ticketctl never sets and ``docker update`` does; any value but "unset" is drift.
UPDATE_FIELDS = {
    "Memory": "memory limit",
    "MemorySwap": "memory+swap limit",
    "MemoryReservation": "memory reservation",
    "NanoCpus": "CPU limit",
    "CpuShares": "CPU shares",
    "CpuQuota": "CPU quota",
    "CpuPeriod": "CPU period",
    "CpusetCpus": "CPUs allowed",
    "CpusetMems": "memory nodes allowed",
    "PidsLimit": "process limit",
    "BlkioWeight": "block IO weight",
}
_UNSET = (None, 0, "", -1)


@dataclass(frozen=True)
class FieldChange:
    """One field of a container that differs from what ``up`` would create, in the Engine's terms.

    ``live`` and ``wanted`` are display strings (None: absent on that side);
    ``setting`` names the ticketctl setting behind the field when one does.
    """

    field: str
    live: str | None
    wanted: str | None
    setting: str | None = None

    def describe(self) -> str:
        where = f" ({self.setting})" if self.setting else ""
        return f"{self.field}{where}: {_shown(self.live)} → {_shown(self.wanted)}"

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "live": self.live, "wanted": self.wanted, "setting": self.setting}


def _shown(value: str | None) -> str:
    return "(none)" if value is None else value


def compare_container(
    container: Container,
    body: Mapping[str, Any],
    image: Image | None,
    *,
    file_labels: Iterable[tuple[str, str]] = (),
    settings: Mapping[str, str] | None = None,
) -> list[FieldChange]:
    """Every field of ``container`` that differs from the create ``body``; ``image`` is what its tag points to now.

    ``image`` None means the image is not present (``up`` would pull it): its
    variables and ID are then unknown and not compared. ``settings`` maps a
    field (``image``, ``ports``) to the setting that chooses it.
    """
    named = settings or {}
    config, host = container.config, container.host_config
    changes = _image_changes(container, body, image, named.get("image"))
    changes += _environment_changes(container.environment, body.get("Env") or [], image)
    if "Cmd" in body and list(config.get("Cmd") or []) != list(body["Cmd"]):
        changes.append(FieldChange("command", *word_difference(_words(config.get("Cmd")), _words(body["Cmd"]))))
    if "Healthcheck" in body:
        live, wanted = _healthcheck(config.get("Healthcheck")), _healthcheck(body["Healthcheck"])
        if live != wanted:
            changes.append(FieldChange("healthcheck", live, wanted))
    wanted_host = body.get("HostConfig") or {}
    pairs = (
        ("ports", _ports(host.get("PortBindings")), _ports(wanted_host.get("PortBindings")), named.get("ports")),
        ("volumes", _mounts(_not_inherited(host.get("Mounts"))), _mounts(wanted_host.get("Mounts")), None),
        ("restart policy", _restart(host.get("RestartPolicy")), _restart(wanted_host.get("RestartPolicy")), None),
        ("ulimits", _ulimits(host.get("Ulimits")), _ulimits(wanted_host.get("Ulimits")), named.get("ulimits")),
        ("network", host.get("NetworkMode") or None, wanted_host.get("NetworkMode") or None, None),
        ("stop timeout", _seconds(config.get("StopTimeout")), _seconds(body.get("StopTimeout")), None),
    )
    changes += [FieldChange(field, live, wanted, setting) for field, live, wanted, setting in pairs if live != wanted]
    labels = dict(config.get("Labels") or {})
    changes += [
        FieldChange(f"label {key}", labels.get(key), value) for key, value in file_labels if labels.get(key) != value
    ]
    changes += [
        FieldChange(f"{label} (HostConfig.{key}, set by docker update)", _resource(key, host.get(key)), None)
        for key, label in UPDATE_FIELDS.items()
        if host.get(key) not in _UNSET
    ]
    return changes


def _image_changes(
    container: Container, body: Mapping[str, Any], image: Image | None, setting: str | None
) -> list[FieldChange]:
    wanted = str(body.get("Image") or "")
    if container.image != wanted:
        return [FieldChange("image", container.image or None, wanted, setting)]
    if image is None:
        return [FieldChange("image ID", _short(container.image_id), f"{wanted} is not present: up pulls it", setting)]
    if container.image_id != image.id:
        return [
            FieldChange(
                "image ID", _short(container.image_id), f"{_short(image.id)} ({wanted} points to it now)", setting
            )
        ]
    return []


def _environment_changes(
    live: Mapping[str, str], wanted_pairs: Iterable[str], image: Image | None
) -> list[FieldChange]:
    wanted = dict(str(pair).partition("=")[::2] for pair in wanted_pairs)
    declared = dict(image.environment) if image is not None else {}
    changes = []
    for key in sorted(set(live) | set(wanted)):
        expected = wanted.get(key, declared.get(key))
        if expected is None and image is None:
            continue  # the image's own variables are unknown until it is pulled
        if live.get(key) != expected:
            changes.append(FieldChange(f"environment {key}", _env_value(key, live.get(key)), _env_value(key, expected)))
    return changes


def is_secret(key: str, value: str) -> bool:
    """A variable whose value must never be shown: a stack secret, a password, or a value known to be secret."""
    upper = key.upper()
    return upper in _SECRET_NAMES or upper.endswith(_SECRET_SUFFIXES) or scrub_known(value) != value


def _env_value(key: str, value: str | None) -> str | None:
    if value is None:
        return None
    return SECRET_MARK if is_secret(key, value) else value


def _short(image_id: str) -> str:
    return image_id.removeprefix("sha256:")[:12] or "(none)"


def word_difference(live: str, wanted: str, context: int = 1) -> tuple[str, str]:
    """The part of two long values that differs, words around it elided: ``… --maxmemory 256mb …``."""
    before, after = live.split(), wanted.split()
    if len(before) + len(after) <= 12:
        return live, wanted
    start = 0
    while start < min(len(before), len(after)) and before[start] == after[start]:
        start += 1
    end = 0
    while end < min(len(before), len(after)) - start and before[-1 - end] == after[-1 - end]:
        end += 1
    first = max(0, start - context)

    def cut(words: list[str]) -> str:
        last = len(words) - max(0, end - context)
        return " ".join(["…"] * (first > 0) + words[first:last] + ["…"] * (last < len(words)))

    return cut(before), cut(after)


def _words(command: Any) -> str:
    return " ".join(str(word) for word in command or [])


def _healthcheck(health: Mapping[str, Any] | None) -> str | None:
    if not health or not health.get("Test") or list(health["Test"])[:1] == ["NONE"]:
        return None
    parts = [
        f"test {_words(health['Test'])}",
        *(
            f"{key.lower()} {_seconds_ns(health.get(key))}"
            for key in ("Interval", "Timeout", "StartPeriod", "StartInterval")
            if health.get(key)
        ),
        f"retries {health.get('Retries') or 0}",
    ]
    return ", ".join(parts)


def _seconds_ns(value: Any) -> str:
    return f"{int(value) / 1e9:g}s"


def _seconds(value: Any) -> str | None:
    return None if value is None else f"{int(value)}s"


def _ports(bindings: Mapping[str, Any] | None) -> str | None:
    found = sorted(
        f"{binding.get('HostIp') or '0.0.0.0'}:{binding.get('HostPort')}->{port}"
        for port, entries in (bindings or {}).items()
        for binding in entries or []
    )
    return ", ".join(found) or None


def _not_inherited(mounts: Iterable[Mapping[str, Any]] | None) -> list[Mapping[str, Any]]:
    """A container's mounts without the anonymous volumes it took over from the one it replaced (``up`` adds
    them to what it creates: see ``converge.inherited_mounts``)."""
    return [mount for mount in mounts or [] if not ANONYMOUS_VOLUME_RE.fullmatch(str(mount.get("Source", "")))]


def _mounts(mounts: Iterable[Mapping[str, Any]] | None) -> str | None:
    found = sorted(
        f"{mount.get('Source')}:{mount.get('Target')}" + (":ro" if mount.get("ReadOnly") else "")
        for mount in mounts or []
    )
    return ", ".join(found) or None


def _restart(policy: Mapping[str, Any] | None) -> str:
    name = str((policy or {}).get("Name") or "no")
    retries = int((policy or {}).get("MaximumRetryCount") or 0)
    return f"{name}:{retries}" if name == "on-failure" and retries else name


def _ulimits(limits: Iterable[Mapping[str, Any]] | None) -> str | None:
    found = sorted(f"{limit.get('Name')}={limit.get('Soft')}:{limit.get('Hard')}" for limit in limits or [])
    return ", ".join(found) or None


def _resource(key: str, value: Any) -> str:
    if key.startswith("Memory") and isinstance(value, int) and value > 0:
        return f"{value / 2**20:g} MiB"
    if key == "NanoCpus" and isinstance(value, int):
        return f"{value / 1e9:g} CPUs"
    return str(value)
