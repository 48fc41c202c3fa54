"""Certificates from an ACME CA (RFC 8555: Let's Encrypt; pebble in tests), through certbot's
`acme` library, with the HTTP-01 challenge answered by the edge itself.

The account key is kept in $DOCKYARD_HOME/edge/acme/account.json (0600) and reused. Each order's
challenge answers are handed to `answer(tokens)`, which puts them in the edge's configuration (an
exact location per token, no files: nginx's workers cannot read Dockyard's 0700 home), and taken
out again when the order is done, whatever its outcome.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import josepy as jose
import requests
from acme import challenges, client, crypto_util, errors, messages
from cryptography.hazmat.primitives.asymmetric import rsa

from dockyard import settings
from dockyard.errors import DockyardError
from dockyard.router.certs import new_key

Answer = Callable[[dict[str, str]], None]  # token -> key authorization, served by the edge ({} to stop)


class AcmeError(DockyardError):
    """The ACME CA did not give a certificate."""


@dataclass(frozen=True)
class AcmeSite:
    directory: str
    email: str | None = None
    ca_bundle: str | None = None  # a CA to trust the ACME server by (a test CA); None: the system's
    timeout: float = 90.0


def _account_key(folder: Path) -> jose.JWKRSA:
    path = folder / "account.json"
    if path.exists():
        return jose.JWKRSA.json_loads(path.read_text())
    settings.private_dir(folder)
    key = jose.JWKRSA(key=rsa.generate_private_key(public_exponent=65537, key_size=2048))
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key.json_dumps())
    return key


def _client(site: AcmeSite, key: jose.JWKRSA) -> client.ClientV2:
    # verify_ssl goes to requests' `verify`, which also takes a CA file (typed bool in acme)
    net = client.ClientNetwork(key, user_agent="dockyard", verify_ssl=site.ca_bundle or True)  # type: ignore[arg-type]
    try:
        directory = client.ClientV2.get_directory(site.directory, net)
    except (requests.exceptions.RequestException, errors.Error, ValueError) as exc:
        raise AcmeError(f"the ACME directory {site.directory} does not answer: {_short(exc)}",
                        hint="check acme_directory (dockyard edge configure --acme-directory)") from exc
    acme = client.ClientV2(directory, net)
    registration = messages.NewRegistration.from_data(email=site.email, terms_of_service_agreed=True)
    try:
        acme.new_account(registration)
    except errors.ConflictError as exc:  # this key has an account already: use it
        net.account = messages.RegistrationResource(uri=exc.location, body=messages.Registration())
    return acme


def issue(names: list[str], site: AcmeSite, account_dir: Path, answer: Answer) -> tuple[bytes, bytes]:
    """(full chain PEM, private key PEM) of a new certificate for `names`."""
    key = _account_key(account_dir)
    try:
        acme = _client(site, key)
        cert_key = new_key()
        order = acme.new_order(crypto_util.make_csr(cert_key, names))
        tokens: dict[str, str] = {}
        pending = []
        for authz in order.authorizations:
            if authz.body.status == messages.STATUS_VALID:
                continue  # validated for an earlier order and reused by the CA: answering it again is refused
            chall = next((c for c in authz.body.challenges if isinstance(c.chall, challenges.HTTP01)), None)
            if chall is None:
                raise AcmeError(f"the ACME CA offers no HTTP-01 challenge for {authz.body.identifier.value}")
            response, validation = chall.response_and_validation(key)
            tokens[chall.chall.encode("token")] = validation
            pending.append((chall, response))
        answer(tokens)
        try:
            for chall, response in pending:
                acme.answer_challenge(chall, response)
            deadline = datetime.datetime.now() + datetime.timedelta(seconds=site.timeout)
            done = acme.poll_and_finalize(order, deadline)
        finally:
            answer({})
    except errors.ValidationError as exc:
        problems = "; ".join(f"{a.body.identifier.value}: {_short(a.body.challenges[0].error)}"
                             for a in exc.failed_authzrs)
        raise AcmeError(f"the ACME CA could not validate {', '.join(names)}: {problems}",
                        hint="does each name resolve to this host, and does the edge answer on port 80?") from exc
    except (errors.Error, messages.Error, requests.exceptions.RequestException, TimeoutError) as exc:
        raise AcmeError(f"the ACME CA refused or failed the order for {', '.join(names)}: {_short(exc)}") from exc
    return done.fullchain_pem.encode(), cert_key


def _short(exc: object) -> str:
    text = str(exc).strip().splitlines()
    return (text[-1] if text else type(exc).__name__)[:300]
