"""``ticketctl index``: the events index on Elasticsearch or OpenSearch, versioned behind an alias.

Each command parses its flags, makes one call into :mod:`ticketctl.search`
and renders the result as text or ``--json``. ``--dry-run`` prints the write
requests that would be sent (method, path, body) and sends none of them.
Progress of a reindex is drawn as a rich progress bar on stderr.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ticketctl.cli.common import (
    JSON_OPTION,
    confirmer,
    console,
    flag,
    load_with_secrets,
    print_json,
    print_warning,
    progress_bars,
)
from ticketctl.cli.options import GroupedTyper, group
from ticketctl.errors import ConfigError, ExitCode

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from ticketctl.clients.search import ServerInfo
    from ticketctl.events import Event
    from ticketctl.search.changes import Change
    from ticketctl.search.drift import IndexDrift
    from ticketctl.search.results import IndexEvent

index_app = GroupedTyper(
    name="index",
    help="The events search index: create, status, diff, migrate (in place or --reindex), rollback, prune, "
    "validate, adopt. Versions are <alias>_v<N> behind the alias search.index (default 'events').",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@dataclass(frozen=True)
class IndexTarget:
    """The flags the index commands share: which server and alias, which mapping file, and what to do with the
    writes and the result (an option group: see :mod:`ticketctl.cli.options`)."""

    url: Annotated[
        str | None, typer.Option(None, "--url", metavar="URL", help="Search server URL (setting search.url).")
    ]
    alias: Annotated[
        str | None,
        typer.Option(
            None, "--index", metavar="ALIAS", help="Alias of the index (setting search.index, default 'events')."
        ),
    ]
    mapping: Annotated[
        Path | None,
        typer.Option(
            None,
            "--mapping",
            metavar="FILE",
            help="Mapping file (setting search.mapping; default: the packaged mappings/events.json).",
        ),
    ]
    dry_run: Annotated[
        bool,
        typer.Option(False, "--dry-run", help="Print the write requests (method, path, body) instead of sending them."),
    ]
    json_output: Annotated[bool, JSON_OPTION]

    def overrides(self) -> dict[str, tuple[object, str]]:
        """The flags as setting overrides (a --mapping path is relative to the working directory)."""
        return {
            "search.url": flag(self.url, "--url"),
            "search.index": flag(self.alias, "--index"),
            "search.mapping": flag(str(self.mapping.resolve()) if self.mapping else None, "--mapping"),
        }


YES_OPTION = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation before deleting or overriding.")


# --------------------------------------------------------------------------- shared helpers


def _call(
    ctx: typer.Context, operation: Callable[..., Any], target: IndexTarget, *, writes: bool, **options: Any
) -> Any:
    """Run one search operation the way every index command does: the flags as settings, the steps on stderr,
    and the result's JSON on stdout with --json. ``writes``: the operation changes the server (unless a dry run)."""
    settings, secrets = load_with_secrets(ctx, target.overrides(), changes=writes and not target.dry_run)
    with _EventPrinter(quiet=target.json_output) as events:
        result = operation(settings, secrets, dry_run=target.dry_run, on_event=events, **options)
    if target.json_output:
        print_json(result.as_dict())
    return result


