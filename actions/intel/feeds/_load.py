"""Local feed files: the format is detected from the content, then parsed into records.

JSON that is a STIX bundle (or objects) → STIX; JSON with ``Event``/``response``/``Attribute`` → MISP;
text whose first line is a header naming ``type`` and ``value`` → CSV; any other text → a plain list, one
indicator per line. Whole-file problems raise FeedError (file and line or object id in the message);
entries whose value is unusable are skipped, each with its reason, and never stop the rest.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from actions.indicators import InvalidIndicator, parse_any

from .._record import INDICATOR_TYPES, VERDICTS, IntelRecord
from .._text import clean, iso
from ._misp import parse_misp
from ._result import Collector, FeedError, FeedResult
from ._stix import parse_stix

MAX_FEED_BYTES = 256 * 1024 * 1024
CSV_COLUMNS = ("type", "value", "verdict", "reason", "first_seen", "source", "last_seen")
# Garrison indicator types that are host evidence, not intel: a feed row of these is skipped, not an error.
_HOST_TYPES = {"registry_value", "file_path", "account"}
_TYPE_ALIASES = {"ip": "ip", "hostname": "domain", "domain-name": "domain", "hash": "hash", "uri": "url"}


def load_feed(path: Path) -> list[IntelRecord]:
    """Auto-detect and parse a local feed (STIX 2.1 bundle, MISP event JSON, CSV or a plain list).

    CSV columns: ``type,value,verdict,reason,first_seen,source[,last_seen]`` (``type``, ``value`` and
    ``verdict`` required). A plain list has one indicator per line and ``#`` comments; its entries are
    malicious and their source is the file name. Raises FeedError naming the file and the line or object
    id; entries with unusable values are left out (``parse_feed`` says which and why).

    >>> from pathlib import Path; import tempfile
    >>> feed = Path(tempfile.mkdtemp()) / "c2.txt"
    >>> _ = feed.write_text("# MyKings\\nhxxp://js[.]mykings[.]top:280/v[.]sct\\n")
    >>> [(r.type, r.value, r.verdict, r.source) for r in load_feed(feed)]
    [('url', 'http://js.mykings.top:280/v.sct', 'malicious', 'c2.txt')]
    """
    return parse_feed(path).records


def parse_feed(path: Path) -> FeedResult:
    """Everything ``load_feed`` finds: records, listed networks (CIDR ranges) and skipped entries."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FEED_BYTES:
            raise FeedError(f"{path}: {size} bytes is more than the {MAX_FEED_BYTES} a feed may have")
        raw = path.read_bytes()
    except OSError as error:
        raise FeedError(f"{path}: cannot read: {error.strerror or error}") from None
    text = raw.decode("utf-8-sig", errors="replace")
    stripped = text.lstrip()
    # JSON by content; a text list that merely starts with "{" or "[" is still a list (unless named .json).
    if stripped.startswith(("{", "[")) and (path.suffix.lower() == ".json" or _is_json(text)):
        return _json(path, text)
    first = next((line for line in text.splitlines() if line.strip() and not line.startswith("#")), "")
    header = {cell.strip().lower() for cell in first.split(",")}
    if "," in first and {"type", "value"} <= header:
        return _csv(path, text)
    return _plain(path, text)


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return False
    return True


def _json(path: Path, text: str) -> FeedResult:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as error:
        raise FeedError(f"{path}:{error.lineno}: not valid JSON ({error.msg})") from None
    except RecursionError:
        raise FeedError(f"{path}: JSON nested too deeply") from None
    fmt = _json_format(doc)
    if fmt is None:
        raise FeedError(f"{path}: JSON is neither a STIX bundle nor a MISP event")
    collector = Collector(path.name, fmt, path)
    (parse_stix if fmt == "stix" else parse_misp)(doc, collector)
    return collector.finish()


def _json_format(doc: Any) -> str | None:
    first = doc[0] if isinstance(doc, list) and doc else doc
    if not isinstance(first, dict):
        return None
    if first.get("type") == "bundle" or isinstance(first.get("objects"), list):
        return "stix"
    if "Event" in first or "response" in first or isinstance(first.get("Attribute"), list):
        return "misp"
    if isinstance(first.get("type"), str) and "--" in str(first.get("id", "")):
        return "stix"
    return None


def _csv(path: Path, text: str) -> FeedResult:
    collector = Collector(path.name, "csv", path)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    columns = [c.strip().lower() for c in reader.fieldnames or []]
    reader.fieldnames = columns
    missing = [c for c in CSV_COLUMNS[:3] if c not in columns]
    if missing:
        raise FeedError(f"{path}:1: missing columns {', '.join(missing)} (header: {', '.join(CSV_COLUMNS)})")
    try:
        for row in reader:
            _csv_row(row, reader.line_num, collector)
    except csv.Error as error:
        raise FeedError(f"{path}:{reader.line_num}: {error}") from None
    return collector.finish()


def _csv_row(row: dict[str, Any], line: int, out: Collector) -> None:
    where = f"{out.name}:{line}"
    cells = {k: (v.strip() if isinstance(v, str) else "") for k, v in row.items() if isinstance(k, str)}
    kind = cells.get("type", "").lower()
    if kind.startswith("#") or not any(cells.values()):
        return
    verdict = cells.get("verdict", "").lower()
    if verdict not in VERDICTS:
        raise FeedError(f"{where}: verdict {clean(verdict, 30)!r} is not one of {', '.join(VERDICTS)}")
    if kind in _HOST_TYPES:
        out.skip(where, f"{kind} is host evidence, not an intel indicator type")
        return
    kind = _TYPE_ALIASES.get(kind, kind)
    if kind not in (*INDICATOR_TYPES, "ip", "hash"):
        raise FeedError(f"{where}: unknown indicator type {clean(kind, 30)!r}")
    out.add(
        kind,
        cells.get("value", ""),
        where=where,
        verdict=verdict,
        source=cells.get("source") or out.name,
        reason=cells.get("reason") or f"listed in {out.name}",
        first_seen=_date(cells.get("first_seen")),
        last_seen=_date(cells.get("last_seen")),
    )


def _date(value: str | None) -> str | None:
    return iso(value) if value else None


def _plain(path: Path, text: str) -> FeedResult:
    collector = Collector(path.name, "list", path)
    for number, line in enumerate(text.splitlines(), start=1):
        entry = line.split(" #", 1)[0].strip()
        if not entry or entry.startswith("#"):
            continue
        where = f"{path.name}:{number}"
        try:
            kind, value = parse_any(entry)
        except InvalidIndicator as error:
            collector.skip(where, str(error))
            continue
        collector.keep(kind, value, verdict="malicious", source=path.name, reason=f"listed in {path.name}")
    return collector.finish()
