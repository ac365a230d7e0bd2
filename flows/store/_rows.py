"""What the store's modules share about rows: moments read back, views filled from rows, timeline lines.

Everything Garrison stores is UTC, but SQLite keeps a timestamp's clock time and drops its zone: a naive
moment read back is UTC (``aware``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar, cast, overload

from pydantic import BaseModel
from sqlalchemy import Select
from sqlalchemy.engine import Connection, Row
from sqlalchemy.orm import InstrumentedAttribute, Session

from ._schema import TimelineRow

View = TypeVar("View")
CHUNK = 500  # bound on IN (...) lists


@overload
def aware(moment: datetime) -> datetime: ...


@overload
def aware(moment: None) -> None: ...


def aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def from_row(view: type[View], row: object, **given: Any) -> View:
    """A ``view`` (a dataclass or a pydantic model) of ``row``: each field is the row's attribute of the
    same name, a moment made ``aware``, but for the fields ``given``, which say where the view differs."""
    if issubclass(view, BaseModel):
        names: Iterable[str] = view.model_fields
    else:
        names = (f.name for f in dataclasses.fields(cast("Any", view)))
    read = {name: getattr(row, name) for name in names if name not in given}
    return view(**{n: aware(v) if isinstance(v, datetime) else v for n, v in read.items()}, **given)


def rows_in(
    conn: Connection, query: Select[Any], column: InstrumentedAttribute[Any], values: Iterable[Any]
) -> Iterator[Row[Any]]:
    """The rows of ``query`` whose ``column`` is one of ``values``, asked ``CHUNK`` values at a time."""
    ordered: Sequence[Any] = sorted(set(values))
    for start in range(0, len(ordered), CHUNK):
        yield from conn.execute(query.where(column.in_(ordered[start : start + CHUNK])))


def timeline_line(incident_id: str, step: str, message: str, at: datetime, /, **data: Any) -> dict[str, Any]:
    """The values of one timeline row, for a bulk insert (``data`` as in ``note``)."""
    return {"incident_id": incident_id, "step": step, "message": message, "at": at, "data": data}


def note(session: Session, incident_id: str, step: str, message: str, /, **data: Any) -> None:
    """Add one line to the incident's timeline, in ``session``'s transaction. ``data`` may hold any key,
    ``step`` and ``message`` included: the other parameters are positional only."""
    session.add(TimelineRow(incident_id=incident_id, step=step, message=message, data=data))
