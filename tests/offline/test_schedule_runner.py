"""offline.schedule_runner: moto's one-time schedules fired at their at() time into their SQS target, as
EventBridge Scheduler would, then deleted; in the foreground and in the background."""

from __future__ import annotations

import io
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from offline.aws_seed import TimerResources, create_timer_resources, drain_queue
from offline.moto_server import MotoServer
from offline.schedule_runner import ScheduleRunner

NOW = datetime(2026, 12, 2, 9, 0, 0, tzinfo=UTC)


@pytest.fixture
def timers(aws_sdk_env: None, moto_server: MotoServer) -> TimerResources:
    return create_timer_resources(moto_server.endpoint_url, f"runner-{uuid.uuid4().hex[:8]}", max_receive_count=3)


def create(moto_server: MotoServer, timers: TimerResources, name: str, expression: str, **extra: Any) -> None:
    boto3.client("scheduler", endpoint_url=moto_server.endpoint_url).create_schedule(
        Name=name,
        GroupName=timers.schedule_group,
        ScheduleExpression=expression,
        FlexibleTimeWindow={"Mode": "OFF"},
        ActionAfterCompletion="DELETE",
        Target={"Arn": timers.queue_arn, "RoleArn": timers.scheduler_role_arn, "Input": f'{{"name": "{name}"}}'},
        **extra,
    )


def test_a_due_schedule_sends_its_input_to_its_queue_and_is_deleted(
    moto_server: MotoServer, timers: TimerResources
) -> None:
    create(moto_server, timers, "due", f"at({NOW - timedelta(seconds=1):%Y-%m-%dT%H:%M:%S})")
    create(moto_server, timers, "later", f"at({NOW + timedelta(minutes=5):%Y-%m-%dT%H:%M:%S})")
    create(moto_server, timers, "every-hour", "rate(1 hour)")  # not a one-time schedule: never fired here
    runner = ScheduleRunner(moto_server.endpoint_url, timers.schedule_group, clock=lambda: NOW)
    assert runner.run_once() == 1
    assert runner.fired == ["due"]
    assert drain_queue(moto_server.endpoint_url, timers.queue_url) == [{"name": "due"}]
    assert sorted(schedule["Name"] for schedule in runner.pending()) == ["every-hour", "later"]
    assert runner.run_once() == 0


def test_a_schedule_in_another_time_zone_is_refused_rather_than_fired_at_the_wrong_time(
    moto_server: MotoServer, timers: TimerResources
) -> None:
    create(moto_server, timers, "paris", "at(2026-12-02T08:00:00)", ScheduleExpressionTimezone="Europe/Paris")
    with pytest.raises(ValueError, match="only UTC"):
        ScheduleRunner(moto_server.endpoint_url, timers.schedule_group, clock=lambda: NOW).run_once()


def test_in_the_background_it_fires_what_comes_due_until_stopped(
    moto_server: MotoServer, timers: TimerResources
) -> None:
    runner = ScheduleRunner(moto_server.endpoint_url, timers.schedule_group).start(interval_s=0.05, log=io.StringIO())
    try:
        with pytest.raises(RuntimeError, match="already"):
            runner.start()
        create(moto_server, timers, "soon", f"at({datetime.now(UTC) + timedelta(seconds=1):%Y-%m-%dT%H:%M:%S})")
        give_up = time.monotonic() + 10
        while not runner.fired and time.monotonic() < give_up:
            time.sleep(0.05)
    finally:
        runner.stop()
    assert runner.fired == ["soon"]
    assert drain_queue(moto_server.endpoint_url, timers.queue_url) == [{"name": "soon"}]
    runner.stop()  # stopping twice is harmless
