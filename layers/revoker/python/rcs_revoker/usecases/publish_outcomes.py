"""The ledger's stream, relayed to the bus: each change of a record publishes the events its new version
carries, in order per message, at least once, each with its stable event id and the schema version."""

from collections.abc import Sequence

from rcs_revoker.domain.errors import OutcomeNotRecorded
from rcs_revoker.domain.outcome_events import SCHEMA_VERSION, OutcomeEvent, RecordChange, event_id
from rcs_revoker.domain.ports import OutcomePublisher
from rcs_revoker.observability import count, logger


class PublishOutcomes:
    def __init__(self, publisher: OutcomePublisher | None) -> None:
        self._publisher = publisher

    def __call__(self, changes: Sequence[RecordChange]) -> str | None:
        """Publishes the changes' events in order; returns the sequence number of the first change not (wholly)
        published, from which the batch must be retried (None: all were). Nothing after it is published
        first, so that a message's events never overtake one another."""
        pending = [change for change in changes if _is_new_version(change) and change.events]
        entries: list[OutcomeEvent] = []
        owners: list[RecordChange] = []
        for change in pending:
            for index, event in enumerate(change.events):
                detail = {
                    "schema_version": SCHEMA_VERSION,
                    "event_id": event_id(change.message_uuid, change.version, index),
                    **event.detail,
                }
                entries.append(OutcomeEvent(event.detail_type, detail))
                owners.append(change)
        if not entries:
            return None
        if self._publisher is None:
            logger.warning("no event bus: outcome events dropped", extra={"events": len(entries)})
            return None
        try:
            taken = self._publisher.publish(entries)
        except OutcomeNotRecorded:
            taken = 0  # the bus did not answer: the batch is retried from its first change
        count("OutcomeEventsPublished", taken)
        for entry in entries[:taken]:
            # One line per outcome: the dashboard's and Logs Insights' counts by kind, fallback and reason, at
            # no metric's price (a metric per kind and fallback would be billed by the combination).
            logger.info(
                "outcome published",
                extra={
                    "message_uuid": entry.detail.get("message_uuid"),
                    "detail_type": entry.detail_type,
                    "fallback": entry.detail.get("fallback"),
                    "reason": entry.detail.get("reason"),
                },
            )
        if taken == len(entries):
            return None
        count("OutcomePublishFailures")
        first = owners[taken]
        logger.error(
            "outcome events not published; retried from this change",
            extra={"message_uuid": first.message_uuid, "version": first.version, "published": taken},
        )
        return first.sequence_number


def _is_new_version(change: RecordChange) -> bool:
    # A write that published nothing (or a TTL removal) is no new version to publish.
    return change.previous_version is None or change.version > change.previous_version
