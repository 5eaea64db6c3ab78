"""Seed 000's whole flow through a client generated from the served /openapi.json.

`cargo xtask contract` generates the `vault_client` package with openapi-python-client
(contract/openapi-python-client.yaml) and runs this script against a `serve --dev`
vault. The orchestrator in seed 000 is not written in Rust: for it the document is the
API, so every call here goes through the generated functions and models, and every
answer is read back through the generated types (a Problem included).

Environment: VAULT_URL, VAULT_OPERATOR_TOKEN, VAULT_ORCHESTRATOR_TOKEN.
"""

import os
import secrets
import sys

from vault_client import AuthenticatedClient
from vault_client.api.resolution import resolve_env
from vault_client.api.secrets import create_secret, delete_secret, get_secret, update_secret
from vault_client.api.tokens import create_token
from vault_client.models import (
    CreateSecret,
    CreateSecretScope,
    CreateToken,
    CreateTokenKind,
    IssuedTokenView,
    Problem,
    ResolveRequest,
    ResolveResponse,
    SecretView,
    UpdateSecret,
)


def fail(step, response):
    body = response.content.decode("utf-8", "replace")[:500]
    sys.exit(f"seed 000 flow: {step}: HTTP {response.status_code}: {body}")


def client(url, token):
    return AuthenticatedClient(base_url=url, token=token, raise_on_unexpected_status=True)


def resolved(orchestrator, user_id, profile_id):
    response = resolve_env.sync_detailed(
        client=orchestrator, body=ResolveRequest(user_id=user_id, profile_id=profile_id)
    )
    if response.status_code != 200 or not isinstance(response.parsed, ResolveResponse):
        fail(f"resolve for {profile_id}", response)
    return dict(response.parsed.env.additional_properties)


def main():
    url = os.environ["VAULT_URL"]
    operator = client(url, os.environ["VAULT_OPERATOR_TOKEN"])
    orchestrator = client(url, os.environ["VAULT_ORCHESTRATOR_TOKEN"])
    user_id = "seed000_" + secrets.token_hex(4)
    name = "STRIPE_WEBHOOK_SECRET"

    # Token: the operator issues the user's token.
    issued = create_token.sync_detailed(
        client=operator, body=CreateToken(kind=CreateTokenKind.USER, user_id=user_id)
    )
    if issued.status_code != 201 or not isinstance(issued.parsed, IssuedTokenView):
        fail("issue a user token", issued)
    user = client(url, issued.parsed.secret)

    # A refused write comes back as the document's Problem, naming the field.
    refused = create_secret.sync_detailed(client=user, body=CreateSecret(name="lower-case", value="v"))
    if refused.status_code != 422 or not isinstance(refused.parsed, Problem):
        fail("a bad name is a 422 problem", refused)
    if refused.parsed.field != "name" or refused.parsed.code != "invalid_value":
        sys.exit(f"seed 000 flow: the refusal names {refused.parsed.field!r} / {refused.parsed.code!r}")

    # Create with scope: agents, granted to one profile.
    created = create_secret.sync_detailed(
        client=user,
        body=CreateSecret(
            name=name,
            value="whsec_first",
            scope=CreateSecretScope.AGENTS,
            profile_ids=["prof_billing"],
        ),
    )
    if created.status_code != 201 or not isinstance(created.parsed, SecretView):
        fail("create", created)
    secret = created.parsed
    assert secret.id.startswith("sec_"), secret.id
    assert secret.scope == "agents" and secret.profile_ids == ["prof_billing"], secret

    # Resolve for the granted profile and for one that is not granted.
    assert resolved(orchestrator, user_id, "prof_billing").get(name) == "whsec_first"
    assert name not in resolved(orchestrator, user_id, "prof_support")

    # Rotate: the next task on the granted profile sees the new value.
    rotated = update_secret.sync_detailed(secret.id, client=user, body=UpdateSecret(value="whsec_second"))
    if rotated.status_code != 200 or not isinstance(rotated.parsed, SecretView):
        fail("rotate", rotated)
    assert rotated.parsed.version == secret.version + 1, rotated.parsed
    assert resolved(orchestrator, user_id, "prof_billing").get(name) == "whsec_second"
    assert name not in resolved(orchestrator, user_id, "prof_support")

    # Delete: gone from reads and from every resolution.
    deleted = delete_secret.sync_detailed(secret.id, client=user)
    if deleted.status_code != 204:
        fail("delete", deleted)
    gone = get_secret.sync_detailed(secret.id, client=user)
    if gone.status_code != 404 or not isinstance(gone.parsed, Problem):
        fail("read after delete", gone)
    assert name not in resolved(orchestrator, user_id, "prof_billing")
    print(f"seed 000 flow: ok (user {user_id}, secret {secret.id}, rotated to v{rotated.parsed.version}, deleted)")


if __name__ == "__main__":
    main()
