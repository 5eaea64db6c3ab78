//! The OpenAPI document as the contract third-party tools consume (a validator,
//! schemathesis, generated clients). utoipa generates it from the handlers, so no route
//! is served undocumented; this module then states what utoipa cannot know from the
//! types: every path parameter and its shape, the problem+json answers each operation
//! can give, the field constraints (written from vault-core's own constants, so the
//! document and the rules cannot drift), and which routes need no token.

use serde_json::{Map, Value, json};
use vault_core::{
    Category, DESCRIPTION_FORBIDDEN_CHARS, MAX_DESCRIPTION_CHARS, MAX_NAME_LEN, MAX_OPAQUE_ID_LEN,
    MAX_SCOPE_TARGETS, MAX_VALUE_BYTES, ProjectRole, VALUE_FORBIDDEN_CHARS,
};

use vault_store::{MAX_PAGE_SIZE, MAX_PROJECT_NAME_CHARS};

use crate::service::sessions::MAX_SESSION_TTL_SECONDS;
use crate::service::tokens::{MAX_TOKEN_LABEL_CHARS, TTL_PATTERN};

/// Routes any client may call without a token.
pub const UNAUTHENTICATED: [&str; 4] = ["/healthz", "/readyz", "/metrics", "/openapi.json"];

/// The ECMA-262 pattern of a stored secret's name.
pub fn secret_name_pattern() -> String {
    "^[A-Z_][A-Z0-9_]*$".into()
}

/// The pattern of an opaque id (users, profiles, workspaces, projects, milestones).
pub fn opaque_id_pattern() -> String {
    format!("^[A-Za-z0-9_.-]{{1,{MAX_OPAQUE_ID_LEN}}}$")
}

/// A character class of `ranges`, in ECMA-262 syntax.
fn class_of(ranges: &[(char, char)]) -> String {
    let mut class = String::new();
    for (low, high) in ranges {
        if low == high {
            class.push_str(&format!("\\u{:04X}", u32::from(*low)));
        } else {
            class.push_str(&format!(
                "\\u{:04X}-\\u{:04X}",
                u32::from(*low),
                u32::from(*high)
            ));
        }
    }
    class
}

fn nullable(mut schema: Value) -> Value {
    if let Some(kind) = schema.get("type").cloned() {
        schema["type"] = json!([kind, "null"]);
    }
    schema
}

fn secret_name() -> Value {
    json!({"type": "string", "pattern": secret_name_pattern(), "minLength": 1,
        "maxLength": MAX_NAME_LEN, "example": "OPENAI_API_KEY"})
}

fn env_name() -> Value {
    json!({"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$", "minLength": 1,
        "maxLength": MAX_NAME_LEN})
}

/// A stored value: non-empty, at most 64 KiB of UTF-8 (the schema can only bound
/// characters; the server counts bytes), no character a process environment cannot
/// hold or a terminal would act on.
fn stored_value() -> Value {
    json!({"type": "string", "format": "password", "writeOnly": true, "minLength": 1,
        "maxLength": MAX_VALUE_BYTES, "pattern": format!("^[^{}]+$", class_of(VALUE_FORBIDDEN_CHARS)),
        "description": "UTF-8, 1 byte to 64 KiB; no NUL and no control character other than \
            tab, line feed and carriage return. Never returned."})
}

/// A value of the orchestrator's own layers: as a stored value, but may be empty.
fn supplied_value() -> Value {
    json!({"type": "string", "format": "password", "writeOnly": true,
        "maxLength": MAX_VALUE_BYTES, "pattern": format!("^[^{}]*$", class_of(VALUE_FORBIDDEN_CHARS))})
}

fn opaque_id() -> Value {
    json!({"type": "string", "pattern": opaque_id_pattern(), "minLength": 1,
        "maxLength": MAX_OPAQUE_ID_LEN})
}

fn opaque_ids() -> Value {
    json!({"type": "array", "items": opaque_id(), "minItems": 1,
        "maxItems": MAX_SCOPE_TARGETS, "uniqueItems": false})
}

fn description() -> Value {
    json!({"type": "string", "maxLength": MAX_DESCRIPTION_CHARS,
        "pattern": format!("^[^{}]*$", class_of(DESCRIPTION_FORBIDDEN_CHARS)),
        "description": "No control character other than tab and line feed."})
}

fn timestamp() -> Value {
    json!({"type": "string", "format": "date-time"})
}

