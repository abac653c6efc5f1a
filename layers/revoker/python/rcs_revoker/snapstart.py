"""SnapStart (the template's SnapStart parameter): Lambda runs the init once, when a version is published,
snapshots the process, and starts every new container of that version from a copy of the snapshot.

So the init builds what the first request would otherwise build (prepare_for_snapshot: the AWS clients and
the idempotency store; nothing that connects or reads a secret), and the runtime hooks below keep the copies
apart: before the snapshot, every pooled connection is closed (a TCP or TLS session cannot be shared by copies
running at once); after each restore, `random` is re-seeded (every copy would draw the same retry jitter), and
the JWTs signed and the secrets read are dropped (one jti must not be sent by many copies, and a snapshot may be
restored weeks after it was taken, after a key rotation). tests/integration/test_snapstart.py runs the hooks as
Lambda does; bench/probe.py's restore row measures the first request after them.
"""

import random
from typing import TYPE_CHECKING, Final

from snapshot_restore_py import register_after_restore, register_before_snapshot

from rcs_revoker.adapters import aws_clients, aws_json
from rcs_revoker.observability import logger

if TYPE_CHECKING:
    from rcs_revoker.bootstrap import Service

# The services a function may call: their clients are built (models loaded, endpoints resolved) into the snapshot.
AWS_SERVICES: Final = ("dynamodb", "secretsmanager", "sqs", "events", "scheduler")


def prepare_for_snapshot(service: "Service") -> None:
    if not service.settings.snapshot_init:
        return
    for name in AWS_SERVICES:
        aws_clients.aws_client(name)
    for name in aws_json.TARGET_PREFIXES:
        aws_json.aws_json(name)
    service.idempotency.prepare()
    logger.debug("prepared for the snapshot", extra={"aws_clients": list(AWS_SERVICES)})


def close_connections() -> None:
    from rcs_revoker.bootstrap import service

    aws_clients.close_connections()
    aws_json.close_connections()
    service().vonage.forget_connections_and_tokens()


def renew_after_restore() -> None:
    from rcs_revoker.bootstrap import service

    random.seed()  # from os.urandom: each copy its own sequence
    built = service()
    built.vonage.forget_connections_and_tokens()  # again: nothing may have connected since, but nothing is shared
    built.applications.forget()
    aws_clients.close_connections()
    aws_json.close_connections()
    logger.debug("restored from a snapshot: connections, JWTs and secrets renewed")


register_before_snapshot(close_connections)
register_after_restore(renew_after_restore)
