//! Diesel table definitions of notifier's schema.

diesel::table! {
    recipients (tenant_id, user_id) {
        tenant_id -> Uuid,
        user_id -> Uuid,
        email -> Text,
        role -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    notifications (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        kind -> Text,
        title -> Text,
        body -> Text,
        source_message_id -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    email_deliveries (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        notification_id -> Nullable<Uuid>,
        message_id -> Text,
        to_address -> Text,
        subject -> Text,
        body -> Text,
        state -> Text,
        attempts -> Integer,
        created_at -> Timestamptz,
        sent_at -> Nullable<Timestamptz>,
        redact_after_send -> Bool,
    }
}
