"""The ``kind -> factory`` table: how a handler spec's ``kind`` finds its implementation."""

from __future__ import annotations

from collections.abc import Iterable

from pushoverd.errors import ValidationError
from pushoverd.handlers.base import Handler, Kind
from pushoverd.models import HandlerSpec


class KindRegistry:
    """Handler kinds by name."""

    def __init__(self, kinds: Iterable[Kind]) -> None:
        self._kinds = {k.name: k for k in kinds}

    def kind(self, name: str) -> Kind:
        """The kind called ``name`` (case-sensitive, as in Kapacitor)."""
        try:
            return self._kinds[name]
        except KeyError:
            raise ValidationError(f'unsupported action kind "{name}"') from None

    def secret_options(self, name: str) -> frozenset[str]:
        """The secret options of kind ``name`` (none for an unknown kind)."""
        kind = self._kinds.get(name)
        return kind.secret_options if kind is not None else frozenset()

    def compile(self, spec: HandlerSpec) -> Handler:
        """Compile a spec with its kind."""
        return self.kind(spec.kind).compile(spec)
