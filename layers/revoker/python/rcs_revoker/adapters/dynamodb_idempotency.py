"""The idempotency store: Powertools Idempotency on DynamoDB, behind the domain's IdempotencyStore port.

Powertools does the hard parts (a conditional put of an "in progress" record, its expiry with the Lambda's
deadline, saving the result, removing the record when the computation raises); this adapter only builds it
once and translates its exceptions into the port's. Its records are on the ledger's items where there is a
ledger (rcs_revoker.adapters.ledger_idempotency: the ledger's writes ride along), else in a table of their own.
"""

import threading
import warnings
from collections.abc import Callable
from contextlib import nullcontext
from datetime import timedelta
from typing import Any, Final, cast

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyInconsistentStateError,
    IdempotencyKeyError,
    IdempotencyPersistenceLayerError,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from aws_lambda_powertools.warnings import PowertoolsUserWarning

from rcs_revoker.adapters.aws_clients import aws_client
from rcs_revoker.adapters.dynamodb_ledger import DynamoDbLedger
from rcs_revoker.adapters.ledger_idempotency import LedgerPersistenceLayer
from rcs_revoker.domain.models import REVOCATION_WINDOW
from rcs_revoker.domain.ports import (
    ComputationInProgress,
    IdempotencyStoreUnavailable,
    LedgerWritesAlongside,
    RemainingTime,
)

# Past the 24-hour window Vonage refuses anyway; an hour more covers clock skew and late retries.
IDEMPOTENCY_RECORD_LIFETIME: Final = REVOCATION_WINDOW + timedelta(hours=1)
# The same prefix in every function: the key must not depend on which function asks.
KEY_PREFIX: Final = "rcs-revoker#revoke"


class PowertoolsIdempotencyStore:
    """Implements IdempotencyStore with Powertools Idempotency: on the ledger's items (`ledger`), carrying the
    ledger writes it is given, or in the idempotency table `table_name` (DynamoDBPersistenceLayer)."""

    def __init__(self, table_name: str | None = None, *, ledger: DynamoDbLedger | None = None) -> None:
        if (table_name is None) == (ledger is None):
            raise ValueError("an idempotency table or a ledger, one of them")
        self._table_name = table_name
        self._ledger = ledger
        self._persistence: DynamoDBPersistenceLayer | None = None
        self._config = IdempotencyConfig(
            event_key_jmespath="key",
            raise_on_no_idempotency_key=True,
            expires_after_seconds=int(IDEMPOTENCY_RECORD_LIFETIME.total_seconds()),
        )
        self._run_once: Callable[..., dict[str, Any]] | None = None
        self._lock = threading.Lock()

    def run_once(
        self,
        key: str,
        compute: Callable[[], dict[str, Any]],
        *,
        lambda_context: RemainingTime | None = None,
        alongside: LedgerWritesAlongside | None = None,
    ) -> dict[str, Any]:
        if lambda_context is not None:
            # A record left "in progress" by a timed-out invocation then expires with that invocation,
            # instead of blocking the retry.
            self._config.register_lambda_context(cast(LambdaContext, lambda_context))
        run = self._idempotent()
        persistence = self._persistence
        try:
            with persistence.carrying(alongside) if isinstance(persistence, LedgerPersistenceLayer) else nullcontext():
                return run(record={"key": key}, compute=compute)
        except IdempotencyAlreadyInProgressError:
            raise ComputationInProgress(key) from None
        except (IdempotencyPersistenceLayerError, IdempotencyInconsistentStateError, IdempotencyKeyError) as error:
            if alongside is not None and alongside.refusal is not None:
                raise alongside.refusal from None  # the write-ahead's decision not to ask, not a store failure
            table = "ledger table" if self._ledger is not None else "idempotency table"
            raise IdempotencyStoreUnavailable(type(error).__name__, table=table) from None

    def prepare(self) -> None:
        """Builds the Powertools store now (SnapStart: into the snapshot) instead of on first use."""
        self._idempotent()

    def _idempotent(self) -> Callable[..., dict[str, Any]]:
        # Built on first use, not at cold start: the DynamoDB client is then made while the first request
        # needs it, and not at all where idempotency is switched off.
        with self._lock:  # the bulk worker's threads may all arrive here first at once
            if self._run_once is None:
                persistence = self._persistence = (
                    LedgerPersistenceLayer(self._ledger)
                    if self._ledger is not None
                    else DynamoDBPersistenceLayer(table_name=str(self._table_name), boto3_client=aws_client("dynamodb"))
                )
                # Configured before any thread uses it: Powertools marks a store configured before it has
                # set the key path and expiry, so concurrent first calls could see it half-done.
                persistence.configure(self._config, None, KEY_PREFIX)
                self._run_once = idempotent_function(
                    data_keyword_argument="record",
                    persistence_store=persistence,
                    config=self._config,
                    key_prefix=KEY_PREFIX,
                )(_compute)
            return self._run_once


def _compute(*, record: dict[str, str], compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    # `record` carries the key Powertools hashes; the computation itself is passed through untouched.
    return compute()


class NoIdempotencyStore:
    """Idempotency switched off (POWERTOOLS_IDEMPOTENCY_DISABLED, development and the bench only): every call
    computes. Powertools would call the function straight through without touching its store; going around it
    means the store and its DynamoDB client (about 15 ms of the first request) are not built at all.
    Powertools' warning is kept."""

    def __init__(self) -> None:
        warnings.warn(
            "Disabling idempotency is intended for development environments only and should not be used in production.",
            PowertoolsUserWarning,
            stacklevel=2,
        )

    def prepare(self) -> None:
        """Nothing to build."""

    def run_once(
        self,
        key: str,
        compute: Callable[[], dict[str, Any]],
        *,
        lambda_context: RemainingTime | None = None,
        alongside: LedgerWritesAlongside | None = None,
    ) -> dict[str, Any]:
        return compute()
