"""Cloud findings: what a finding names as affected (OCSF ``resources[]``) and where (``cloud``).

Read from the alert's unknown fields, not validated as model fields: alerts already in the store are read
again with ``Alert.model_validate``, and a new refusal would make them unreadable. Odd shapes are skipped;
values are attacker-influenced text, one line each, never interpreted, never indicators or hosts.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict

MAX_RESOURCES = 32  # resources read per alert: Security Hub puts at most 32 in a finding
# Control, bidi and zero-width characters in a cloud value: a forged line in a report, a terminal escape
# or a reversed name in ``--check``.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")


class CloudResource(BaseModel):
    """A cloud resource a finding names as affected (``Alert.affected_resources()``). Attacker-influenced
    text, read as given: one line each, never interpreted, and never a containment target (an instance
    is isolated through its host, ``device``, not through this)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str | None = None
    name: str | None = None
    uid: str | None = None
    region: str | None = None
    account_uid: str | None = None

    @property
    def label(self) -> str:
        """What to call it: its name, else its uid."""
        return self.name or self.uid or ""


class CloudAccount(BaseModel):
    """The cloud a finding was made in (``Alert.cloud_account()``): provider, region, account and
    organisation, each one line of text or None."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: str | None = None
    region: str | None = None
    account_uid: str | None = None
    account_name: str | None = None
    org: str | None = None


def affected_resources(listed: Any) -> list[CloudResource]:
    """The cloud resources the finding names as affected (OCSF ``resources[]``), unique, in order.

    Each gives its ``uid``, ``type``, ``name``, ``region`` and the account that owns it
    (``owner.account.uid`` from OCSF 1.1, ``owner.account_uid`` before). Items that are not objects,
    values that are not one-line text of a sane length, and resources with neither uid nor name are
    skipped; at most ``MAX_RESOURCES`` items are read. A resource's ``data`` (``AwsEc2Instance={…}``
    as text from Security Lake) is not interpreted.

    For example Prowler's ``{"type": "AwsCertificateManagerCertificate", "uid": "arn:aws:acm:…",
    "region": "eu-west-1"}`` gives one ``CloudResource`` with those three values.
    """
    found: dict[CloudResource, None] = {}
    for item in listed[:MAX_RESOURCES] if isinstance(listed, list) else []:
        resource = _resource(item)
        if resource is not None:
            found.setdefault(resource)
    return list(found)


def cloud_account(cloud: Any) -> CloudAccount | None:
    """Where in the cloud the finding was made (OCSF ``cloud``): provider, region, account and
    organisation; None when the alert names none of them.

    The account is ``cloud.account`` (OCSF 1.0 on), else 1.0-rc's ``account_uid``/``account_name``,
    else a project (``project_uid``: GCP's word for it). The organisation is ``org.name``, else
    ``org.uid``.

    For example ``{"provider": "AWS", "region": "us-east-2", "account": {"uid": "111111111111"}}`` gives
    ``CloudAccount(provider="AWS", region="us-east-2", account_uid="111111111111")``.
    """
    if not isinstance(cloud, dict):
        return None
    held, owner = cloud.get("account"), cloud.get("org")
    account: dict[str, Any] = held if isinstance(held, dict) else {}
    org: dict[str, Any] = owner if isinstance(owner, dict) else {}
    found = CloudAccount(
        provider=_cloud_text(cloud.get("provider"), 64),
        region=_cloud_text(cloud.get("region"), 64),
        account_uid=_cloud_text(account.get("uid"), 2048)
        or _cloud_text(cloud.get("account_uid"), 2048)
        or _cloud_text(cloud.get("project_uid"), 2048),
        account_name=_cloud_text(account.get("name"), 256) or _cloud_text(cloud.get("account_name"), 256),
        org=_cloud_text(org.get("name"), 256) or _cloud_text(org.get("uid"), 2048),
    )
    return found if any(found.model_dump().values()) else None


def _resource(item: Any) -> CloudResource | None:
    if not isinstance(item, dict):
        return None
    owner = item.get("owner")
    account = None
    if isinstance(owner, dict):
        held = owner.get("account")
        account = _cloud_text(held.get("uid"), 2048) if isinstance(held, dict) else None
        account = account or _cloud_text(owner.get("account_uid"), 2048)
    resource = CloudResource(
        uid=_cloud_text(item.get("uid"), 2048),
        type=_cloud_text(item.get("type"), 256),
        name=_cloud_text(item.get("name"), 1024),
        region=_cloud_text(item.get("region"), 64),
        account_uid=account,
    )
    return resource if resource.uid or resource.name else None


def _cloud_text(value: Any, limit: int) -> str | None:
    # Account ids come as numbers from some mappings; any other non-text is no value. Too long is
    # dropped, not cut: a cut ARN names another resource.
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or len(value) > 4 * limit:
        return None
    text = " ".join(_CONTROL.sub(" ", value).split())
    return text if text and len(text) <= limit else None
