"""One secret read per container at a time: the worker's ten threads of a cold batch, and ten 401s after a key
rotation, each make one GetSecretValue (issue 16: the cache had no lock, and a cold batch made nine)."""

import uuid

from offline.aws_seed import store_vonage_secret
from offline.keys import generate_key_pair
from rcs_revoker.bootstrap import service
from tests.conftest import APPLICATION_ID, SECRET_NAME, Stack, body_of, bulk_event

GET_SECRET = "secretsmanager.GetSecretValue"


def submit_ten(stack: Stack) -> list[str]:
    messages = [str(uuid.uuid4()) for _ in range(10)]
    answer = stack.invoke_api(bulk_event({"region": "eu", "messages": [{"message_uuid": m} for m in messages]}))
    assert body_of(answer)["accepted"] == 10
    return messages


def test_a_cold_batch_of_ten_reads_the_secret_once(stack: Stack) -> None:
    # Given ten messages on the queue and a worker container that has read nothing yet
    messages = submit_ten(stack)
    service.cache_clear()
    stack.aws.calls.clear()
    # and a Secrets Manager that takes 300 ms to answer: every thread reaches the read before the first ends
    stack.aws.hold(GET_SECRET, seconds=0.3)

    # When the worker settles the batch, a thread per record
    poll = stack.worker_queue().poll_once()

    # Then every message was revoked, and the secret was read once, not once per thread
    assert (poll.received, poll.failed) == (10, 0)
    assert all(stack.vonage.patches_for(m) == 1 for m in messages)
    assert stack.aws.calls.count(GET_SECRET) == 1


def test_ten_401s_after_a_rotation_reread_the_secret_once(stack: Stack) -> None:
    # Given a warm worker that cached the old key (one message revoked)
    submit_ten(stack)
    assert stack.worker_queue().poll_once().failed == 0
    # When the key is rotated at Vonage and in the secret, and a batch of ten meets the old key's 401s at once
    new_keys = generate_key_pair()
    stack.vonage.rotate_key(new_keys.public_pem)
    store_vonage_secret(stack.moto.endpoint_url, SECRET_NAME, APPLICATION_ID, new_keys.private_pem)
    messages = submit_ten(stack)
    stack.aws.calls.clear()
    stack.aws.hold(GET_SECRET, seconds=0.3)

    poll = stack.worker_queue().poll_once()

    # Then all ten are revoked with the new key, after one re-read of the secret between them
    assert (poll.received, poll.failed) == (10, 0)
    assert all(stack.vonage.patches_for(m) == 1 for m in messages)
    assert stack.aws.calls.count(GET_SECRET) == 1