class _EventPrinter:
    """Draws the verbs' events on stderr: steps as lines, reindex progress as a rich bar."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.progress: Progress | None = None
        self.task: TaskID | None = None

    def __call__(self, event: Event) -> None:
        from ticketctl.search.results import IndexEvent

        if not isinstance(event, IndexEvent):
            return
        if event.kind == "warning":
            print_warning(event.message)
        elif self.quiet:
            return
        elif event.kind == "progress" and event.total is not None:
            self._advance(event)
        else:
            self._stop()
            console(stderr=True).print(f"[dim]·[/dim] {event.message}")

    def _advance(self, event: IndexEvent) -> None:
        if self.progress is None:
            self.progress = progress_bars()
            self.task = self.progress.add_task(event.message, total=event.total)
        assert self.task is not None
        self.progress.update(self.task, completed=event.done or 0, total=event.total)

    def _stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None

    def __enter__(self) -> _EventPrinter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop()


def _server(info: ServerInfo | None) -> str:
    return f"{info.label} at {info.url}" if info else "(no server contacted)"


def _print_planned(result: Any) -> None:
    planned = result.planned
    if not planned:
        typer.echo("dry run: no write request would be sent")
        return
    typer.echo(f"dry run: {len(planned)} request(s) would be sent to {_server(result.server)}; nothing was written")
    for request in planned:
        typer.echo(f"{request.method} {request.target}")
        if request.body is not None:
            typer.echo(json.dumps(request.body, indent=2, ensure_ascii=False))


def _short(digest: str | None) -> str:
    return digest[:12] if digest else "-"


def _change_line(change: Change) -> str:
    mark = {"added": "+", "removed": "-", "changed": "~"}[change.kind]
    if change.kind == "added":
        values = _compact(change.wanted)
    elif change.kind == "removed":
        values = _compact(change.live)
    else:
        values = f"{_compact(change.live)} → {_compact(change.wanted)}"
    return f"  {mark} {change.area}: {change.path}: {values}  [{change.action}: {change.reason}]"


def _compact(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True) if not isinstance(value, str) else value
    return text if len(text) <= 80 else text[:77] + "..."


def _state_exit(state: str, drift: IndexDrift | None = None) -> None:
    """10 when live differs from the file or was changed by hand since ticketctl applied it, 15 missing."""
    if state == "drift" or (drift is not None and drift.drifted):
        raise typer.Exit(int(ExitCode.DRIFT))
    if state == "missing":
        raise typer.Exit(int(ExitCode.MISSING))


def _print_hand_changes(drift: IndexDrift | None) -> None:
    if drift is None or not drift.drifted:
        return
    if not drift.itemised:
        typer.echo(f"by hand   {drift.note}")
        return
    typer.echo(f"changed outside ticketctl since it applied {drift.index}:")
    for change in drift.changes:
        typer.echo(f"  ! {change.describe()}")


# --------------------------------------------------------------------------- commands


@index_app.command("create")
def create_command(
    ctx: typer.Context,
    target: IndexTarget = group(IndexTarget),
) -> None:
    """Create <alias>_v1 with the mapping file's spec and the alias as write index, in one request.

    Nothing is sent when the same spec is already live ("up to date"). A live index
    with a different spec is refused (exit 10): see 'index diff' and 'index migrate'.
    """
    from ticketctl.search.create import create_index

    result = _call(ctx, create_index, target, writes=True)
    if target.json_output:
        return
    if result.status == "planned":
        _print_planned(result)
    elif result.status == "up_to_date":
        typer.echo(
            f"{result.alias} → {result.index} is up to date (spec {_short(result.spec_hash)}) on "
            f"{_server(result.server)}: nothing sent"
        )
    else:
        typer.echo(
            f"Created {result.index} with alias {result.alias} ({result.shards} shard(s), {result.replicas} "
            f"replica(s), spec {_short(result.spec_hash)}) on {_server(result.server)} in {result.seconds:.2f}s"
        )


@index_app.command("status")
def status_command(
    ctx: typer.Context,
    target: IndexTarget = group(IndexTarget),
) -> None:
    """Show where the alias points, health, documents, and the spec hash live vs file.

    Exit codes for CI: 0 in sync, 10 drift (live differs from the file, or was changed by hand since
    ticketctl applied it), 15 missing.
    """
    from ticketctl.search.migrate import index_status

    result = _call(ctx, index_status, target, writes=False)
    if target.json_output:
        _state_exit(result.state, result.drift)
        return
    typer.echo(f"server    {_server(result.server)} (cluster {result.cluster_health})")
    if result.index is None:
        typer.echo(f"alias     {result.alias}: missing")
        if result.conflicting_index:
            typer.echo(f"conflict  a concrete index named {result.conflicting_index} exists: 'ticketctl index adopt'")
    else:
        blocked = ", write-blocked (an interrupted migration? run it again)" if result.index.write_blocked else ""
        typer.echo(f"alias     {result.alias} → {result.index.name}")
        typer.echo(f"index     health {result.index.health}, {result.docs} documents{blocked}")
        state = "in sync" if result.state == "in_sync" else f"DRIFT ({len(result.changes)} change(s), see 'index diff')"
        typer.echo(
            f"spec      {state}: file {_short(result.file_hash)} ({result.mapping_file}), live "
            f"{_short(result.live_hash)}, recorded {_short(result.recorded_hash)}"
        )
    for version in result.versions:
        notes = ["aliased" if version.aliases else "unaliased", f"{version.docs} documents"]
        if version.write_blocked:
            notes.append("write-blocked")
        typer.echo(f"version   {version.name} ({', '.join(notes)})")
    _print_hand_changes(result.drift)
    _state_exit(result.state, result.drift)


@index_app.command("diff")
def diff_command(
    ctx: typer.Context,
    target: IndexTarget = group(IndexTarget),
) -> None:
    """Show the normalised differences between the live index and the file, each "in place" or "needs reindex",
    and what was changed on the index by hand since ticketctl applied it (against the spec in its _meta).

    Exit codes: 0 no difference, 10 differences or changes by hand, 15 missing.
    """
    from ticketctl.search.migrate import diff

    result = _call(ctx, diff, target, writes=False)
    if target.json_output:
        _state_exit(result.state, result.drift)
        return
    if result.state == "missing":
        typer.echo(f"alias {result.alias} does not exist on {_server(result.server)}: 'ticketctl index create'")
    elif not result.changes:
        typer.echo(f"{result.alias} → {result.index} matches {result.mapping_file}: no differences")
    else:
        typer.echo(f"--- live {result.alias} → {result.index}\n+++ file {result.mapping_file}")
        for change in result.changes:
            typer.echo(_change_line(change))
        in_place = sum(1 for change in result.changes if change.in_place)
        next_step = "ticketctl index migrate --reindex" if result.needs_reindex else "ticketctl index migrate"
        typer.echo(
            f"{len(result.changes)} change(s): {in_place} in place, {len(result.changes) - in_place} need a reindex; "
            f"apply with '{next_step}'"
        )
    _print_hand_changes(result.drift)
    _state_exit(result.state, result.drift)


@index_app.command("migrate")
def migrate_command(
    ctx: typer.Context,
    reindex: bool = typer.Option(
        False, "--reindex", help="Allow changes that need a new version: copy the documents and swap the alias."
    ),
    keep: int = typer.Option(
        None,
        "--keep",
        min=0,
        metavar="N",
        help="After a reindex, delete unaliased versions beyond the newest N (asks first; default: delete nothing).",
    ),
    source: str = typer.Option(
        "database",
        "--source",
        metavar="SOURCE",
        help="Where a reindex copies the documents from: database (the events database and its outbox) or index "
        "(the current version, with _reindex; it is write-blocked meanwhile).",
    ),
    rebuild: bool = typer.Option(
        False, "--rebuild", help="Build a new version and swap the alias even when the spec is unchanged."
    ),
    force: bool = typer.Option(
        False, "--force", help="Swap the alias even when the new version does not match the database."
    ),
    yes: bool = YES_OPTION,
    target: IndexTarget = group(IndexTarget),
) -> None:
    """Apply the file to the live index: in place when possible, else (with --reindex) through a new version.

    A reindex from the database (the default) fills the new version from events_db at a
    noted outbox position, catches up with every outbox row written meanwhile, compares
    it with the database while the outbox is held still, and swaps the alias in that
    moment, in one _aliases call: writers and 'index sync --follow' go on throughout.
    --source index copies the current version with _reindex instead, write-blocked.
    The old version is kept for 'index rollback'. Exit 10 when a change needs
    --reindex or the new version does not match the database (the alias stays).
    """
    from ticketctl.search.migrate import migrate_index

    if source not in ("database", "index"):
        raise ConfigError(f"--source: {source!r} is not database or index")
    options: dict[str, Any] = {"reindex": reindex, "keep": keep, "source": source, "rebuild": rebuild, "force": force}
    options["confirm"] = confirmer(yes)
    result = _call(ctx, migrate_index, target, writes=True, **options)
    if target.json_output:
        return
    if result.action == "planned":
        _print_planned(result)
    elif result.action == "up_to_date":
        typer.echo(f"{result.alias} → {result.to_index} is up to date on {_server(result.server)}: nothing sent")
    elif result.action == "in_place":
        typer.echo(f"Updated {result.to_index} in place ({len(result.changes)} change(s)) in {result.seconds:.2f}s")
    elif result.copy is not None:
        copy = result.copy
        typer.echo(
            f"Reindexed {result.from_index} → {result.to_index} from the database: {copy['events']} events copied at "
            f"outbox position {copy['outbox_position']}, {copy['caught_up_rows']} later rows caught up; check: "
            f"{copy['check']['documents']} documents, {copy['check']['sampled']} compared; alias {result.alias} "
            f"swapped in {result.seconds:.2f}s"
        )
    else:
        typer.echo(
            f"Reindexed {result.from_index} → {result.to_index}: {result.documents} documents copied and counted, "
            f"alias {result.alias} swapped in {result.seconds:.2f}s"
        )
        if result.pruned:
            typer.echo(f"Deleted {', '.join(result.pruned)}")
        kept = [name for name in result.kept] or ([result.from_index] if result.from_index else [])
        if kept:
            typer.echo(f"Kept {', '.join(kept)} (write-blocked) for 'ticketctl index rollback'")


@index_app.command("rollback")
def rollback_command(
    ctx: typer.Context,
    to: str = typer.Option(
        None, "--to", metavar="VERSION", help="Version to point the alias at: N, vN or the index name."
    ),
    yes: bool = YES_OPTION,
    target: IndexTarget = group(IndexTarget, without=("mapping",)),
) -> None:
    """Point the alias back at an earlier version (default: the newest older one), in one _aliases call.

    Asks first when the current version holds documents the target lacks; they stay
    in the current version, which is kept.
    """
    from ticketctl.search.versions import rollback

    version: int | str | None = int(to) if to is not None and to.isdigit() else to
    result = _call(ctx, rollback, target, writes=True, to=version, confirm=confirmer(yes))
    if target.json_output:
        return
    if result.dry_run:
        _print_planned(result)
        return
    typer.echo(
        f"{result.alias} now points to {result.to_index} ({result.to_docs} documents); "
        f"{result.from_index} ({result.from_docs} documents) is kept"
    )


@index_app.command("prune")
def prune_command(
    ctx: typer.Context,
    keep: int = typer.Option(1, "--keep", min=0, metavar="N", help="Unaliased versions to keep, newest first."),
    yes: bool = YES_OPTION,
    target: IndexTarget = group(IndexTarget, without=("mapping",)),
) -> None:
    """Delete old versions that no alias points to, keeping the newest N; asks first (or --yes).

    Never deletes the index the alias points to.
    """
    from ticketctl.search.versions import prune

    result = _call(ctx, prune, target, writes=True, keep=keep, confirm=confirmer(yes))
    if target.json_output:
        return
    if result.dry_run:
        _print_planned(result)
    elif result.deleted:
        typer.echo(f"Deleted {', '.join(result.deleted)} ({result.documents_deleted} documents)")
    else:
        typer.echo(f"Nothing to prune for {result.alias}")
    if result.kept:
        typer.echo(f"Kept {', '.join(result.kept)}")


@index_app.command("validate")
def validate_command(
    ctx: typer.Context,
    offline: bool = typer.Option(False, "--offline", help="Check the file only; contact no server."),
    target: IndexTarget = group(IndexTarget),
) -> None:
    """Check the mapping file offline, then prove it on the server: a throwaway empty index and _analyze.

    "São Paulo" must analyse to sao, paulo (the file's _meta.analyzer_examples).
    Exit 3 for errors in the file, 9 when the server refuses it or an analyzer
    produces other tokens.
    """
    from ticketctl.search.validation import validate

    result = _call(ctx, validate, target, writes=False, offline=offline)
    exit_code = ExitCode.OK
    if result.errors:
        exit_code = ExitCode.CONFIG
    elif not result.ok:
        exit_code = ExitCode.SEARCH
    if target.json_output:
        raise typer.Exit(int(exit_code))
    for issue in result.issues:
        typer.echo(f"{issue.severity}: {issue.line()}")
    if result.dry_run and not result.errors:
        _print_planned(result)
    for check in result.analyzer_checks:
        verdict = "ok" if check.ok else f"MISMATCH, expected {check.expected}"
        typer.echo(f"_analyze {check.analyzer}: {check.text!r} → {check.tokens} ({verdict})")
    if exit_code == ExitCode.OK:
        where = "offline" if not result.server_checked else f"on {_server(result.server)}"
        typer.echo(f"{result.mapping_file} is valid ({where})")
    raise typer.Exit(int(exit_code))


@index_app.command("adopt")
def adopt_command(
    ctx: typer.Context,
    yes: bool = YES_OPTION,
    target: IndexTarget = group(IndexTarget),
) -> None:
    """Turn a concrete index named like the alias into <alias>_v1 behind the alias (asks first, or --yes).

    Its documents are copied with the file's spec and counted; one _aliases call then
    adds the alias and removes the old index.
    """
    from ticketctl.search.create import adopt

    result = _call(ctx, adopt, target, writes=True, confirm=confirmer(yes))
    if target.json_output:
        return
    if result.action == "planned":
        _print_planned(result)
        return
    typer.echo(
        f"Adopted {result.from_index}: {result.documents} documents now in {result.to_index}, "
        f"{result.alias} is an alias of it"
    )


@index_app.command("sync")
def sync_command(
    ctx: typer.Context,
    full: bool = typer.Option(
        False, "--full", help="Copy every event of the database (and delete documents of events it lacks)."
    ),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep applying new outbox rows until Ctrl-C."),
    batch: int = typer.Option(500, "--batch", min=1, max=10_000, metavar="N", help="Outbox rows per transaction."),
    interval: float = typer.Option(
        1.0, "--interval", min=0.05, metavar="SECONDS", help="With --follow: how often to look for new rows."
    ),
    target: IndexTarget = group(IndexTarget, without=("mapping", "dry_run")),
) -> None:
    """Bring the index behind the alias up to date with the events database.

    Without --full: apply the unprocessed rows of outbox_events in id order (the
    indexer's job), each event's document built from the database, and mark them
    processed; several syncs may run at once. With --full: copy every event through
    the bulk API, catch up with the outbox, and check counts and a sample of
    documents. A row whose payload is unusable is named, left unprocessed, and
    makes the exit code 14. Ctrl-C stops --follow after the current batch.
    """
    import threading

    from ticketctl.search.sync import sync_full, sync_outbox

    settings, secrets = load_with_secrets(ctx, target.overrides())
    stop = threading.Event()
    results: list[Any] = []
    with _EventPrinter(quiet=target.json_output) as events, _stop_on_interrupt(stop if follow else None):
        if full:
            results.append(sync_full(settings, secrets, on_event=events))
        if follow or not full:
            results.append(
                sync_outbox(
                    settings, secrets, batch=batch, follow=follow, interval=interval, stop=stop, on_event=events
                )
            )
    skipped = sum(len(result.as_dict()["skipped_rows"]) for result in results)
    if target.json_output:
        print_json(results[0].as_dict() if len(results) == 1 else [result.as_dict() for result in results])
    else:
        for result in results:
            typer.echo(_sync_summary(result))
    if skipped:
        raise typer.Exit(int(ExitCode.WARNINGS))


def _sync_summary(result: Any) -> str:
    data = result.as_dict()
    where = f"{data['alias']} → {data['index']}"
    if data["mode"] == "full":
        return (
            f"Synced {data['events']} events into {where} in {data['seconds']:.1f}s "
            f"({data['docs_per_second']:,.0f} documents/s); outbox position {data['outbox_position']}, "
            f"{data['caught_up_rows']} later rows caught up, {data['pruned']['deleted']} documents of missing events "
            f"deleted; check: {result.copy.check.describe()}; {data['marked_processed']} outbox rows marked processed"
        )
    text = (
        f"Applied {data['rows']} outbox rows to {where} in {data['seconds']:.1f}s: {data['indexed']} indexed, "
        f"{data['deleted'] + data['absent']} deleted, {data['stale']} already newer"
    )
    if data["skipped_rows"]:
        text += f"; {len(data['skipped_rows'])} unusable rows skipped and left unprocessed (named above)"
    if data["deferred_rows"]:
        text += f"; {data['deferred_rows']} rows left to another sync that holds an earlier row of their event"
    return text


@contextmanager
def _stop_on_interrupt(stop: Any) -> Iterator[None]:
    """With --follow, the first Ctrl-C asks the sync to stop after its batch; a second one interrupts."""
    import signal
    import threading

    if stop is None or threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        print_warning("stopping after the current batch (Ctrl-C again to interrupt)")

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
