"""Dockyard: from a git commit to production on Docker, one image for every environment."""

__version__ = "0.1.0"
