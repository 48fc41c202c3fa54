"""One exception tree. Third-party errors are translated into these at the boundary.

Every DockyardError is a user-facing message: the CLI prints it (never a traceback)
and exits with `exit_code`. Messages say what was wrong, where, and what to do.
"""

from __future__ import annotations


class DockyardError(Exception):
    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class UsageError(DockyardError):
    """A command was called with arguments that do not fit."""

    exit_code = 2


class SpecError(DockyardError):
    """dockyard.yml is invalid. `problems` holds one 'file:line: key: what' line each."""

    exit_code = 2

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class ConfigError(DockyardError):
    """A configuration value, key or template is wrong."""


class MissingConfigError(ConfigError):
    """Required configuration keys are missing for an environment; lists all of them."""

    def __init__(self, app: str, env: str, missing: list[str]) -> None:
        self.missing = missing
        keys = ", ".join(missing)
        super().__init__(
            f"{app}/{env}: required configuration missing: {keys}",
            hint=f"set them with: dockyard config set {env} KEY=VALUE (add --secret for passwords)",
        )


class StoreUnavailable(DockyardError):
    """The configuration or state store cannot be reached."""


class SecretKeyError(DockyardError):
    """The key that decrypts secrets is missing or wrong."""


class EngineError(DockyardError):
    """The Docker engine refused or failed an operation."""


class EngineUnavailable(EngineError):
    """The Docker engine cannot be reached (socket, TCP or TLS)."""


class BuildError(DockyardError):
    """The image could not be built."""


class RegistryError(DockyardError):
    """A registry refused a push or a pull."""


class DeployError(DockyardError):
    """A deploy did not complete; the previous release is still running."""


class RetireFailed(DeployError):
    """The release is in place and answers, but replicas of the one before could not be removed."""


class HealthCheckFailed(DeployError):
    """New containers did not become healthy; they were removed, the old ones kept."""


class ReleaseTestFailed(DeployError):
    """An endpoint test of the environment (or its post_deploy hook, or a post_switch hook where it
    says `on_failure: rollback`) failed against the release a rolling or recreate deploy made live;
    the deploy puts the previous release back."""

    def __init__(self, message: str, hint: str | None = None, reason: str = "a failed test") -> None:
        super().__init__(message, hint=hint)
        self.reason = reason  # in the restored release's note


class BackupError(DockyardError):
    """A backup or restore could not be made: a bad archive, a store that does not answer, a target
    in use. A restore refused this way has overwritten nothing."""


class NotFound(DockyardError):
    """A named thing (environment, release, engine, key) does not exist."""


class Forbidden(DockyardError):
    """Who asked may not do this: a token without the scope, an approval of one's own run (403)."""

    exit_code = 3
