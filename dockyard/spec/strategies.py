"""The ways an environment's release is switched, by name: what dockyard.yml accepts and what the
other layers may ask of one (does it run two colours behind a balancer, how many replicas it
replaces at once, does it test the release before live traffic reaches it).

The registry of names: nothing else compares a strategy's name (tests/unit/test_layers.py). How a
strategy deploys lives in dockyard/deploy/strategies/, one module each, registered there by the
same name.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT", "NAMES", "StrategyTraits", "traits"]


@dataclass(frozen=True)
class StrategyTraits:
    name: str
    colors: bool = False  # two colours behind a balancer (router: in dockyard.yml), switched at once
    batch: int | None = None  # replicas replaced in place at a time; None: all of them together
    tests_before_live: bool = False  # its endpoint tests run before live traffic reaches the release
    canary: bool = False  # beside the stable release at the edge, a share of the requests at a time (canary:)

    @property
    def in_place(self) -> bool:
        """Replaces replicas where they run (no second colour)."""
        return not self.colors


_ALL = (
    StrategyTraits("rolling", batch=1),
    StrategyTraits("recreate", batch=None),
    StrategyTraits("blue-green", colors=True, tests_before_live=True),
    StrategyTraits("canary", tests_before_live=True, canary=True),
)
NAMES = tuple(t.name for t in _ALL)
DEFAULT = "rolling"
_BY_NAME = {t.name: t for t in _ALL}


def traits(name: object) -> StrategyTraits:
    """What strategy `name` is; an unknown or missing one is the default (dockyard.yml's loader has
    refused unknown names already, and a raw document under check may hold anything)."""
    return _BY_NAME.get(name if isinstance(name, str) else DEFAULT, _BY_NAME[DEFAULT])
