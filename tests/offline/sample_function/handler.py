"""A function for the tests of offline.lambda_process: the event says what it does (return, sleep, raise, put an
item in DynamoDB, or end the process), and it leaves a marker file after a step that a kill must prevent."""

import json
import os
import time
from pathlib import Path
from typing import Any

from offline.lambda_context import LocalLambdaContext

print(json.dumps({"level": "INFO", "message": "init"}))


def lambda_handler(event: dict[str, Any], context: LocalLambdaContext) -> dict[str, Any]:
    print(json.dumps({"level": "INFO", "message": "invoke", "action": event["action"]}))
    markers = Path(event.get("markers", "."))
    if event["action"] == "sleep":
        time.sleep(float(event["seconds"]))
        (markers / "after-sleep").touch()
    elif event["action"] == "raise":
        raise ValueError(event["message"])
    elif event["action"] == "put_item":
        put_item(event["table"], event["key"])
        (markers / "after-put").touch()
    elif event["action"] == "unserializable":
        return {"value": object()}
    elif event["action"] == "exit":  # the process dies under the function (out of memory, say)
        os._exit(int(event["code"]))
    return {
        "echo": event.get("value"),
        "remaining_ms": context.get_remaining_time_in_millis(),
        "function_name": context.function_name,
        "aws_request_id": context.aws_request_id,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "table": os.environ.get("SAMPLE_TABLE"),
        "leaked": os.environ.get("NOT_FOR_THE_CHILD"),
    }


def put_item(table: str, key: str) -> None:
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=1, read_timeout=30, retries={"total_max_attempts": 1})
    boto3.client("dynamodb", config=config).put_item(TableName=table, Item={"id": {"S": key}})
