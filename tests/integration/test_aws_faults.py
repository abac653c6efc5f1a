"""AWS failing under the service: Secrets Manager and DynamoDB unavailable or throttling, through a real
proxy in front of moto server. Each request ends accepted, rejected with a reason, or retried: never lost,
never a second PATCH."""

import time
import uuid

import pytest

from offline.aws_seed import put_agent
from offline.vonage_simulator import Outcome
from rcs_revoker.adapters.aws_clients import MAX_ATTEMPTS
from rcs_revoker.invocation import RetryableRevocationFailure
from tests.conftest import (
    AGENTS_TABLE,
    LEDGER_TABLE,
    Stack,
    api_event,
    body_of,
    bulk_event,
    eventbridge_event,
    header,
    status_event,
)


def message() -> str:
    return str(uuid.uuid4())


def test_brief_secrets_manager_throttling_is_absorbed_by_the_sdk_retries(stack: Stack) -> None:
    stack.aws.throttle("secretsmanager.GetSecretValue", times=2)

    response = stack.invoke_api(api_event(message(), {"region": "eu"}))

    assert response["statusCode"] == 202
    assert stack.aws.failed_calls == ["secretsmanager.GetSecretValue"] * 2


def test_secrets_manager_down_fails_an_event_so_that_lambda_retries_it(stack: Stack) -> None:
    stack.aws.fail("secretsmanager.GetSecretValue")
    event = eventbridge_event({"message_uuid": message(), "region": "eu"})

    with pytest.raises(RetryableRevocationFailure, match="dependency-unavailable"):
        stack.invoke_event(event)
    assert stack.outcome_events() == []
    # after the SDK's attempts: three in all, the first included (aws_clients.MAX_ATTEMPTS)
    assert MAX_ATTEMPTS == 3
    assert stack.aws.failed_calls == ["secretsmanager.GetSecretValue"] * 3

    stack.aws.clear()
    assert stack.invoke_event(event)["outcome"] == "accepted"


def test_the_idempotency_record_not_taken_fails_an_event_and_the_retry_revokes_once(stack: Stack) -> None:
    stack.aws.fail("DynamoDB_20120810.UpdateItem", matching=(LEDGER_TABLE, IN_PROGRESS_WRITE))
    uuid_ = message()
    event = eventbridge_event({"message_uuid": uuid_, "region": "eu"})

    with pytest.raises(RetryableRevocationFailure, match="dependency-unavailable"):
        stack.invoke_event(event)

    stack.aws.clear()
    assert stack.invoke_event(event)["outcome"] == "accepted"
    assert stack.vonage.patches_for(uuid_) == 1


def test_the_ledger_down_before_the_patch_fails_an_event_and_vonage_is_not_asked(stack: Stack) -> None:
    stack.aws.fail("DynamoDB_20120810.UpdateItem", matching=LEDGER_TABLE)
    uuid_ = message()
    event = eventbridge_event({"message_uuid": uuid_, "region": "eu"})

    with pytest.raises(RetryableRevocationFailure, match="outcome-not-recorded"):
        stack.invoke_event(event)
    assert stack.vonage.patches_for(uuid_) == 0  # no PATCH without a record of it

    stack.aws.clear()
    assert stack.invoke_event(event)["outcome"] == "accepted"
    assert stack.vonage.patches_for(uuid_) == 1


# The outcome's write, not the write-ahead: only it names the state `requested`.
OUTCOME_WRITE = '"requested"'
# The idempotency record's writes, on the message's ledger item: taken "in progress" (with the write-ahead),
# its result kept (with the outcome, or alone), removed.
IN_PROGRESS_WRITE = '"INPROGRESS"'
RESULT_WRITE = '"COMPLETED"'
RECORD_REMOVAL = "attribute_exists(#i_status)"


def test_the_ledger_down_after_the_patch_retries_an_event_without_a_second_patch(stack: Stack) -> None:
    stack.aws.fail("DynamoDB_20120810.UpdateItem", matching=OUTCOME_WRITE)
    uuid_ = message()
    event = eventbridge_event({"message_uuid": uuid_, "region": "eu"})

    with pytest.raises(RetryableRevocationFailure, match="outcome-not-recorded"):
        stack.invoke_event(event)

    stack.aws.clear()
    assert stack.invoke_event(event)["outcome"] == "accepted"
    assert stack.vonage.patches_for(uuid_) == 1  # the retry replayed the stored outcome


def test_brief_ledger_throttling_is_retried_and_the_revocation_is_recorded_once(stack: Stack) -> None:
    # The ledger's item reads and writes go through rcs_revoker.adapters.aws_json, not boto3: its own
    # retries (botocore's standard rules) must take a throttle as the SDK would.
    stack.aws.throttle("DynamoDB_20120810.GetItem", times=1)
    stack.aws.throttle("DynamoDB_20120810.UpdateItem", matching=IN_PROGRESS_WRITE, times=2)
    uuid_ = message()

    response = stack.invoke_api(api_event(uuid_, {"region": "eu"}))

    assert response["statusCode"] == 202
    assert stack.aws.failed_calls == ["DynamoDB_20120810.GetItem"] + ["DynamoDB_20120810.UpdateItem"] * 2
    assert stack.vonage.patches_for(uuid_) == 1
    record = body_of(stack.invoke_api(status_event(f"/revocations/{uuid_}")))
    assert (record["state"], record["attempts"]) == ("requested", 1)


def test_brief_sqs_throttling_still_queues_every_item(stack: Stack) -> None:
    stack.aws.throttle("AmazonSQS.SendMessageBatch", times=2)

    response = stack.invoke_api(
        bulk_event({"region": "eu", "messages": [{"message_uuid": message()} for _ in range(15)]})
    )

    assert response["statusCode"] == 202
    assert body_of(response)["accepted"] == 15
    assert stack.aws.failed_calls == ["AmazonSQS.SendMessageBatch"] * 2


