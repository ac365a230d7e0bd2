"""What every Microsoft Defender for Endpoint adapter shares: an Entra ID app's client-credentials token
and the machine a hostname names. Each adapter (isolation, indicators, live response) has an app of its own,
so an MDR grants each permission apart."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from .._vendor import VendorSettings, client_credentials_token, json_body, one_or_refuse
from ..http import VendorHttp
from ._base import ClientCredentials


class MdeAppSettings(VendorSettings):
    base_url: str = Field(default="https://api.securitycenter.microsoft.com", description="MDE API base URL.")
    login_url: str = Field(default="https://login.microsoftonline.com", description="Entra ID authority.")
    resource: str = Field(default="https://api.securitycenter.microsoft.com", description="Token audience.")
    tenant_id: str = Field(
        pattern=r"^[0-9a-fA-F-]{36}$|^[A-Za-z0-9.-]+$", description="The customer's Entra ID tenant id."
    )


class MdeApp(ClientCredentials):
    """The MDE API behind one Entra ID app."""

    settings: MdeAppSettings

    def token_scope(self) -> list[str]:
        return [self.settings.tenant_id, self._client_id, self._client_secret]

    async def fetch_token(self, http: VendorHttp) -> tuple[str, float]:
        form = {
            "resource": self.settings.resource,
            "client_id": self._client_id,
            "client_secret": self._client_secret,
            "grant_type": "client_credentials",
        }
        url = f"{self.settings.login_url.rstrip('/')}/{self.settings.tenant_id}/oauth2/token"
        return await client_credentials_token(http, url, form, default_ttl=3599)

    async def machine(self, hostname: str) -> dict[str, Any]:
        """The one machine named ``hostname`` (its DNS name, case-insensitive), or a refusal."""
        # The hostname is a validated plain name: no quote can close the OData literal.
        response = await self.api.request(
            "GET", "/api/machines", params={"$filter": f"computerDnsName eq '{hostname}'"}
        )
        machines = [
            m
            for m in json_body(self.http, response).get("value") or []
            if isinstance(m, dict) and str(m.get("computerDnsName", "")).lower() == hostname.lower()
        ]
        return one_or_refuse(machines, "Microsoft Defender for Endpoint", hostname, self.ctx.tenant)
