"""The stack's outputs: the API's URLs and the names of what a deployer or a subscriber needs."""

from __future__ import annotations

from typing import Any

from rcs_revoker.api.routes import API_ROUTES
from tests.infrastructure.sam_template import EVENT_BUS_NAME, sub_string


def test_outputs(template: dict[str, Any]) -> None:
    outputs = template["Outputs"]
    assert sub_string(outputs["ApiUrl"]["Value"]) == (
        "https://${RevocationApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/v1"
    )
    assert sub_string(outputs["RevokeEndpoint"]["Value"]) == (
        sub_string(outputs["ApiUrl"]["Value"]) + "/messages/{message_uuid}/revoke"
    )
    assert outputs["AgentsTableName"]["Value"] == {"Ref": "AgentsTable"}
    assert outputs["RevokeApiFunctionName"]["Value"] == {"Ref": "RevokeApiFunction"}
    assert outputs["AlarmTopicArn"]["Value"] == {"Ref": "AlarmTopic"}
    assert outputs["EventBusName"]["Value"] == EVENT_BUS_NAME
    assert outputs["IdempotencyTableName"]["Value"] == {"Ref": "IdempotencyTable"}
    assert outputs["RevokeEventFunctionName"]["Value"] == {"Ref": "RevokeEventFunction"}
    # Ref of a queue is its URL.
    assert outputs["RevocationRequestsDeadLetterQueueUrl"]["Value"] == {"Ref": "RevocationRequestsDeadLetterQueue"}
    assert outputs["RevokeEventFailuresQueueUrl"]["Value"] == {"Ref": "RevokeEventFailuresQueue"}
    assert (
        sub_string(outputs["SubmitBatchEndpoint"]["Value"]) == sub_string(outputs["ApiUrl"]["Value"]) + "/revocations"
    )
    assert ("POST", "/revocations") in API_ROUTES
    assert outputs["LedgerTableName"]["Value"] == {"Ref": "LedgerTable"}
    assert outputs["RevocationQueueUrl"]["Value"] == {"Ref": "RevocationQueue"}
    assert outputs["RevocationQueueDeadLetterQueueUrl"]["Value"] == {"Ref": "RevocationQueueDeadLetterQueue"}
    assert outputs["RevokeWorkerFunctionName"]["Value"] == {"Ref": "RevokeWorkerFunction"}
    # Deferred revocations: the cancel route, the timer queue and its dead-letter queue, the timer function.
    assert sub_string(outputs["CancelRevocationEndpoint"]["Value"]) == (
        sub_string(outputs["ApiUrl"]["Value"]) + "/messages/{message_uuid}/revocation"
    )
    assert API_ROUTES[("DELETE", "/messages/{message_uuid}/revocation")] == "CancelRevocation"
    assert outputs["TimerQueueUrl"]["Value"] == {"Ref": "TimerQueue"}
    assert outputs["TimerDeadLetterQueueUrl"]["Value"] == {"Ref": "TimerDeadLetterQueue"}
    assert outputs["RevokeTimerFunctionName"]["Value"] == {"Ref": "RevokeTimerFunction"}
