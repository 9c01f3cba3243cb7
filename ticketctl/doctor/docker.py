"""Docker checks: the Engine, the project's containers, leftovers of older configurations, host ports."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ticketctl.doctor.core import Check, CheckContext, Outcome
from ticketctl.doctor.host import judge_max_map_count

if TYPE_CHECKING:
    from ticketctl.project import ProjectInspection
    from ticketctl.runtime.docker import DockerRuntime

GIB = 1024**3
RECOMMENDED_MEMORY = 4 * GIB
MINIMUM_MEMORY = 2 * GIB


def _runtime(context: CheckContext) -> DockerRuntime:
    from ticketctl.runtime.docker import DockerRuntime

    return context.shared("docker", lambda: DockerRuntime.connect(timeout=context.timeout))


def _inspection(context: CheckContext) -> ProjectInspection:
    from ticketctl.project import inspect_project

    return context.shared("inspection", lambda: inspect_project(context.settings, _runtime(context)))


def check_daemon(context: CheckContext) -> Outcome:
    runtime = _runtime(context)
    info = context.shared("engine-info", runtime.info)
    return Outcome.ok(
        f"Engine {info.version} (API {info.api_version}) on {info.operating_system} at {runtime.endpoint.describe()}",
        version=info.version,
        api_version=info.api_version,
    )


def check_memory(context: CheckContext) -> Outcome:
    info = context.shared("engine-info", _runtime(context).info)
    memory = f"{info.memory_bytes / GIB:.1f} GiB"
    if info.memory_bytes >= RECOMMENDED_MEMORY:
        return Outcome.ok(f"{memory} of memory and {info.cpus} CPU(s) available to containers", bytes=info.memory_bytes)
    fix = "give Docker at least 4 GiB (Docker Desktop: Settings → Resources), or lower search.heap"
    if info.memory_bytes >= MINIMUM_MEMORY:
        return Outcome.warn(f"only {memory} of memory available to containers; 4 GiB recommended", fix)
    return Outcome.fail(f"only {memory} of memory available to containers; MySQL and the search engine need more", fix)


def check_vm_max_map_count(context: CheckContext) -> Outcome:
    """Where the Engine runs in a VM (or on another host), read the setting inside a throwaway container."""
    runtime = _runtime(context)
    info = context.shared("engine-info", runtime.info)
    if runtime.endpoint.is_local and not info.runs_in_a_vm:
        return Outcome.skip("skipped: the Engine shares this host's kernel (see host.max_map_count)")
    image = context.settings.search_image
    if runtime.image_id(image) is None:
        return Outcome.skip(f"skipped: {image} is not present to read the Engine's kernel setting")
    output = runtime.run_once(image, ["cat", "/proc/sys/vm/max_map_count"], timeout=context.timeout)
    try:
        value = int(output.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return Outcome.warn(
            f"could not read vm.max_map_count in a container: {output.strip()[:80]!r}",
            "run: docker run --rm IMAGE cat /proc/sys/vm/max_map_count",
        )
    return judge_max_map_count(value, f"the Engine's VM ({info.operating_system})")


def service_check(service: str) -> Callable[[CheckContext], Outcome]:
    def run(context: CheckContext) -> Outcome:
        inspection = _inspection(context)
        found = next((s for s in inspection.services if s.service.name == service), None)
        if found is None:
            return Outcome.skip(f"skipped: {service} is not in {inspection.compose_file} for the active profiles")
        container = found.existing
        if container is None:
            return Outcome.fail(f"{service} has no container", "ticketctl up")
        if container.state == "paused":
            return Outcome.fail(
                f"{container.name} is paused",
                f"`docker unpause {container.name}` resumes it as it was (`ticketctl up` would recreate it)",
            )
        if container.state != "running":
            last = container.last_log_lines(3)
            tail = f"; last log line: {last[-1]}" if last else ""
            return Outcome.fail(
                f"{container.name} is {container.state_text}{tail}",
                f"ticketctl up starts it; `docker logs {container.name}` shows why it stopped",
            )
        if container.health == "unhealthy":
            output = container.health_output.strip().splitlines()
            probe = output[-1] if output else "no output"
            return Outcome.fail(
                f"{container.name} is unhealthy: {probe}",
                f"see `docker logs {container.name}`; ticketctl up --force-recreate {service} restarts it",
            )
        # A change made behind ticketctl's back fails the check whatever the health (a recreated one starts).
        if found.drift:
            changed = "; ".join(change.describe() for change in found.drift[:3])
            more = f" (+{len(found.drift) - 3} more)" if len(found.drift) > 3 else ""
            return Outcome.fail(
                f"{container.name} was changed outside ticketctl: {changed}{more}",
                f"ticketctl up --force-recreate {service} puts it back as the file says (its volumes are kept)",
                drift=[change.as_dict() for change in found.drift],
            )
        if container.health == "starting":
            return Outcome.warn(f"{container.name} is still starting", "wait, or run `ticketctl up` which waits for it")
        if found.outdated:
            changed = "; ".join(change.describe() for change in found.changes[:3])
            return Outcome.warn(
                f"{container.name} runs an older configuration or image than {inspection.compose_file}: {changed}",
                f"ticketctl up recreates {service} (its volumes are kept)",
            )
        if found.compose_would_recreate:
            return Outcome.warn(
                f"`docker compose up` would recreate {container.name}: an older ticketctl created it without "
                "Compose's config hash",
                f"ticketctl up --force-recreate {service} (its volumes are kept)",
            )
        health = f" and {container.health}" if container.health else ""
        return Outcome.ok(f"{container.name} is running{health}")

    return run


def check_data_secrets(context: CheckContext) -> Outcome:
    """The same judgement as up's before it changes anything (ticketctl.runtime.data_secrets)."""
    from ticketctl.clients.mysql import login_probe
    from ticketctl.runtime.data_secrets import SecretsMismatchError, assess
    from ticketctl.stack.model import build_stack

    settings = context.settings
    found = assess(settings, _runtime(context), build_stack(settings), context.secrets, login=login_probe(settings))
    if found.mismatches:
        error = SecretsMismatchError(settings, found.mismatches)
        return Outcome.fail(error.message, error.hint or "", volumes=[m.volume for m in found.mismatches])
    if found.unknown:
        return Outcome.ok(
            f"{', '.join(found.unknown)} predate ticketctl's record of secrets and MySQL is not running: "
            "up checks the login once it runs"
        )
    if found.agreeing:
        return Outcome.ok(f"the secrets in effect are those {', '.join(found.agreeing)} knows")
    return Outcome.ok("no data volume yet: up creates them with the secrets in effect")


