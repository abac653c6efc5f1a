"""What EventBridge Scheduler does with the one-time schedules of the timers, for local runs: moto server
holds the schedules (CreateSchedule, GetSchedule, DeleteSchedule) but never fires them. At each schedule's
`at(...)` time (UTC) this runner sends its target's Input to its SQS target, then deletes it
(ActionAfterCompletion DELETE). A send that fails is tried again at the next poll, as Scheduler retries.

`run_once()` fires what is due when asked (tests); `start()`/`stop()` poll on a thread of their own."""

import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Self, TextIO

import boto3

from offline.background import BackgroundPoller

_AT = re.compile(r"at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)")


class ScheduleRunner:
    def __init__(
        self,
        endpoint_url: str,
        group: str,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._scheduler = boto3.client("scheduler", endpoint_url=endpoint_url)
        self._sqs = boto3.client("sqs", endpoint_url=endpoint_url)
        self._group = group
        self._clock = clock
        self._poller: BackgroundPoller | None = None
        self.fired: list[str] = []  # the names of the schedules fired, in order

    def pending(self) -> list[dict[str, Any]]:
        """Every schedule of the group, as GetSchedule gives it."""
        summaries = self._scheduler.list_schedules(GroupName=self._group).get("Schedules", [])
        return [self._scheduler.get_schedule(GroupName=self._group, Name=item["Name"]) for item in summaries]

    def run_once(self) -> int:
        """Fires the schedules now due; returns how many."""
        fired = 0
        now = self._clock()
        for schedule in self.pending():
            due = _due_at(schedule)
            if due is None or due > now:
                continue
            target = schedule["Target"]
            queue_url = self._sqs.get_queue_url(QueueName=target["Arn"].rsplit(":", 1)[-1])["QueueUrl"]
            self._sqs.send_message(QueueUrl=queue_url, MessageBody=target["Input"])
            if schedule.get("ActionAfterCompletion") == "DELETE":
                self._scheduler.delete_schedule(GroupName=self._group, Name=schedule["Name"])
            self.fired.append(schedule["Name"])
            fired += 1
        return fired

    def start(self, *, interval_s: float = 0.2, log: TextIO | None = sys.stderr) -> Self:
        if self._poller is not None:
            raise RuntimeError("the schedules are already run in the background")
        self._poller = BackgroundPoller(
            lambda: self.run_once() > 0, name="schedule-runner", interval_s=interval_s, log=log
        )
        self._poller.start()
        return self

    def stop(self) -> None:
        poller, self._poller = self._poller, None
        if poller is not None:
            poller.stop()


def _due_at(schedule: dict[str, Any]) -> datetime | None:
    match = _AT.fullmatch(schedule.get("ScheduleExpression", ""))
    if match is None:
        return None
    if schedule.get("ScheduleExpressionTimezone", "UTC") != "UTC":
        raise ValueError(f"schedule {schedule['Name']}: only UTC at() expressions are run offline")
    return datetime.fromisoformat(match.group(1)).replace(tzinfo=UTC)
