"""How a settings key is declared: the ``metadata`` of its dataclass field."""

from __future__ import annotations

from typing import Any


def declare(
    kind: str,
    doc: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    below: float | None = None,
    env: tuple[str, ...] = (),
    only_env: bool = False,
    secret: bool = False,
) -> dict[str, Any]:
    """A key's declaration. ``kind``: how its value is written and converted
    (``values.convert``); ``minimum``/``maximum``: its range, within its kind's
    (``values.KIND_MAXIMUM``); ``below``: an open upper bound (a fraction below 1). ``env``:
    standard environment variables (``HTTPS_PROXY``...) that give the value when neither the
    file nor a ``NEWS_WORKER_`` variable does; with ``only_env`` the value is read only from
    them (it is not a key of the file). ``secret`` values are masked wherever settings are
    shown (``config show``)."""
    return {
        "kind": kind,
        "doc": doc,
        "minimum": minimum,
        "maximum": maximum,
        "below": below,
        "env": env,
        "only_env": only_env,
        "secret": secret,
    }
