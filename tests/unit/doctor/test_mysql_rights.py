"""Which grants make ``mysql.<db>.rights`` red: another database, a global privilege; never the grant drift asks for."""

from __future__ import annotations

import pytest

from ticketctl.doctor.mysql import _grant_is_too_wide


@pytest.mark.parametrize(
    ("grant", "too_wide"),
    [
        ("GRANT USAGE ON *.* TO `events_app`@`%`", False),
        ("GRANT ALL PRIVILEGES ON `events_db`.* TO `events_app`@`%`", False),
        ("GRANT SELECT ON `inventory_db`.* TO `events_app`@`%`", True),
        ("GRANT PROCESS ON *.* TO `events_app`@`%`", True),
        # The right `migrate drift` names in its fix: the escaped pattern of its shadow databases only.
        ("GRANT CREATE, DROP, ALTER ON `ticketctl\\_shadow\\_%`.* TO `events_app`@`%`", False),
        ("GRANT CREATE, DROP ON `ticketctl_shadow_%`.* TO `events_app`@`%`", True),
        ("GRANT CREATE ON `ticketctl\\_shadow\\_%x`.* TO `events_app`@`%`", True),
        ("GRANT CREATE ON `%`.* TO `events_app`@`%`", True),
    ],
)
def test_grant_is_too_wide(grant: str, too_wide: bool) -> None:
    assert _grant_is_too_wide(grant, "events_db") is too_wide
