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
    }
}

diesel::table! {
    posts (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        text -> Text,
        status -> Text,
        scheduled_at -> Timestamptz,
        generation -> Integer,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        published_at -> Nullable<Timestamptz>,
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
    }
}

diesel::joinable!(post_targets -> posts (post_id));
diesel::joinable!(post_targets -> accounts (account_id));
diesel::allow_tables_to_appear_in_same_query!(accounts, posts, post_targets);