# Every AWS dependency of a revocation, unavailable (503) or throttling without end: the documented answer,
# within the time the function has, and never more than one PATCH. (Throttling is retried by the SDK, three
# attempts in all, standard mode, so it ends quickly too.)
DEPENDENCIES = {
    # name: (X-Amz-Target, what the body names, the API's answer, what the problem detail names)
    "secret": ("secretsmanager.GetSecretValue", "", 503, "Secrets Manager"),
    "agents table": ("DynamoDB_20120810.GetItem", AGENTS_TABLE, 503, "agents table"),
    # The write-ahead, with the idempotency record taken: no PATCH is made that the ledger has no record of.
    "ledger": ("DynamoDB_20120810.UpdateItem", LEDGER_TABLE, 503, "ledger table"),
    # The outcome's write, after Vonage accepted: the revocation stands (logged; the record says `revoking`,
    # which the reconciler finishes).
    "ledger after the patch": ("DynamoDB_20120810.UpdateItem", OUTCOME_WRITE, 202, None),
}


@pytest.mark.parametrize("mode", ["unavailable", "throttled"])
@pytest.mark.parametrize("dependency", sorted(DEPENDENCIES))
def test_every_dependency_fault_has_its_documented_answer_in_time(stack: Stack, dependency: str, mode: str) -> None:
    target, matching, status, named = DEPENDENCIES[dependency]
    put_agent(stack.moto.endpoint_url, AGENTS_TABLE, "acme", region="eu")
    if mode == "unavailable":
        stack.aws.fail(target, matching=matching)
    else:
        stack.aws.throttle(target, matching=matching)
    uuid_ = message()
    timeout_s = 15.0  # the API function's timeout in template.yaml

    started = time.monotonic()
    response = stack.invoke_api(api_event(uuid_, {"agent_id": "acme"}), timeout_s=timeout_s)
    elapsed = time.monotonic() - started

    assert response["statusCode"] == status
    if named is not None:
        assert body_of(response)["type"] == "urn:rcs-revoker:problem:dependency-unavailable"
        assert named in body_of(response)["detail"]
        assert header(response, "Retry-After") is not None  # the caller is told to come back
        assert stack.vonage.requests == []  # the fault came first: Vonage was never called
    else:
        assert stack.vonage.patches_for(uuid_) == 1
        assert any(r["message"] == "ledger not written" for r in stack.log_records)
    assert elapsed < timeout_s / 2
    assert stack.aws.failed_calls, "the fault was never hit: the test would prove nothing"


def test_vonages_answer_is_given_when_it_cannot_be_stored_and_nothing_is_patched_twice(stack: Stack) -> None:
    # Vonage accepts, then the ledger refuses to keep the result ("completed") past the SDK's retries, with the
    # outcome and alone.
    stack.aws.fail("DynamoDB_20120810.UpdateItem", matching=(LEDGER_TABLE, RESULT_WRITE))
    uuid_ = message()

    response = stack.invoke_api(api_event(uuid_, {"region": "eu"}))

    # The caller hears the truth (accepted), so it has no reason to ask again; a 503 would invite a retry
    # that PATCHes a second time once the record's "in progress" expires.
    assert response["statusCode"] == 202
    assert stack.vonage.patches_for(uuid_) == 1
    assert any(r["message"] == "Vonage's answer was not stored in its idempotency record" for r in stack.log_records)
    assert set(stack.aws.failed_calls) == {"DynamoDB_20120810.UpdateItem"}  # with the outcome, then alone


def test_an_event_whose_answer_cannot_be_stored_is_not_retried(stack: Stack) -> None:
    stack.aws.fail("DynamoDB_20120810.UpdateItem", matching=(LEDGER_TABLE, RESULT_WRITE))
    uuid_ = message()

    result = stack.invoke_event(eventbridge_event({"message_uuid": uuid_, "region": "eu"}))

    assert result["outcome"] == "accepted"  # the invocation succeeds: Lambda does not retry it
    assert stack.vonage.patches_for(uuid_) == 1
    assert [event["detail-type"] for event in stack.outcome_events()] == ["RCS Revocation Accepted"]
    assert stack.aws.failed_calls


def test_vonages_refusal_is_given_when_the_record_cannot_be_removed(stack: Stack) -> None:
    # Vonage answers 404 (not stored: the caller may try another region), and the table refuses to remove
    # the "in progress" record: the caller still hears Vonage's answer, not a 503.
    uuid_ = message()
    stack.vonage.program(uuid_, Outcome.not_found())
    stack.aws.fail("DynamoDB_20120810.UpdateItem", matching=(LEDGER_TABLE, RECORD_REMOVAL))

    response = stack.invoke_api(api_event(uuid_, {"region": "eu"}))

    assert response["statusCode"] == 404
    assert body_of(response)["type"] == "urn:rcs-revoker:problem:message-not-found"
    assert stack.aws.failed_calls
    assert stack.vonage.patches_for(uuid_) == 1


def test_a_failed_secret_reread_after_a_401_is_not_counted_as_vonages(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    uuid_ = message()
    stack.vonage.program(uuid_, Outcome.unauthorized())
    stack.invoke_api(api_event(message(), {"region": "eu"}))  # the secret is read and cached
    stack.aws.fail("secretsmanager.GetSecretValue")  # ... and cannot be read again after the 401
    capsys.readouterr()

    response = stack.invoke_api(api_event(uuid_, {"region": "eu"}))

    assert response["statusCode"] == 503
    assert '"VonageErrors"' not in capsys.readouterr().out