fn version() -> Value {
    json!({"type": "integer", "format": "int32", "minimum": 1, "maximum": u32::MAX})
}

/// A project's or milestone's name: not blank, no control character, at most
/// `MAX_PROJECT_NAME_CHARS` (the store trims surrounding blanks).
fn display_name() -> Value {
    let allowed = "[^\\u0000-\\u001F\\u007F-\\u009F]";
    let visible = "[^\\s\\u0000-\\u001F\\u007F-\\u009F]";
    json!({"type": "string", "minLength": 1, "maxLength": MAX_PROJECT_NAME_CHARS,
        "pattern": format!("^{allowed}*{visible}{allowed}*$")})
}

fn one_of(values: &[&str]) -> Value {
    json!({"type": "string", "enum": values})
}

fn categories() -> Value {
    one_of(&Category::ALL.map(Category::as_str))
}

fn roles() -> Value {
    one_of(&ProjectRole::ALL.map(ProjectRole::as_str))
}

fn secret_id() -> Value {
    json!({"type": "string", "pattern": "^sec_[A-Za-z0-9_-]{21}$",
        "example": "sec_V1StGXR8_Z5jdHi6B-myT"})
}

/// The constraints of each request body's fields: (schema, field, constraint).
fn body_constraints() -> Vec<(&'static str, &'static str, Value)> {
    let profile_scope = one_of(&["all", "agents"]);
    let entry_scope = one_of(&["project", "milestones"]);
    let mut rules = Vec::new();
    for schema in ["CreateSecret", "CreateKey", "CreateEntry"] {
        rules.push((schema, "name", secret_name()));
        rules.push((schema, "value", stored_value()));
        rules.push((schema, "description", nullable(description())));
        rules.push((schema, "expires_at", nullable(timestamp())));
    }
    // A compared value is held to what could have been stored: anything else cannot
    // match, and is refused (422) like the write it stands for.
    rules.push(("CompareValue", "value", stored_value()));
    for schema in ["UpdateSecret", "UpdateEntry"] {
        rules.push((schema, "value", nullable(stored_value())));
        rules.push((schema, "description", nullable(description())));
        rules.push((schema, "expires_at", nullable(timestamp())));
        rules.push((schema, "expected_version", nullable(version())));
    }
    for schema in ["CreateSecret", "CreateKey", "UpdateSecret"] {
        rules.push((schema, "scope", nullable(profile_scope.clone())));
        rules.push((schema, "profile_ids", nullable(opaque_ids())));
    }
    rules.push(("CreateSecret", "user_id", nullable(opaque_id())));
    rules.push(("CreateEntry", "scope", entry_scope.clone()));
    rules.push(("CreateEntry", "category", categories()));
    rules.push(("CreateEntry", "milestone_ids", nullable(opaque_ids())));
    rules.push(("UpdateEntry", "scope", nullable(entry_scope)));
    rules.push(("UpdateEntry", "category", nullable(categories())));
    rules.push(("UpdateEntry", "milestone_ids", nullable(opaque_ids())));
    rules.push(("Rollback", "version", version()));
    rules.push(("Rollback", "expected_version", nullable(version())));
    for schema in ["CreateProject", "CreateMilestone"] {
        rules.push((schema, "id", nullable(opaque_id())));
        rules.push((schema, "name", display_name()));
    }
    rules.push(("CreateProject", "accountable_user_id", opaque_id()));
    rules.push(("PutMember", "role", roles()));
    rules.push((
        "CreateToken",
        "kind",
        one_of(&["user", "operator", "orchestrator"]),
    ));
    rules.push(("CreateToken", "user_id", nullable(opaque_id())));
    rules.push((
        "CreateToken",
        "ttl",
        nullable(
            json!({"type": "string", "pattern": TTL_PATTERN, "example": "30d",
            "description": "A whole number and one unit (s, m, h, d, w): 30d, 12h, 90m."}),
        ),
    ));
    rules.push((
        "CreateToken",
        "label",
        nullable(json!({"type": "string", "maxLength": MAX_TOKEN_LABEL_CHARS,
            "pattern": "^[^\\u0000-\\u001F\\u007F-\\u009F]*$"})),
    ));
    for schema in ["CreateSession", "ResolveRequest"] {
        rules.push((schema, "user_id", opaque_id()));
        rules.push((schema, "profile_id", opaque_id()));
        for field in ["workspace_id", "project_id", "milestone_id"] {
            rules.push((schema, field, nullable(opaque_id())));
        }
    }
    rules.push((
        "CreateSession",
        "ttl_seconds",
        nullable(json!({"type": "integer", "minimum": 1, "maximum": MAX_SESSION_TTL_SECONDS})),
    ));
    let webhook_url = json!({"type": "string", "format": "uri", "minLength": 1,
        "maxLength": crate::service::webhooks::MAX_WEBHOOK_URL,
        "description": "https:// on a public address (http:// and private addresses only where the \
            operator allows them); checked again, resolved once, before every delivery"});
    let event_types = json!({"type": "array", "items": {"type": "string",
        "enum": vault_core::EventKind::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>()}});
    rules.push((
        "CreateWebhook",
        "owner_kind",
        one_of(&["user", "workspace", "project"]),
    ));
    rules.push(("CreateWebhook", "owner_id", nullable(opaque_id())));
    rules.push(("CreateWebhook", "url", webhook_url.clone()));
    rules.push(("UpdateWebhook", "url", nullable(webhook_url)));
    for schema in ["CreateWebhook", "UpdateWebhook"] {
        rules.push((schema, "event_types", nullable(event_types.clone())));
        rules.push((schema, "description", nullable(description())));
    }
    for field in ["profile_env", "baseline_env"] {
        rules.push((
            "ResolveRequest",
            field,
            nullable(json!({"type": "object", "propertyNames": env_name(),
                "additionalProperties": supplied_value()})),
        ));
    }
    rules
}

