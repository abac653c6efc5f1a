"""The timers' wake-ups (TimerWakeUps): an SQS message delayed up to 15 minutes on the timer queue, or, for a
later due time, an EventBridge Scheduler one-time schedule that sends that message to the queue.

Why both: a delayed SQS message costs one request and nothing while it waits, with second precision, but
waits at most 900 s; hopping a 24-hour timer through the queue would invoke the function 96 times while it
waits. A schedule waits any time for free (one invocation, $1 per million, when it fires), but Scheduler
fires within about a minute and holds at most a quota of schedules. So a long timer is a schedule that fires
SCHEDULE_LEAD early into the queue, whose last hop lands on the second.
"""

import json
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from rcs_revoker.adapters.aws_clients import aws_client
from rcs_revoker.adapters.dynamodb_attributes import error_code
from rcs_revoker.domain.errors import DependencyUnavailable
from rcs_revoker.domain.timers import Timer, WakeUpPlan
from rcs_revoker.observability import count, logger

# Scheduler's own retries of a schedule whose target (the queue) fails: its maxima, so that a due timer is
# tried for as long as Vonage's window could still matter; then the dead-letter queue (with its alarm).
SCHEDULE_RETRY_POLICY: Final = {"MaximumEventAgeInSeconds": 86_400, "MaximumRetryAttempts": 185}


class SqsSchedulerWakeUps:
    def __init__(
        self,
        *,
        queue_url: str,
        queue_arn: str | None,
        schedule_group: str | None,
        scheduler_role_arn: str | None,
        dead_letter_queue_arn: str | None,
    ) -> None:
        self._queue_url = queue_url
        self._queue_arn = queue_arn
        self._group = schedule_group
        self._role_arn = scheduler_role_arn
        self._dead_letter_queue_arn = dead_letter_queue_arn

    def arm(self, timer: Timer, plan: WakeUpPlan, *, retries: int = 0) -> None:
        body = json.dumps(timer.wake_up(retries=retries), separators=(",", ":"))
        try:
            if plan.delay_s is not None:
                aws_client("sqs").send_message(
                    QueueUrl=self._queue_url, MessageBody=body, DelaySeconds=min(max(plan.delay_s, 0), 900)
                )
            else:
                self._schedule(timer, plan, body)
        except (ClientError, BotoCoreError) as error:
            if error_code(error) == "ConflictException":
                return  # this timer's schedule exists already: armed
            raise DependencyUnavailable(f"The timer's wake-up could not be armed ({error_code(error)}).") from None

    def forget(self, timer: Timer) -> None:
        if self._group is None:
            return
        try:
            aws_client("scheduler").delete_schedule(Name=timer.schedule_name, GroupName=self._group)
        except (ClientError, BotoCoreError) as error:
            if error_code(error) != "ResourceNotFoundException":  # fired already, or never created
                count("TimerSchedulesNotDeleted")
                logger.warning(
                    "timer's schedule not deleted; it will wake a timer that has ended",
                    extra={"error": error_code(error)},
                )

    def _schedule(self, timer: Timer, plan: WakeUpPlan, body: str) -> None:
        if not (self._group and self._queue_arn and self._role_arn and plan.schedule_at):
            raise DependencyUnavailable(
                "This function has no timer schedule group: a timer past 15 minutes cannot be armed."
            )
        target: dict[str, Any] = {
            "Arn": self._queue_arn,
            "RoleArn": self._role_arn,
            "Input": body,
            "RetryPolicy": SCHEDULE_RETRY_POLICY,
        }
        if self._dead_letter_queue_arn:
            target["DeadLetterConfig"] = {"Arn": self._dead_letter_queue_arn}
        aws_client("scheduler").create_schedule(
            Name=timer.schedule_name,
            GroupName=self._group,
            ScheduleExpression=f"at({plan.schedule_at:%Y-%m-%dT%H:%M:%S})",
            ScheduleExpressionTimezone="UTC",
            FlexibleTimeWindow={"Mode": "OFF"},
            ActionAfterCompletion="DELETE",
            Target=target,
        )
