"""Which store the vendor-load state of this process lives in.

The engine comes from the caller (the respond and recheck flows hand over the store's), never from
``flows.store``: actions do not import the engine. ``shared_pool(engine)`` is the one pool of that store in
this process. ``using_store(engine)`` binds the store for the code it wraps (a context variable: it
follows ``asyncio.run`` and tasks, and is not seen by other threads or flow runs), so that the defaults
deep inside — the intel lookup's cache and pool — are the store's without every layer between passing
them on.
"""

from __future__ import annotations

import contextvars
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import Engine

from ._pool import HttpPool

_bound: contextvars.ContextVar[Engine | None] = contextvars.ContextVar("garrison_shared_store", default=None)
_pools: weakref.WeakKeyDictionary[Engine, HttpPool] = weakref.WeakKeyDictionary()
_guard = threading.Lock()


def shared_pool(engine: Engine) -> HttpPool:
    """This process's pool on the store ``engine`` (real clock): limiters and breakers every worker shares.

    >>> from sqlalchemy import create_engine
    >>> engine = create_engine("sqlite://")
    >>> shared_pool(engine) is shared_pool(engine)
    True
    """
    with _guard:
        found = _pools.get(engine)
        if found is None:
            found = HttpPool(engine=engine)
            _pools[engine] = found
        return found


@contextmanager
def using_store(engine: Engine) -> Iterator[Engine]:
    """Within the block, the default pool and intel cache are the store's (``shared_pool``)."""
    token = _bound.set(engine)
    try:
        yield engine
    finally:
        _bound.reset(token)


def bound_store() -> Engine | None:
    """The engine ``using_store`` bound here, if any."""
    return _bound.get()
