"""Mermaid diagrams generated from the stack model (kept in docs/architecture.md)."""

from __future__ import annotations

from ticketctl.stack.model import Stack

BEGIN_MARKER = "<!-- BEGIN GENERATED: ticketctl render --target mermaid -->"
END_MARKER = "<!-- END GENERATED -->"


def _node_id(name: str) -> str:
    return name.replace("-", "_")


def infrastructure_mermaid(stack: Stack) -> str:
    """A flowchart of every service, its port, volumes and dependencies."""
    lines = ["```mermaid", "flowchart LR"]
    lines.append('    subgraph apps["application services (profile: apps)"]')
    for service in stack.services:
        if service.role == "application":
            lines.append(
                f'        {_node_id(service.name)}["{service.name}<br/>{service.technology} :{service.internal_port}"]'
            )
    lines.append("    end")
    lines.append(f'    subgraph infra["infrastructure (network: {stack.network})"]')
    for service in stack.infrastructure:
        extra = f"<br/>{' · '.join(stack.databases)}" if service.name == "mysql" else ""
        label = f"{service.name}<br/>{service.technology} :{service.internal_port}{extra}"
        lines.append(f'        {_node_id(service.name)}[("{label}")]')
    lines.append("    end")
    for volume in stack.volumes:
        lines.append(f'    vol_{_node_id(volume)}[/"volume {volume}"/]')
    for service in stack.services:
        environment = dict(service.environment)
        for dependency in service.depends_on:
            arrow = "-->" if dependency.condition == "service_healthy" else "-.->"
            database = environment.get("MYSQL_DATABASE") if dependency.service == "mysql" else None
            label = f"|{database}|" if isinstance(database, str) else ""
            lines.append(f"    {_node_id(service.name)} {arrow}{label} {_node_id(dependency.service)}")
        for mount in service.volumes:
            lines.append(f"    {_node_id(service.name)} --- vol_{_node_id(mount.volume)}")
    lines.append("```")
    return "\n".join(lines) + "\n"