/// The rules between fields of one body, as JSON Schema conditionals: a scope's
/// targets come with the narrow scope and only with it, and a user token names its
/// user while the host-only kinds name none. A PATCH that sends targets without a
/// scope is checked against the stored scope, so it is a 409 (state), not a schema rule.
fn body_conditions() -> Vec<(&'static str, Value)> {
    let scoped = |wide: &str, narrow: &str, targets: &str, create: bool| {
        let mut conditions = vec![
            json!({"if": {"required": ["scope"], "properties": {"scope": {"const": wide}}},
                "then": {"properties": {targets: {"type": "null"}}}}),
            json!({"if": {"required": ["scope"], "properties": {"scope": {"const": narrow}}},
                "then": {"required": [targets], "properties": {targets: {"type": "array"}}}}),
        ];
        // On create, no scope (absent or null) is the wide default, which takes no
        // targets. On update it means "keep the stored scope", which the targets may
        // fit or not: a state question (409 `scope_mismatch`), not a schema rule.
        if create {
            conditions.push(
                json!({"if": {"required": ["scope"], "properties": {"scope": {"type": "null"}}},
                "then": {"properties": {targets: {"type": "null"}}}}),
            );
            conditions.push(json!({"if": {"not": {"required": ["scope"]}},
                "then": {"properties": {targets: {"type": "null"}}}}));
        }
        Value::Array(conditions)
    };
    vec![
        ("CreateSecret", scoped("all", "agents", "profile_ids", true)),
        ("CreateKey", scoped("all", "agents", "profile_ids", true)),
        (
            "UpdateSecret",
            scoped("all", "agents", "profile_ids", false),
        ),
        (
            "CreateEntry",
            scoped("project", "milestones", "milestone_ids", true),
        ),
        (
            "UpdateEntry",
            scoped("project", "milestones", "milestone_ids", false),
        ),
        ("ResolveRequest", milestone_needs_project()),
        ("CreateSession", milestone_needs_project()),
        (
            "CreateToken",
            json!([
                {"if": {"properties": {"kind": {"const": "user"}}},
                 "then": {"required": ["user_id"], "properties": {"user_id": {"type": "string"}}},
                 "else": {"properties": {"user_id": {"type": "null"}}}}
            ]),
        ),
    ]
}

/// A milestone is named inside its project: with `milestone_id`, `project_id` too.
fn milestone_needs_project() -> Value {
    json!([
        {"if": {"required": ["milestone_id"], "properties": {"milestone_id": {"type": "string"}}},
         "then": {"required": ["project_id"], "properties": {"project_id": {"type": "string"}}}}
    ])
}

