"""ticketctl: provision and check the infrastructure of a high-concurrency ticketing system.

The public API is importable from here; names load lazily so that
``ticketctl --help`` stays fast::

    from ticketctl import load_settings, render
    settings = load_settings("ticketctl.yaml")
    result = render(settings)
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "load_settings": "ticketctl.config.settings",
    "Settings": "ticketctl.config.settings",
    "build_stack": "ticketctl.stack.model",
    "render": "ticketctl.render.compose",
    "up": "ticketctl.project",
    "down": "ticketctl.project",
    "status": "ticketctl.project",
    "TicketctlError": "ticketctl.errors",
    "ExitCode": "ticketctl.errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'ticketctl' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module_name), name)
