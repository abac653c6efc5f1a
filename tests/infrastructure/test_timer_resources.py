"""Deferred revocations: the timers' schedule group, the role EventBridge Scheduler sends wake-ups with, who may
create, delete and pass what, the cancel route, and the alarms of a timer that cannot fire."""

from __future__ import annotations

import re
from typing import Any

from tests.infrastructure.sam_template import (
    REPO_ROOT,
    TIMER_SCHEDULE_GROUP_NAME,
    TIMER_SCHEDULES_ARN,
    api_routes,
    as_list,
    function_properties,
    functions,
    granted_policies,
    resources,
    sub_string,
)

TIMER_QUEUE_ARN = {"Fn::GetAtt": ["TimerQueue", "Arn"]}
TIMER_DEAD_LETTER_QUEUE_ARN = {"Fn::GetAtt": ["TimerDeadLetterQueue", "Arn"]}
SCHEDULER_ROLE_ARN = {"Fn::GetAtt": ["TimerSchedulerRole", "Arn"]}
# Any entry point may be asked to defer a revocation, and may replace a timer (whose schedule it deletes).
ARMING_FUNCTIONS = {"RevokeApiFunction", "RevokeEventFunction", "RevokeWorkerFunction"}
# ... and a delivered message's callback ends its timer (the cancel route is on RevokeApiFunction).
DELETING_FUNCTIONS = ARMING_FUNCTIONS | {"StatusWebhookFunction"}
PACKAGE = REPO_ROOT / "layers" / "revoker" / "python" / "rcs_revoker"


def statements_of(template: dict[str, Any], logical_id: str) -> list[dict[str, Any]]:
    return [
        statement
        for policy in granted_policies(function_properties(template, logical_id).get("Policies", []))
        for statement in as_list(policy["Statement"])
    ]


def granting(template: dict[str, Any], action: str) -> dict[str, list[dict[str, Any]]]:
    """Each function's statements that grant `action` (exactly as written: no wildcards exist, see test_permissions)."""
    found = {
        logical_id: [s for s in statements_of(template, logical_id) if action in as_list(s["Action"])]
        for logical_id in functions(template)
    }
    return {logical_id: statements for logical_id, statements in found.items() if statements}


def test_the_timers_have_a_schedule_group_of_their_own(template: dict[str, Any]) -> None:
    (group_id,) = resources(template, "AWS::Scheduler::ScheduleGroup")
    assert group_id == "TimerScheduleGroup"
    assert sub_string(template["Resources"][group_id]["Properties"]["Name"]) == TIMER_SCHEDULE_GROUP_NAME
    # The functions create each timer's schedule at run time: the template defines none.
    assert not resources(template, "AWS::Scheduler::Schedule")
    for logical_id, properties in functions(template).items():
        assert properties["Environment"]["Variables"]["TIMER_SCHEDULE_GROUP"] == {"Ref": group_id}, logical_id


def test_schedules_are_created_and_deleted_in_the_timers_group_only(template: dict[str, Any]) -> None:
    for logical_id in functions(template):
        for statement in statements_of(template, logical_id):
            actions = as_list(statement["Action"])
            if not any(action.startswith("scheduler:") for action in actions):
                continue
            # Scheduler actions are alone in their statement, on the group's schedules: not on another group's
            # (the default group's, another stack's), nor on the groups themselves.
            assert all(action.startswith("scheduler:") for action in actions), logical_id
            assert set(actions) <= {"scheduler:CreateSchedule", "scheduler:DeleteSchedule"}, (logical_id, actions)
            (resource,) = as_list(statement["Resource"])
            assert sub_string(resource) == TIMER_SCHEDULES_ARN, logical_id
            assert "Condition" not in statement, logical_id
    assert set(granting(template, "scheduler:CreateSchedule")) == ARMING_FUNCTIONS
    assert set(granting(template, "scheduler:DeleteSchedule")) == DELETING_FUNCTIONS
    # The group the ARN names is the group the stack creates.
    group_name = sub_string(template["Resources"]["TimerScheduleGroup"]["Properties"]["Name"])
    assert TIMER_SCHEDULES_ARN.endswith(f":schedule/{group_name}/*")


def test_pass_role_passes_the_scheduler_role_to_scheduler_only(template: dict[str, Any]) -> None:
    passing = granting(template, "iam:PassRole")
    # Who creates a schedule passes its role, and nobody else passes any role.
    assert set(passing) == ARMING_FUNCTIONS
    for logical_id, statements in passing.items():
        (statement,) = statements
        assert as_list(statement["Action"]) == ["iam:PassRole"], logical_id
        assert as_list(statement["Resource"]) == [SCHEDULER_ROLE_ARN], logical_id
        # Without it, the role could be handed to any service that takes one (Lambda, EC2...).
        assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}}


def test_sam_lets_no_other_role_pass_a_role(translated: dict[str, Any]) -> None:
    passing = {
        logical_id
        for logical_id, resource in resources(translated, "AWS::IAM::Role").items()
        for policy in granted_policies(resource["Properties"].get("Policies", []))
        for statement in as_list(policy["PolicyDocument"]["Statement"])
        if any(str(action).startswith("iam:") for action in as_list(statement["Action"]))
    }
    assert passing == {f"{logical_id}Role" for logical_id in ARMING_FUNCTIONS}


