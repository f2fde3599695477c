//! publisher's tables.

diesel::table! {
    accounts (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        platform -> Text,
        instance_url -> Text,
        remote_account_id -> Text,
        handle -> Text,
        access_token -> Text,
        created_at -> Timestamptz,
        refresh_token -> Nullable<Text>,
        token_expires_at -> Nullable<Timestamptz>,
        rate_limited_until -> Nullable<Timestamptz>,
        disconnected_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    posts (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        text -> Text,
        status -> Text,
        scheduled_at -> Nullable<Timestamptz>,
        generation -> Integer,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        published_at -> Nullable<Timestamptz>,
        cancelled_at -> Nullable<Timestamptz>,
        round -> Integer,
        wake_at -> Nullable<Timestamptz>,
        media -> Jsonb,
        max_late_secs -> Nullable<Integer>,
    }
}

diesel::table! {
    post_targets (post_id, account_id) {
        post_id -> Uuid,
        account_id -> Uuid,
        tenant_id -> Uuid,
        state -> Text,
        attempts -> Integer,
        idempotency_key -> Text,
        lease_until -> Nullable<Timestamptz>,
        remote_id -> Nullable<Text>,
        remote_url -> Nullable<Text>,
        last_error -> Nullable<Text>,
        published_at -> Nullable<Timestamptz>,
        updated_at -> Timestamptz,
        first_attempt_at -> Nullable<Timestamptz>,
        checkpoint -> Nullable<Text>,
        not_before -> Nullable<Timestamptz>,
    }
}

diesel::joinable!(post_targets -> posts (post_id));
diesel::joinable!(post_targets -> accounts (account_id));
diesel::allow_tables_to_appear_in_same_query!(accounts, posts, post_targets);
