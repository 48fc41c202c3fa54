"""How a release is switched: one Strategy per module, registered here by its dockyard.yml name.

A new strategy (a canary, say) is its module here, its line in `STRATEGIES`, and its traits in
spec/strategies.py (what dockyard.yml accepts, and what the other layers may ask of it). Nothing
else compares a strategy's name (tests/unit/test_layers.py).
"""

from __future__ import annotations

from dockyard.deploy.outcome import DeployContext
from dockyard.deploy.strategies.base import Strategy
from dockyard.deploy.strategies.blue_green import BlueGreen
from dockyard.deploy.strategies.canary import Canary
from dockyard.deploy.strategies.recreate import Recreate
from dockyard.deploy.strategies.rolling import Rolling
from dockyard.deploy.targets import Target

__all__ = ["STRATEGIES", "Strategy", "strategy_for"]

STRATEGIES: dict[str, type[Strategy]] = {cls.name: cls for cls in (Rolling, Recreate, BlueGreen, Canary)}


def strategy_for(name: str, ctx: DeployContext, target: Target) -> Strategy:
    return STRATEGIES[name](ctx, target)