def test_the_scheduler_role_is_assumed_by_scheduler_for_the_timers_group_only(template: dict[str, Any]) -> None:
    role = template["Resources"]["TimerSchedulerRole"]
    assert role["Type"] == "AWS::IAM::Role"
    (trust,) = as_list(role["Properties"]["AssumeRolePolicyDocument"]["Statement"])
    assert trust["Effect"] == "Allow"
    # No other service, no account principal.
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert as_list(trust["Action"]) == ["sts:AssumeRole"]
    # Confused deputy: only this account's schedules of this stack's group.
    condition = trust["Condition"]
    assert set(condition) == {"StringEquals"}
    assert condition["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
    assert sub_string(condition["StringEquals"]["aws:SourceArn"]) == (
        "arn:${AWS::Partition}:scheduler:${AWS::Region}:${AWS::AccountId}:schedule-group/" + TIMER_SCHEDULE_GROUP_NAME
    )
    assert set(condition["StringEquals"]) == {"aws:SourceAccount", "aws:SourceArn"}


def test_the_scheduler_role_sends_to_the_timer_queue_and_its_dead_letter_queue_only(template: dict[str, Any]) -> None:
    properties = template["Resources"]["TimerSchedulerRole"]["Properties"]
    assert "ManagedPolicyArns" not in properties
    (policy,) = properties["Policies"]
    (statement,) = as_list(policy["PolicyDocument"]["Statement"])
    assert statement["Effect"] == "Allow"
    assert as_list(statement["Action"]) == ["sqs:SendMessage"]
    assert as_list(statement["Resource"]) == [TIMER_QUEUE_ARN, TIMER_DEAD_LETTER_QUEUE_ARN]
    # What the functions give a schedule (its target, its dead-letter queue, its role) is what the role allows.
    for logical_id, function in functions(template).items():
        variables = function["Environment"]["Variables"]
        assert variables["TIMER_SCHEDULER_ROLE_ARN"] == SCHEDULER_ROLE_ARN, logical_id
        assert variables["TIMER_QUEUE_ARN"] == TIMER_QUEUE_ARN, logical_id
        assert variables["TIMER_DEAD_LETTER_QUEUE_ARN"] == TIMER_DEAD_LETTER_QUEUE_ARN, logical_id
        assert variables["TIMER_QUEUE_URL"] == {"Ref": "TimerQueue"}, logical_id


def test_every_function_that_arms_or_rearms_a_timer_may_queue_its_wake_up(template: dict[str, Any]) -> None:
    sending = {
        logical_id
        for logical_id, statements in granting(template, "sqs:SendMessage").items()
        if any(TIMER_QUEUE_ARN in as_list(s["Resource"]) for s in statements)
    }
    # The arming entry points; the reconciler (a timer whose wake-up never came); the timer function (hops).
    assert sending == ARMING_FUNCTIONS | {"ReconcilerFunction", "RevokeTimerFunction"}


def test_the_cancel_route_is_on_the_api_function_with_sigv4(template: dict[str, Any]) -> None:
    (route,) = [r for r in api_routes(template) if r[:2] == ("DELETE", "/messages/{message_uuid}/revocation")]
    _, _, logical_id, event_id, event = route
    assert (logical_id, event_id) == ("RevokeApiFunction", "CancelRevocation")
    assert event["RestApiId"] == {"Ref": "RevocationApi"}
    assert "Auth" not in event  # the API's default: AWS_IAM


def test_the_timer_dead_letter_queue_alarms_on_its_first_message(template: dict[str, Any]) -> None:
    alarm = template["Resources"]["TimerDeadLetterQueueAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    queue_name = {"Fn::GetAtt": ["TimerDeadLetterQueue", "QueueName"]}
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": queue_name}]
    assert (alarm["Statistic"], alarm["Threshold"], alarm["ComparisonOperator"]) == (
        "Maximum",
        1,
        "GreaterThanOrEqualToThreshold",
    )
    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]


def test_timers_not_armed_alarm_watches_the_metric_the_code_counts(template: dict[str, Any]) -> None:
    alarm = template["Resources"]["TimersNotArmedAlarm"]["Properties"]
    namespace = template["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"]
    assert (alarm["Namespace"], alarm["MetricName"]) == (namespace, "TimersNotArmed")
    # The service dimension Powertools adds to every metric, as on the other custom-metric alarm.
    abandoned = template["Resources"]["RevocationsAbandonedAlarm"]["Properties"]
    assert alarm["Dimensions"] == abandoned["Dimensions"]
    assert (alarm["Statistic"], alarm["Period"], alarm["Threshold"]) == ("Sum", 300, 1)
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    # A renamed metric would leave the alarm watching nothing, and TreatMissingData keeps it quiet.
    counted = [
        path.relative_to(REPO_ROOT)
        for path in PACKAGE.rglob("*.py")
        if re.search(r"""count\(\s*["']TimersNotArmed["']""", path.read_text(encoding="utf-8"))
    ]
    assert counted, "no count('TimersNotArmed') in rcs_revoker: the alarm watches a metric nothing emits"
