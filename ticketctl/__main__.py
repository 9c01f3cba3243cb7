"""``python -m ticketctl``."""

from ticketctl.cli.main import run

run()
