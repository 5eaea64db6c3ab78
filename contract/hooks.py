"""Schemathesis hooks for the vault's contract run (`cargo xtask contract`).

Each hook is one documented exception: a rule the server enforces and states in the
document's prose, but that JSON Schema cannot express, so a schema-valid case would be
refused for a reason the document does give. Nothing here hides a finding: every
other case goes out as drawn, and each rule below is tested in the Rust suites.

`filter_case` and `map_case` are the hooks every phase applies (the coverage phase
applies no others).
"""

import os
from collections.abc import Mapping, MutableMapping
from datetime import datetime, timedelta, timezone

import schemathesis

# Which principal's token this run carries: operator, orchestrator or user.
PRINCIPAL = os.environ.get("VAULT_CONTRACT_PRINCIPAL", "")


def _instant(text):
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


@schemathesis.hook
def filter_case(ctx, case):
    # `cursor` is opaque: only a value this vault issued as `next_cursor` is accepted,
    # and every string matches its schema, so a drawn cursor is always refused (422
    # `invalid_value`, field `cursor`). Paging with issued cursors is tested in
    # vault-api/tests (api.rs, projects.rs).
    #
    # `after` (and the `Last-Event-ID` header, its EventSource spelling) is a position
    # in this vault's event log: one beyond the newest event was not issued by this
    # vault and is refused (422, so a client pointed at a restored or another vault
    # does not wait silently for positions that will mean other events). Resuming from
    # issued positions is tested in vault-api/tests/suite/events.rs.
    if isinstance(case.query, dict) and ("cursor" in case.query or "after" in case.query):
        return False
    # Headers come as a case-insensitive mapping, not a dict.
    headers = case.headers if isinstance(case.headers, Mapping) else {}
    return not any(
        name.lower() == "last-event-id" and str(value).strip() for name, value in headers.items()
    )


@schemathesis.hook
def map_case(ctx, case):
    body = case.body
    # `expires_at` must be in the future when it is written; a schema cannot say
    # "later than now". A drawn instant in the past moves a day ahead; a value that is
    # not an instant is left alone, so negative cases stay negative.
    if isinstance(body, dict) and isinstance(body.get("expires_at"), str):
        instant = _instant(body["expires_at"])
        now = datetime.now(timezone.utc)
        if instant is not None and instant <= now + timedelta(minutes=5):
            body["expires_at"] = (now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    # An operator or orchestrator acts for a user it must name (`user_id`); a user
    # token acts for itself and may leave it out (absent or null). The requirement depends on the
    # token, which OpenAPI cannot tie a parameter to. Only an absent or null `user_id`
    # is filled in; a drawn one, valid or not, goes as it is.
    if PRINCIPAL in ("operator", "orchestrator") and case.operation.path == "/v1/secrets":
        if case.method.upper() == "GET":
            if case.query is None:
                case.query = {}
            if isinstance(case.query, dict):
                if case.query.get("user_id") is None:
                    case.query["user_id"] = "alice"
        elif case.method.upper() == "POST" and isinstance(body, dict):
            if body.get("user_id") is None:
                body["user_id"] = "alice"
    # `owner_id` names one owner of `owner_kind`: the same id may be a user and a
    # project, so an id alone is refused (422, field `owner_id`). A drawn `owner_id`
    # without a kind gets one; a drawn kind is left as it is.
    # A drawn `Last-Event-ID` is dropped for the reason `filter_case` gives for `after`
    # (a `null` drawn for the optional header arrives as the text "null").
    if case.operation.path == "/v1/events" and isinstance(case.headers, MutableMapping):
        for name in [n for n in case.headers if n.lower() == "last-event-id"]:
            del case.headers[name]
    if case.operation.path == "/v1/events" and isinstance(case.query, dict):
        if case.query.get("owner_id") is not None and case.query.get("owner_kind") is None:
            case.query["owner_kind"] = "user"
    return case
