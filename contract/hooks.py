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
    # A webhook target must resolve to a public address (checked when registered), and
    # the contract run has no DNS and no receiver: a drawn URL that is valid as a URI
    # would be refused for where it points, which a schema cannot say. Drawn strings
    # are replaced by a public address literal; a drawn non-string stays as it is, so
    # negative cases stay negative. The target rules are tested in
    # vault-api/tests/suite/webhooks.rs.
    if case.operation.path in ("/v1/webhooks", "/v1/webhooks/{id}") and isinstance(body, dict):
        if isinstance(body.get("url"), str) and body["url"] != "https://8.8.8.8/hook":
            body["url"] = "https://8.8.8.8/hook"
            # Assigned, not only edited: schemathesis then checks the case against the
            # schema again, so a case that was negative only for its URL counts as
            # positive now.
            case.body = body
    # As with `user_id` above: a webhook's owner is named, but a user token may leave
    # its own user out (`owner_kind` user), and an operator may list every endpoint.
    # Which of them a request needs depends on the token, which OpenAPI cannot tie a
    # field to. Only an absent `owner_id` (or a missing kind beside one) is filled in.
    if case.operation.path == "/v1/webhooks" and case.method.upper() == "POST" and isinstance(body, dict):
        own = PRINCIPAL == "user" and body.get("owner_kind") == "user"
        if body.get("owner_id") is None and not own:
            body["owner_id"] = "alice"
    if case.operation.path == "/v1/webhooks" and case.method.upper() == "GET":
        if case.query is None:
            case.query = {}
        if isinstance(case.query, dict):
            query = case.query
            if query.get("owner_id") is not None and query.get("owner_kind") is None:
                query["owner_kind"] = "user"
            listing_all = query.get("owner_kind") is None and PRINCIPAL in ("operator", "user")
            own = PRINCIPAL == "user" and query.get("owner_kind") == "user"
            if query.get("owner_id") is None and not listing_all and not own:
                query["owner_kind"] = query.get("owner_kind") or "user"
                query["owner_id"] = "alice"
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
