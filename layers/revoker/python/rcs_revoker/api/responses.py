"""An HTTP answer, and its API Gateway (REST, proxy integration) form."""

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status_code: int
    body: str
    content_type: str = "application/json"
    extra_headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status_code: int, document: Any) -> "HttpResponse":
        return cls(status_code, json.dumps(document))

    @property
    def headers(self) -> dict[str, str]:
        return {**self.extra_headers, "Content-Type": self.content_type}

    def to_proxy(self) -> dict[str, Any]:
        return {"statusCode": self.status_code, "headers": self.headers, "body": self.body, "isBase64Encoded": False}
