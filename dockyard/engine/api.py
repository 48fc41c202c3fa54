"""docker-py's types and failures, under the names the layers above use.

Only engine/ imports docker: the orchestrators catch these and hold these objects, so a fake
engine (tests/fakes/engine.py) can stand in for the real one without any docker import above.
"""

from __future__ import annotations

import docker
import docker.errors
import requests.exceptions
from docker.models.containers import Container

__all__ = ["Client", "Container", "DockerAPIError", "DockerError", "DockerNotFound", "ImageMissing"]

Client = docker.DockerClient
# Anything the engine refused, or could not be asked. docker-py lets requests' ConnectionError through
# when the engine goes away in the middle of a call (a dockerd restart): that is the engine's failure
# too. A tuple: catch it as `except DockerError` or `except (*DockerError, OSError)`.
DockerError = (docker.errors.DockerException, requests.exceptions.ConnectionError)
DockerAPIError = docker.errors.APIError  # the engine answered with an error status
DockerNotFound = docker.errors.NotFound  # the container, service or network is gone
ImageMissing = docker.errors.ImageNotFound
