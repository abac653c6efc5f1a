"""The Vonage applications a stack serves, each with its own credentials secret, read on first use.

The default application's secret is VONAGE_SECRET_ID; application `brand-b`'s is `<VONAGE_SECRET_ID>/brand-b`
(rcs_revoker.domain.applications.secret_id_for). Each has its own cache, single-flight read and rotation: a
401 on one application's key re-reads that application's secret only.
"""

import threading
from collections.abc import Callable, Iterable
from typing import Protocol

from rcs_revoker.adapters.vonage_credentials import CredentialsSource, SecretsManagerCredentials
from rcs_revoker.domain.applications import secret_id_for
from rcs_revoker.domain.errors import ServiceMisconfigured


class ApplicationCredentials(Protocol):
    """What the Vonage client and the webhook's verifier ask: the credentials of one application, and which
    applications there are."""

    @property
    def served(self) -> tuple[str | None, ...]:
        """None (the default application) first, then the others by name."""
        ...

    def source_for(self, application: str | None) -> CredentialsSource:
        """The credentials of `application` (None: the default); ServiceMisconfigured for one not served."""
        ...


class SecretsManagerApplications:
    def __init__(
        self,
        default_secret_id: str,
        applications: Iterable[str] = (),
        *,
        new_source: Callable[[str], CredentialsSource] = SecretsManagerCredentials,
    ) -> None:
        self._default_secret_id = default_secret_id
        self._served: tuple[str | None, ...] = (None, *sorted(set(applications)))
        self._new_source = new_source
        self._sources: dict[str | None, CredentialsSource] = {}
        self._lock = threading.Lock()  # one source (one cache, one single flight) per application

    @property
    def served(self) -> tuple[str | None, ...]:
        return self._served

    def forget(self) -> None:
        """Every application's cached secret and parsed key dropped: the next use reads the secret again."""
        with self._lock:
            self._sources = {}

    def source_for(self, application: str | None) -> CredentialsSource:
        source = self._sources.get(application)
        if source is not None:
            return source
        if application not in self._served:
            raise ServiceMisconfigured(f"This stack does not serve the Vonage application {application!r}.")
        with self._lock:
            source = self._sources.get(application)
            if source is None:
                source = self._new_source(secret_id_for(self._default_secret_id, application))
                self._sources[application] = source
            return source
