"""``ticketctl plan``: what ``up`` would do now, and what changed behind its back, without changing anything.

The command loads settings and secrets, connects to the Engine (unless
``docker.enabled`` is false), makes one call (:func:`ticketctl.plan.plan`) and
draws the report: as text, as JSON, or as GitHub Actions annotations. The exit
code is the report's: 0 nothing to do, 20 changes, 10 drift, or the code of
what would stop ``up`` (5 a port, 8 a refused migration) or of a server that
did not answer.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import typer

from ticketctl.cli.common import console, flag, load, print_json, secrets_of

if TYPE_CHECKING:
    from ticketctl.plan import Finding, PlanReport

FORMATS = ("text", "json", "github")


def plan_command(
    ctx: typer.Context,
    services: list[str] = typer.Argument(None, help="Only these services (and what they depend on), as for up."),
    no_render: bool = typer.Option(
        False, "--no-render", help="Plan with the files already rendered, as up --no-render."
    ),
    force_recreate: bool = typer.Option(False, "--force-recreate", help="As up --force-recreate."),
    remove_orphans: bool = typer.Option(False, "--remove-orphans", help="As up --remove-orphans."),
    no_init: bool = typer.Option(False, "--no-init", help="Leave out the migrations and the index, as up --no-init."),
    profile: list[str] = typer.Option(None, "--profile", help="Enable a profile ('apps'); overrides the setting."),
    sql: bool = typer.Option(False, "--sql", help="Print the SQL of every pending migration."),
    schema_drift: bool = typer.Option(
        False,
        "--schema-drift",
        help="Also compare each database with its applied migrations, on a throwaway shadow database "
        "(the one write of plan: see 'ticketctl migrate drift').",
    ),
    output_format: str = typer.Option(
        "text", "--format", metavar="FORMAT", help="text, json or github (annotations for GitHub Actions)."
    ),
    json_output: bool = typer.Option(False, "--json", help="Same as --format json."),
) -> None:
    """Show what 'ticketctl up' would do now, and what was changed outside ticketctl. Changes nothing.

    Containers to create, recreate (with the fields that changed) or start, orphans, host ports that
    clash, files render would write, pending migrations per database (--sql prints them), the index
    change (create, in place, or a reindex that moves the alias) and drift of containers and the
    index (--schema-drift adds the databases). Exit codes: 0 nothing would change, 20 up would
    change something, 10 drift (something changed outside ticketctl, or the index differs from the
    mapping file), 5 a host port is taken, 8 a migration would be refused, 4/7/9 a server did not
    answer. In CI: 'ticketctl plan --format github' fails the job on anything but 0.
    """
    from ticketctl.plan import PlanOptions, plan

    chosen = "json" if json_output else output_format
    if chosen not in FORMATS:
        raise typer.BadParameter(f"unknown format {chosen!r}; use text, json or github", param_hint="--format")
    settings = load(ctx, {"profiles": flag(list(profile) if profile else None, "--profile")})
    runtime = None
    if settings.docker_enabled:
        from ticketctl.cli.stack import connect

        runtime = connect(settings)
    options = PlanOptions(
        render=not no_render,
        services=tuple(services or ()),
        force_recreate=force_recreate,
        remove_orphans=remove_orphans,
        initialise=not no_init,
        schema_drift=schema_drift,
    )
    from ticketctl.cli.migrate import drift_interruption

    with drift_interruption("plan"):
        report = plan(settings, secrets_of(settings), runtime, options)
    if chosen == "json":
        print_json(report.as_dict(statements=sql))
    elif chosen == "github":
        print_github(report)
    else:
        print_text(report, sql=sql)
    raise typer.Exit(int(report.exit_code))


# --------------------------------------------------------------------------- text


_MARKS = {"change": "~", "drift": "!", "blocked": "✗", "unknown": "?", "error": "✗", "note": "·"}
_STYLES = {"change": "yellow", "drift": "red", "blocked": "red", "unknown": "yellow", "error": "red", "note": "dim"}


Line = list[tuple[str, str]]  # one line of text as (text, rich style) pieces


def print_text(report: PlanReport, *, sql: bool) -> None:
    """The plan for a person: styled on a terminal; plain lines otherwise (a pipe, a CI log), without importing
    rich (its 30-90 ms would be most of what a no-op ``plan`` costs beyond a no-op ``up``)."""
    lines = text_lines(report, sql=sql)
    if not sys.stdout.isatty():
        sys.stdout.write("".join("".join(text for text, _ in line) + "\n" for line in lines))
        return
    from rich.text import Text

    out = console()
    for line in lines:
        out.print(Text.assemble(*line), soft_wrap=True)


def text_lines(report: PlanReport, *, sql: bool) -> list[Line]:
    from ticketctl.config.masking import scrub_known

    where = f" on {report.stack.endpoint}" if report.stack else ""
    lines: list[Line] = [[(f"plan of {report.project}", "bold"), (where, "")]]
    sections: dict[str, list[Finding]] = {}
    for finding in report.findings:
        sections.setdefault(finding.section, []).append(finding)
    for section in ("files", "ports", "containers", "users", "migrations", "index", "schema", "plan"):
        for finding in sections.get(section, []):
            mark, style = _MARKS[finding.kind], _STYLES[finding.kind]
            lines.append([("  ", ""), (mark, style), (f" {section:<10} {scrub_known(finding.message)}", "")])
    if sql and report.migrations is not None:
        lines += _sql_lines(report)
    lines += [[(f"  · {note}", "dim")] for note in report.notes]
    lines += [[(f"  fix ({error.section}): {error.error.hint}", "")] for error in report.errors]
    lines.append([(_summary(report), "")])
    return lines


def _sql_lines(report: PlanReport) -> list[Line]:
    from ticketctl.migrations.planner import causes_implicit_commit

    assert report.migrations is not None
    lines: list[Line] = []
    for database in report.migrations.databases:
        for step in database.pending:
            migration = step.migration
            lines.append([(f"-- {database.name} {migration.label} {migration.description}", "bold")])
            for statement in step.statements:
                tag = "implicit commit" if causes_implicit_commit(statement) else "transactional"
                lines.append([(f"-- {migration.where(statement)}  [{tag}]", "dim")])
                lines.append([(statement.text + ";", "")])
    return lines


def _summary(report: PlanReport) -> str:
    counts = {kind: sum(1 for f in report.findings if f.kind == kind) for kind in ("change", "drift", "blocked")}
    if report.errors:
        verdict = f"incomplete: {len(report.errors)} part(s) could not be read"
    elif counts["blocked"]:
        verdict = f"up would stop: {counts['blocked']} problem(s) to fix first"
    elif counts["drift"]:
        verdict = f"drift: {counts['drift']} thing(s) changed outside ticketctl or differ from the files"
    elif counts["change"]:
        verdict = f"up would make {counts['change']} change(s)"
    else:
        verdict = "nothing to do: up would change nothing"
    return f"{verdict} (exit {int(report.exit_code)}, {report.seconds:.2f}s)"


# --------------------------------------------------------------------------- GitHub Actions


def print_github(report: PlanReport) -> None:
    """One workflow command per finding (``::error``/``::warning``/``::notice``), and the summary as a notice.

    With ``GITHUB_STEP_SUMMARY`` set, the plan is also appended there as Markdown.
    """
    lines = [github_command(finding) for finding in report.findings]
    summary = _summary(report)
    lines.append(f"::{'notice' if int(report.exit_code) == 0 else 'error'} title=ticketctl plan::{_data(summary)}")
    sys.stdout.write("\n".join(lines) + "\n")
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if target:
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(markdown_summary(report))


def github_command(finding: Finding) -> str:
    properties = {}
    if finding.file:
        properties["file"] = finding.file
        if finding.line:
            properties["line"] = str(finding.line)
    properties["title"] = f"ticketctl plan: {finding.section} ({finding.kind})"
    joined = ",".join(f"{key}={_property(value)}" for key, value in properties.items())
    return f"::{finding.level} {joined}::{_data(finding.message)}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _data(text: str) -> str:
    from ticketctl.config.masking import scrub_known

    return scrub_known(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def markdown_summary(report: PlanReport) -> str:
    rows = "\n".join(f"| {f.section} | {f.kind} | {_cell(f.message)} |" for f in report.findings)
    table = f"| part | kind | what |\n| --- | --- | --- |\n{rows}\n" if rows else ""
    return f"### ticketctl plan of {report.project}\n\n{table}\n{_summary(report)}\n\n"
