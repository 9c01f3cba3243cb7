"""Helpers shared by the tests, imported as ``tests.support.<module>``; tests/README.md says what each holds."""

from pathlib import Path

# The system's original DDL of the three databases, verbatim from the architecture plan (test data for lint
# and the schema comparison).
ORIGINAL_DDL = Path(__file__).parent / "original_ddl"
