"""rolling: one replica replaced at a time, the others serving meanwhile."""

from __future__ import annotations

from dockyard.deploy.strategies.in_place import InPlace


class Rolling(InPlace):
    name = "rolling"
