//! Diesel table definitions of insights' schema.

diesel::table! {
    tracked_posts (post_id, account_id) {
        tenant_id -> Uuid,
        post_id -> Uuid,
        account_id -> Uuid,
        platform -> Text,
        instance_url -> Text,
        remote_id -> Text,
        published_at -> Timestamptz,
        tracked_at -> Timestamptz,
    }
}

diesel::table! {
    metric_samples (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        post_id -> Uuid,
        account_id -> Uuid,
        platform -> Text,
        remote_id -> Text,
        round -> Integer,
        collected_at -> Timestamptz,
        likes -> BigInt,
        reposts -> BigInt,
        replies -> BigInt,
    }
}
