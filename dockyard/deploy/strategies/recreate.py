"""recreate: every replica replaced at once (each still healthy before its old one goes)."""

from __future__ import annotations

from dockyard.deploy.strategies.in_place import InPlace


class Recreate(InPlace):
    name = "recreate"
