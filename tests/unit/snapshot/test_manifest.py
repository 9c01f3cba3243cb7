"""The manifest: written last, read back the same, and every file checked against it by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.snapshots import sample_manifest
from ticketctl.snapshot.manifest import (
    HashingWriter,
    Manifest,
    SnapshotError,
    fingerprint,
    read_manifest,
    verify_files,
    write_manifest,
)


def _snapshot(tmp_path: Path) -> tuple[Path, Manifest]:
    writer = HashingWriter(tmp_path, "data.bin", 0o600)
    writer.write(b"hello ")
    writer.write(b"world")
    manifest = sample_manifest((writer.close(),))
    write_manifest(tmp_path, manifest, 0o600)
    return tmp_path, manifest


def test_a_manifest_reads_back_as_written_with_size_and_sha256(tmp_path: Path) -> None:
    folder, manifest = _snapshot(tmp_path)
    again = read_manifest(folder)
    assert again == manifest
    assert again.files[0].size == 11
    assert again.files[0].sha256 == "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
    assert (folder / "manifest.json").stat().st_mode & 0o777 == 0o600
    verify_files(folder, again)


def test_a_changed_byte_is_refused_naming_the_file(tmp_path: Path) -> None:
    folder, manifest = _snapshot(tmp_path)
    (folder / "data.bin").write_bytes(b"hello World")
    with pytest.raises(SnapshotError, match=r"^snapshot one: data.bin is damaged \(SHA-256 differs"):
        verify_files(folder, manifest)


def test_a_missing_or_truncated_file_is_refused_naming_the_file(tmp_path: Path) -> None:
    folder, manifest = _snapshot(tmp_path)
    (folder / "data.bin").write_bytes(b"hello")
    with pytest.raises(SnapshotError, match=r"data.bin is damaged \(size 5, expected 11\)"):
        verify_files(folder, manifest)
    (folder / "data.bin").unlink()
    with pytest.raises(SnapshotError, match=r"data\.bin is missing"):
        verify_files(folder, manifest)


def test_a_folder_without_manifest_is_an_incomplete_snapshot(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match="incomplete"):
        read_manifest(tmp_path)


def test_a_manifest_of_a_newer_format_is_refused(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text('{"format": 99}')
    with pytest.raises(SnapshotError, match="newer ticketctl"):
        read_manifest(tmp_path)


def test_fingerprints_differ_per_salt_and_value() -> None:
    assert fingerprint("a", "secret") != fingerprint("b", "secret")
    assert fingerprint("a", "secret") != fingerprint("a", "secret2")
    assert "secret" not in fingerprint("a", "secret")
