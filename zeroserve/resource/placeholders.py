"""``{port}`` and ``{grpc_port}`` in a local command (``serving.zeroserve.io/v1alpha1``).

The local runtime picks two free ports per replica and replaces these two tokens in
``command``, ``args`` and ``env`` values (``zeroserve.runtime.base.render``); every other
brace is passed as written, since arguments may well be JSON. A ``{name}`` that looks
like a placeholder but is not one (``{prot}``, ``{model}``) is most likely a typo, so
admitting the manifest warns about it.
"""

from __future__ import annotations

import re

PLACEHOLDERS = ("{port}", "{grpc_port}")
_LOOKS_LIKE_ONE = re.compile(r"\{[A-Za-z_][A-Za-z0-9_-]*\}")


def unknown_placeholders(text: str) -> list[str]:
    """The ``{identifier}`` tokens of ``text`` that the runtime will not replace."""
    return [t for t in _LOOKS_LIKE_ONE.findall(text) if t not in PLACEHOLDERS]
