"""tests/support/ports.py: the ports a test's stack gets never make ticketctl refuse them."""

from __future__ import annotations

from tests.support.ports import stack_ports


def test_a_repeated_port_or_one_inside_the_application_range_is_picked_again() -> None:
    # mysql, a repeat of it, redis, search; then an application range over mysql (30571-30579), then a clear one.
    picks = iter([30572, 30572, 30600, 30700, 30581, 40010])
    ports = stack_ports(lambda: next(picks))
    assert ports == {
        "TICKETCTL_PORTS__MYSQL": "30572",
        "TICKETCTL_PORTS__REDIS": "30600",
        "TICKETCTL_PORTS__SEARCH": "30700",
        "TICKETCTL_PORTS__APPS": "40000",
    }
