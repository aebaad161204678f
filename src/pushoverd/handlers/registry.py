"""The ``kind -> factory`` table: how a handler spec's ``kind`` finds its implementation."""

from __future__ import annotations

from collections.abc import Iterable

from pushoverd.errors import ValidationError
from pushoverd.handlers.base import Forwarder, Handler, Kind, PlumbingKind
from pushoverd.models import HandlerSpec


class KindRegistry:
    """Handler kinds by name: the ones that deliver, and the plumbing ones that pass events
    on between topics."""

    def __init__(self, kinds: Iterable[Kind], plumbing: Iterable[PlumbingKind] = ()) -> None:
        self._kinds = {k.name: k for k in kinds}
        self._plumbing = {k.name: k for k in plumbing}

    def kind(self, name: str) -> Kind:
        """The delivering kind called ``name`` (case-sensitive, as in Kapacitor)."""
        try:
            return self._kinds[name]
        except KeyError:
            raise ValidationError(f'unsupported action kind "{name}"') from None

    def is_plumbing(self, name: str) -> bool:
        """Whether ``name`` is a plumbing kind (its handlers send nothing)."""
        return name in self._plumbing

    def secret_options(self, name: str) -> frozenset[str]:
        """The secret options of kind ``name`` (none for an unknown kind)."""
        kind = self._kinds.get(name) or self._plumbing.get(name)
        return kind.secret_options if kind is not None else frozenset()

    def compile(self, spec: HandlerSpec) -> Handler | Forwarder:
        """Compile a spec with its kind."""
        plumbing = self._plumbing.get(spec.kind)
        return plumbing.compile(spec) if plumbing else self.kind(spec.kind).compile(spec)
