"""Composition root: settings and the ``flexledger`` command line.

Everything else lives in the architecture's folders (contracts/, oracle/, market/, grid/,
flexibility/, devices/); this package only wires them together.
"""

from flexledger.errors import FlexledgerError
from flexledger.settings import Settings, get_settings

__all__ = ["FlexledgerError", "Settings", "get_settings"]
