"""Which action does a capability for one tenant: the adapters it configures, and its choices.

An adapter a tenant configures provides the capabilities its actions declare. A capability that one of
them provides is bound to it; one that several provide is bound to the vendor the tenant chose for its
family (``bind: {block_ip: panos}`` sends ``unblock_ip`` to panos too); one that none provides is
unbound: an error for the step that names it, never a run on some other vendor (the lab included).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

from ._capabilities import Capability
from ._registry import ActionSpec, Registry, registry


class Unbound(LookupError):
    """No action of the tenant's adapters can do what a step asks; the message says what is missing."""


@dataclass(frozen=True)
class Binding:
    """One tenant's capabilities: its configured vendors and, where several provide one, its choice.

    >>> Binding("acme", {"crowdstrike"}).action_for("isolate_host").key
    'crowdstrike.isolate_host'
    """

    tenant: str
    vendors: Collection[str]
    chosen: Mapping[Capability, str] = field(default_factory=dict)  # by capability family
    registry: Registry = field(default_factory=lambda: registry)

    def action_for(self, wanted: str) -> ActionSpec:
        """The action that does ``wanted``, a capability (``block_ip``) or an explicit action key
        (``panos.block_ip``, which must be of a vendor the tenant configures); else ``Unbound``."""
        if "." in wanted:
            return self._explicit(wanted)
        try:
            capability = Capability(wanted)
        except ValueError:
            raise Unbound(f"unknown capability {wanted!r}") from None
        providers = self._providers(capability)
        chosen = self.chosen.get(capability.family)
        if chosen is not None:
            providers = [spec for spec in providers if spec.vendor == chosen]
        if len(providers) == 1:
            return providers[0]
        if not providers:
            why = f" ({chosen} is bound to {capability.family} and has none)" if chosen else ""
            raise Unbound(f"no adapter for {capability} in tenant {self.tenant}{why}")
        raise Unbound(
            f"{capability} is provided by {_and(s.vendor for s in providers)} in tenant {self.tenant}: "
            f"choose one under bind:"
        )

    def problems(self) -> list[tuple[str, str]]:
        """What is wrong with the tenant's choices, as ``(field, why)``: a choice of an unconfigured vendor
        or one that does not provide the capability, or a capability several adapters provide unchosen."""
        found = []
        for capability, vendor in self.chosen.items():
            where = f"bind.{capability}"
            offered = {spec.vendor for spec in self._providers(capability)}
            if capability.restores:
                found.append((where, f"bind {capability.family}: its inverse {capability} follows it"))
            elif vendor not in self.vendors:
                found.append((where, f"{vendor} is not configured under adapters"))
            elif vendor not in offered:
                found.append(
                    (where, f"{vendor} does not provide {capability} (here: provided by {_and(offered)})")
                )
        unchosen = [c for c in Capability if c.family not in self.chosen]
        for family in dict.fromkeys(c.family for c in unchosen):  # one problem per family, in order
            offered = {s.vendor for c in unchosen if c.family is family for s in self._providers(c)}
            if len(offered) > 1:
                choice = f"{{{family}: {min(offered)}}}"
                found.append(("bind", f"{family} is provided by {_and(offered)}: choose one ({choice})"))
        return found

    def _providers(self, capability: Capability) -> list[ActionSpec]:
        return [spec for spec in self.registry.providing(capability) if spec.vendor in self.vendors]

    def _explicit(self, key: str) -> ActionSpec:
        try:
            spec = self.registry.get(key)
        except KeyError as error:
            raise Unbound(str(error.args[0])) from None
        if spec.vendor not in self.vendors:
            raise Unbound(f"{key} needs {spec.vendor}, which tenant {self.tenant} does not configure")
        return spec


def _and(names: Iterable[str]) -> str:
    listed = sorted(names)
    if len(listed) < 2:
        return "".join(listed) or "none"
    return f"{', '.join(listed[:-1])} and {listed[-1]}"