/// The constraints of query parameters, by name (the same name means the same rule on
/// every route).
fn query_constraint(name: &str) -> Option<Value> {
    Some(match name {
        "limit" => json!({"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE}),
        "cursor" => json!({"type": "string", "minLength": 1, "maxLength": 512}),
        "name_prefix" => json!({"type": "string", "pattern": "^[A-Z0-9_]*$",
            "maxLength": MAX_NAME_LEN}),
        "category" => categories(),
        "expired" => json!({"type": "boolean"}),
        "user_id" => opaque_id(),
        "before" => json!({"type": "integer", "minimum": 1, "maximum": u64::MAX}),
        "action" => json!({"type": "string",
            "enum": vault_core::AuditAction::ALL.iter().map(|a| a.as_str()).collect::<Vec<_>>()}),
        "after" => json!({"type": "integer", "minimum": 0, "maximum": u64::MAX}),
        "newest" => json!({"type": "boolean"}),
        "owner_kind" => one_of(&["user", "workspace", "project"]),
        "owner_id" => opaque_id(),
        "name" => secret_name(),
        "type" => {
            let kinds = vault_core::EventKind::ALL
                .iter()
                .map(|k| k.as_str().replace('.', "\\."))
                .collect::<Vec<_>>()
                .join("|");
            json!({"type": "string", "pattern": format!("^({kinds})(,({kinds}))*$"),
                "example": "secret.rotated,secret.deleted"})
        }
        "principal" | "target" => {
            json!({"type": "string", "minLength": 1, "maxLength": MAX_NAME_LEN})
        }
        _ => return None,
    })
}

/// The shape of a path parameter, by name and the route it is in.
fn path_parameter(path: &str, name: &str) -> Value {
    match name {
        "id" if path.starts_with("/v1/sessions") => {
            json!({"type": "string", "pattern": "^ses_[A-Za-z0-9_-]{1,64}$"})
        }
        "id" if path.starts_with("/v1/tokens") => {
            json!({"type": "string", "pattern": "^tok_[A-Za-z0-9_-]{1,64}$"})
        }
        "id" if path.starts_with("/v1/webhooks") => {
            json!({"type": "string", "pattern": "^whk_[A-Za-z0-9_-]{1,60}$"})
        }
        "did" => json!({"type": "string", "pattern": "^dlv_[A-Za-z0-9_-]{1,60}$"}),
        "id" => secret_id(),
        "name" => secret_name(),
        _ => opaque_id(),
    }
}

/// The problem+json answers an operation can give, with why, beyond its own list.
fn common_problems(path: &str, method: &str, operation: &Value) -> Vec<(u16, &'static str)> {
    let mut problems = vec![(
        500,
        "a stored record failed its integrity check (`integrity_violation`), a stored key \
         does not open (`invalid_ciphertext`), or another server failure (`internal`)",
    )];
    problems.push((
        503,
        "the database or the root key provider cannot serve now; retry later",
    ));
    if UNAUTHENTICATED.contains(&path) {
        return if path == "/readyz" { vec![] } else { problems };
    }
    problems.push((
        401,
        "no bearer token, or one that is unknown, expired or revoked",
    ));
    problems.push((
        403,
        "a token of a kind this route does not serve (`forbidden`), or an orchestrator \
         without the client certificate this vault requires (`client_certificate_required`)",
    ));
    problems.push((
        429,
        "too many failed authentications from this address; see `Retry-After`",
    ));
    problems.push((408, "the request took longer than 30 s"));
    let has_query = operation["parameters"]
        .as_array()
        .is_some_and(|p| p.iter().any(|p| p["in"] == "query"));
    if has_query || path.contains('{') {
        problems.push((400, "a malformed or unknown query parameter"));
        problems.push((422, "a parameter that breaks its rule, named by `field`"));
    }
    if path.contains('{') {
        problems.push((404, "no such resource, or one this token may not see"));
    }
    if operation.get("requestBody").is_some() {
        problems.push((
            400,
            "a body that is not JSON (`malformed_json`), has an unknown field \
             (`unknown_field`) or a repeated key (`duplicate_field`)",
        ));
        problems.push((413, "a body over 128 KiB"));
        problems.push((415, "a body that is not `application/json`"));
        problems.push((
            422,
            "a field that breaks its rule (`invalid_value`), named by `field`",
        ));
    }
    let _ = method;
    problems
}

fn problem_schema() -> Value {
    json!({
        "type": "object",
        "description": "An RFC 9457 problem, with a stable `code` and the `field` it is about.",
        "required": ["type", "title", "status", "detail", "code"],
        "properties": {
            "type": {"type": "string", "format": "uri"},
            "title": {"type": "string"},
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "detail": {"type": "string"},
            "code": {"type": "string", "pattern": "^[a-z_]+$", "example": "invalid_value"},
            "field": {"type": "string"},
            "limit": {"type": "integer", "minimum": 0},
            "bytes": {"type": "integer", "minimum": 0},
            "largest": {"type": "array", "items": {
                "type": "object", "required": ["name", "bytes"],
                "properties": {"name": env_name(), "bytes": {"type": "integer", "minimum": 0}}
            }}
        }
    })
}

/// Turns utoipa's document into the contract.
pub fn refine(document: &mut Value) {
    let schemas = &mut document["components"]["schemas"];
    schemas["Problem"] = problem_schema();
    for (schema, field, constraint) in body_constraints() {
        let property = &mut schemas[schema]["properties"][field];
        let documented = property.get("description").cloned();
        *property = constraint;
        if let Some(text) = documented
            && property.get("description").is_none()
        {
            property["description"] = text;
        }
    }
    for (schema, conditions) in body_conditions() {
        schemas[schema]["allOf"] = conditions;
    }
    // utoipa renders an untagged enum as `oneOf`, which demands that exactly one branch
    // match; an empty page is both a page of entries and a page of names, so the
    // document says `anyOf`, which is what untagged means.
    let untagged: Vec<String> = schemas
        .as_object()
        .map(|all| {
            all.iter()
                .filter(|(_, schema)| {
                    schema.get("oneOf").is_some() && schema.get("discriminator").is_none()
                })
                .map(|(name, _)| name.clone())
                .collect()
        })
        .unwrap_or_default();
    for name in untagged {
        if let Some(schema) = schemas[&name].as_object_mut()
            && let Some(branches) = schema.remove("oneOf")
        {
            schema.insert("anyOf".into(), branches);
        }
    }
    let Some(paths) = document["paths"].as_object_mut() else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, operation) in item.iter_mut() {
            refine_operation(path, method, operation);
        }
    }
}