def check_leftovers(context: CheckContext) -> Outcome:
    inspection = _inspection(context)
    notes: list[str] = []
    fixes: list[str] = []
    if inspection.orphans:
        notes.append("containers of services no longer in the stack: " + ", ".join(c.name for c in inspection.orphans))
        fixes.append("ticketctl up --remove-orphans")
    if inspection.unused_volumes:
        notes.append("volumes no service mounts: " + ", ".join(inspection.unused_volumes))
        fixes.append(f"check their data, then `docker volume rm {' '.join(inspection.unused_volumes)}`")
    if notes:
        return Outcome.warn("; ".join(notes), "; ".join(fixes))
    return Outcome.ok("no containers or volumes left from an older configuration")


def check_users(context: CheckContext) -> Outcome:
    """No service's main process runs as root: each image's entrypoint drops to its own user."""
    inspection = _inspection(context)
    runtime = _runtime(context)
    as_root: list[str] = []
    checked = 0
    for found in inspection.services:
        container = found.existing
        if container is None or container.state != "running":
            continue
        uid = runtime.main_process_uid(container)
        if uid is None:
            continue
        checked += 1
        if uid == 0:
            as_root.append(container.name)
    if as_root:
        return Outcome.fail(
            f"running as root (uid 0): {', '.join(as_root)}",
            "ticketctl render and ticketctl up recreate them as their own users; an image of yours "
            "should set USER or drop privileges in its entrypoint",
            containers=as_root,
        )
    return Outcome.ok(f"no service runs as root ({checked} running checked)", checked=checked)


def check_ports(context: CheckContext) -> Outcome:
    inspection = _inspection(context)
    if inspection.port_conflicts:
        conflict = inspection.port_conflicts[0]
        more = f" (+{len(inspection.port_conflicts) - 1} more)" if len(inspection.port_conflicts) > 1 else ""
        return Outcome.fail(conflict.describe() + more, conflict.fix)
    return Outcome.ok("every host port is free or held by this project's own container")


def docker_checks(services: list[str]) -> list[Check]:
    checks = [
        Check("docker.daemon", "the Docker Engine answers; its version and API", check_daemon, needs_docker=True),
        Check(
            "docker.memory", "memory available to containers", check_memory, needs=("docker.daemon",), needs_docker=True
        ),
        Check(
            "docker.max_map_count",
            "vm.max_map_count inside the Engine's VM, when it runs in one",
            check_vm_max_map_count,
            needs=("docker.daemon",),
            needs_docker=True,
        ),
    ]
    checks.append(
        Check(
            "containers.secrets",
            "the data volumes know the secrets of .env (a lost .env would lock the stack out of its data)",
            check_data_secrets,
            needs=("docker.daemon",),
            needs_docker=True,
        )
    )
    checks += [
        Check(
            f"containers.{service}",
            f"{service} is running and healthy",
            service_check(service),
            needs=("containers.secrets",),
            needs_docker=True,
        )
        for service in services
    ]
    checks += [
        Check(
            "containers.leftovers",
            "no containers or volumes from an older configuration",
            check_leftovers,
            needs=("docker.daemon",),
            needs_docker=True,
        ),
        Check(
            "containers.users",
            "no service runs as root (uid 0)",
            check_users,
            needs=("docker.daemon",),
            needs_docker=True,
        ),
        Check(
            "ports.host",
            "host ports are free or held by this project's containers",
            check_ports,
            needs=("docker.daemon",),
            needs_docker=True,
        ),
    ]
    return checks
