"""The errors every API operation can answer, added to each operation of the OpenAPI schema.

Views document what is particular to them; these come from the layers around every view
(authentication, routing, size limits, the database), so the schema would otherwise miss
them and clients (and schemathesis) would meet undocumented answers.
"""

from __future__ import annotations

from typing import Any

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "detail": {"type": "string", "description": "What went wrong, for a person."},
        "code": {"type": "string", "description": "What went wrong, for a program."},
        "field": {
            "type": "string",
            "nullable": True,
            "description": "The request field at fault, as a dotted path; null if none.",
        },
    },
    "required": ["detail"],
}
_REF = {"$ref": "#/components/schemas/Error"}

COMMON = {
    "401": "No valid token (`Authorization: Token <key>`).",
    "403": "Not allowed to do this.",
    "404": "No such object, or not one I may see.",
    "405": "This method is not allowed here.",
    "406": "Cannot answer in the accepted media type.",
    "413": "The request body is too large.",
    "415": "The request's content type is not accepted.",
    "429": "Too many attempts; try again later.",
    "503": "The database is unavailable for a moment: send the same request again "
    "(submits with the same idempotency key), after Retry-After seconds.",
}
WITH_BODY = {"400": "The request does not fit; `field` names what is wrong."}


def common_errors(result: dict[str, Any], generator: Any, request: Any, public: bool) -> Any:
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for path in result.get("paths", {}).values():
        for method, operation in path.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            extra = dict(COMMON)
            if method in ("post", "put", "patch") or operation.get("parameters"):
                extra.update(WITH_BODY)
            for status, description in extra.items():
                if status not in responses:
                    responses[status] = {
                        "description": description,
                        "content": {"application/json": {"schema": _REF}},
                    }
    return result