fn refine_operation(path: &str, method: &str, operation: &mut Value) {
    let mut parameters: Vec<Value> = operation["parameters"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for parameter in &mut parameters {
        if parameter["in"] == "query"
            && let Some(name) = parameter["name"].as_str()
            && let Some(constraint) = query_constraint(name)
        {
            parameter["schema"] = constraint;
        }
        // An event's position, as an EventSource sends it back: digits, or empty
        // (none). Never null: a header has no null.
        if parameter["in"] == "header" && parameter["name"] == "Last-Event-ID" {
            parameter["schema"] = json!({"type": "string", "pattern": "^[0-9]{0,20}$"});
        }
    }
    for name in path
        .split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
    {
        if !parameters
            .iter()
            .any(|p| p["in"] == "path" && p["name"] == name)
        {
            parameters.push(json!({"name": name, "in": "path", "required": true,
                "schema": path_parameter(path, name)}));
        }
    }
    if parameters.is_empty() {
        if let Some(operation) = operation.as_object_mut() {
            operation.remove("parameters");
        }
    } else {
        operation["parameters"] = Value::Array(parameters);
    }
    if UNAUTHENTICATED.contains(&path) {
        operation["security"] = json!([]);
    }
    let problems = common_problems(path, method, operation);
    let responses = operation["responses"]
        .as_object_mut()
        .map(std::mem::take)
        .unwrap_or_default();
    let mut refined = Map::new();
    for (status, response) in responses {
        refined.insert(status, response);
    }
    for (status, why) in problems {
        let entry = refined
            .entry(status.to_string())
            .or_insert_with(|| json!({"description": why}));
        if let Some(text) = entry["description"].as_str()
            && !text.contains(why)
            && text.is_empty()
        {
            entry["description"] = json!(why);
        }
    }
    for (status, response) in refined.iter_mut() {
        let is_error = status.starts_with('4') || status.starts_with('5');
        if is_error && response.get("content").is_none() {
            response["content"] = json!({"application/problem+json": {
                "schema": {"$ref": "#/components/schemas/Problem"}}});
        }
        if response.get("description").is_none_or(|d| d == "") {
            response["description"] = json!(format!("HTTP {status}"));
        }
    }
    operation["responses"] = Value::Object(refined);
}
