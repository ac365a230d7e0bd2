"""Turn what a sensor sent into an Alert: detect the format (or take the caller's), normalize, validate."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from flows.models import Alert

from . import _elastic, _generic, _ocsf, _suricata, _wazuh
from ._errors import NormalizeError, TenantMismatch
from ._generic import FieldMapping


class Format(StrEnum):
    AUTO = "auto"
    OCSF = "ocsf"
    SURICATA = "suricata"
    WAZUH = "wazuh"
    ELASTIC = "elastic"
    GENERIC = "generic"


@dataclass(frozen=True)
class Normalized:
    alert: Alert
    format: Format
    document: dict[str, Any]  # the OCSF document, as validated
    raw: dict[str, Any]  # what the sensor sent


def unwrapped(document: dict[str, Any]) -> dict[str, Any]:
    """The alert inside a search hit (``{"_index", "_id", "_source": {…}}``, as Elasticsearch, OpenSearch
    and the Wazuh indexer return it), with the hit's ``_id`` as a fallback id; else ``document`` itself."""
    source = document.get("_source")
    if not isinstance(source, dict) or any(key in document for key in _ALERT_KEYS):
        return document
    if "_id" in document and "_id" not in source:
        return {**source, "_id": document["_id"]}
    return source


_ALERT_KEYS = ("class_uid", "alert", "rule", "kibana.alert.uuid", "kibana.alert.rule.name")


def detect(document: dict[str, Any]) -> Format | None:
    if document.get("class_uid") is not None:
        return Format.OCSF
    if _suricata.looks_like(document):
        return Format.SURICATA
    if _wazuh.looks_like(document):
        return Format.WAZUH
    if _elastic.looks_like(document):
        return Format.ELASTIC
    return None


def normalize(
    raw: Any,
    tenant: str,
    fmt: Format = Format.AUTO,
    mapping: FieldMapping | None = None,
    *,
    other_tenants: Collection[str] | None = None,
) -> Normalized:
    """Normalize one alert for ``tenant`` (who authenticated). Raises NormalizeError (with a field path) or
    TenantMismatch when the alert's ``metadata.tenant_uid`` names another Garrison tenant — one of
    ``other_tenants``, or any other value when they are not given. A value that names no Garrison tenant is
    the source's own tenant and is kept as ``metadata.source_tenant_uid``.

    Generic JSON needs ``mapping`` (the tenant's per-source field mapping).
    """
    if not isinstance(raw, dict):
        raise NormalizeError("(body)", "an alert must be a JSON object")
    document = unwrapped(raw)
    chosen = detect(document) if fmt is Format.AUTO else fmt
    if chosen is None:
        if mapping is None:
            raise NormalizeError(
                "(body)", "unknown alert format: send OCSF, Suricata EVE, Wazuh or Elastic, or map the source"
            )
        chosen = Format.GENERIC
    try:
        document = _to_ocsf(document, tenant, chosen, mapping)
    except (KeyError, TypeError, AttributeError) as error:
        raise NormalizeError(
            "(body)", f"not a valid {chosen} alert ({type(error).__name__}: {error})"
        ) from None
    try:
        alert = Alert.model_validate(document)
    except ValidationError as error:
        first = error.errors(include_url=False, include_input=False)[0]
        field = ".".join(str(part) for part in first["loc"]) or "(body)"
        raise NormalizeError(field, first["msg"]) from None
    named = (document.get("metadata") or {}).get("source_tenant_uid")
    if alert.tenant != tenant or (named is not None and (other_tenants is None or named in other_tenants)):
        raise TenantMismatch(
            f"metadata.tenant_uid names tenant {named or alert.tenant!r}; a tenant writes only its own alerts"
        )
    return Normalized(alert=alert, format=chosen, document=document, raw=raw)


def _to_ocsf(raw: dict[str, Any], tenant: str, fmt: Format, mapping: FieldMapping | None) -> dict[str, Any]:
    if fmt is Format.OCSF:
        return _ocsf.to_detection_finding(raw, tenant)
    if fmt is Format.SURICATA:
        if not _suricata.looks_like(raw):
            raise NormalizeError(
                "alert", "not a Suricata EVE alert record (event_type 'alert' with alert.signature_id)"
            )
        return _suricata.normalize(raw, tenant)
    if fmt is Format.WAZUH:
        if not _wazuh.looks_like(raw):
            raise NormalizeError("rule", "not a Wazuh alert (rule.level and agent are required)")
        return _wazuh.normalize(raw, tenant)
    if fmt is Format.ELASTIC:
        if not _elastic.looks_like(raw):
            raise NormalizeError("kibana.alert", "not an Elastic Security alert (no kibana.alert.* fields)")
        return _elastic.normalize(raw, tenant)
    if mapping is None:
        raise NormalizeError(
            "(source)", "generic JSON needs a field mapping for this source in the tenant config"
        )
    return _generic.normalize(raw, tenant, mapping)
