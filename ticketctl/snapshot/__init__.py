"""``ticketctl snapshot``: the whole stack's data, saved and put back together (see docs/snapshots.md)."""

from ticketctl.snapshot.core import RestoreReport, SaveReport, list_snapshots, newest_snapshot, remove, restore, save

__all__ = ["RestoreReport", "SaveReport", "list_snapshots", "newest_snapshot", "remove", "restore", "save"]
