//! The diesel schema, shared by both backends: the migrations under `migrations/sqlite`
//! and `migrations/postgres` create the same tables with these column types.

diesel::table! {
    projects (id) {
        id -> Text,
        name -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    milestones (project_id, id) {
        project_id -> Text,
        id -> Text,
        name -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    project_members (project_id, user_id) {
        project_id -> Text,
        user_id -> Text,
        role -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    secrets (id) {
        id -> Text,
        owner_kind -> Text,
        owner_id -> Text,
        project_id -> Nullable<Text>,
        name -> Text,
        scope_kind -> Text,
        category -> Text,
        description -> Nullable<Text>,
        expires_at -> Nullable<BigInt>,
        current_version -> Integer,
        created_at -> BigInt,
        updated_at -> BigInt,
        row_mac -> Nullable<Binary>,
    }
}

diesel::table! {
    secret_targets (secret_id, target_id) {
        secret_id -> Text,
        owner_kind -> Text,
        owner_id -> Text,
        name -> Text,
        target_id -> Text,
    }
}

diesel::table! {
    secret_versions (secret_id, version) {
        secret_id -> Text,
        version -> Integer,
        envelope -> Binary,
        masked -> Text,
        kek_id -> Text,
        restored_from -> Nullable<Integer>,
        created_at -> BigInt,
    }
}

diesel::table! {
    keks (id) {
        id -> Text,
        root_key_id -> Text,
        wrapped -> Binary,
        state -> Text,
        wrap_count -> BigInt,
        created_at -> BigInt,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> Text,
        token_hash -> Binary,
        kind -> Text,
        user_id -> Nullable<Text>,
        profile_id -> Nullable<Text>,
        workspace_id -> Nullable<Text>,
        project_id -> Nullable<Text>,
        milestone_id -> Nullable<Text>,
        label -> Nullable<Text>,
        expires_at -> Nullable<BigInt>,
        revoked_at -> Nullable<BigInt>,
        created_at -> BigInt,
        issued_by -> Nullable<Text>,
    }
}

diesel::table! {
    audit_records (seq) {
        seq -> BigInt,
        id -> Text,
        at -> BigInt,
        principal -> Text,
        action -> Text,
        target -> Nullable<Text>,
        outcome -> Text,
        request_id -> Text,
        previous_hash -> Binary,
        hash -> Binary,
        chain_format -> SmallInt,
    }
}

diesel::table! {
    vault_settings (name) {
        name -> Text,
        value -> Text,
    }
}

diesel::table! {
    workspace_admins (workspace_id, user_id) {
        workspace_id -> Text,
        user_id -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    workspace_members (workspace_id, user_id) {
        workspace_id -> Text,
        user_id -> Text,
        created_at -> BigInt,
    }
}

diesel::joinable!(milestones -> projects (project_id));
diesel::joinable!(project_members -> projects (project_id));
diesel::joinable!(secret_versions -> secrets (secret_id));

diesel::table! {
    owner_generations (owner_kind, owner_id) {
        owner_kind -> Text,
        owner_id -> Text,
        generation -> BigInt,
    }
}

diesel::table! {
    events (seq) {
        seq -> BigInt,
        id -> Text,
        at -> BigInt,
        kind -> Text,
        owner_kind -> Nullable<Text>,
        owner_id -> Nullable<Text>,
        name -> Nullable<Text>,
        secret_id -> Nullable<Text>,
        version -> Nullable<Integer>,
        actor -> Text,
        detail -> Text,
        mac -> Nullable<Binary>,
    }
}

diesel::table! {
    expiry_reminders (secret_id, version, expires_at, lead_seconds) {
        secret_id -> Text,
        version -> Integer,
        expires_at -> BigInt,
        lead_seconds -> BigInt,
    }
}

diesel::joinable!(expiry_reminders -> secrets (secret_id));

diesel::table! {
    webhook_endpoints (id) {
        id -> Text,
        owner_kind -> Text,
        owner_id -> Text,
        url -> Text,
        event_types -> Text,
        description -> Nullable<Text>,
        enabled -> SmallInt,
        disabled_reason -> Nullable<Text>,
        consecutive_failures -> Integer,
        secret_generation -> Integer,
        previous_secret_until -> Nullable<BigInt>,
        from_seq -> BigInt,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Text,
        endpoint_id -> Text,
        event_seq -> BigInt,
        event_id -> Text,
        event_kind -> Text,
        state -> Text,
        attempts -> Integer,
        next_attempt_at -> BigInt,
        lease_until -> Nullable<BigInt>,
        last_status -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::joinable!(webhook_deliveries -> webhook_endpoints (endpoint_id));

diesel::allow_tables_to_appear_in_same_query!(
    projects,
    milestones,
    project_members,
    secrets,
    secret_targets,
    secret_versions,
    keks,
    api_tokens,
    audit_records,
    vault_settings,
    workspace_admins,
    workspace_members,
    owner_generations,
    events,
    expiry_reminders,
    webhook_endpoints,
    webhook_deliveries,
);
