//! notifier: tells people what happened. Keeps the tenant's recipients (from identity
//! events), writes in-app notifications for published posts and sends each email exactly once
//! (delivery rows + a reconciling delivery worker), and serves the in-app inbox.

pub mod config;
pub mod handlers;
pub mod mail;
pub mod repo;

use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use herald_contracts::messages::identity::USER_REGISTERED_FILTER;
use herald_contracts::messages::posts::{HELD_FILTER, PUBLISHED_FILTER, TARGET_FAILED_FILTER};
use herald_contracts::rpc::notifier::ListNotifications;
use herald_contracts::streams::{IDENTITY, POSTS};
use herald_kit::{App, ConsumerSpec, Env, KitError, ServiceInfo};

pub use config::NotifierConfig;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");
pub const SCHEMA: &str = "notifier";

pub fn info() -> ServiceInfo {
    ServiceInfo {
        name: "notifier",
        version: env!("CARGO_PKG_VERSION"),
        streams: &[IDENTITY, POSTS, herald_contracts::streams::PRIVACY],
        storage: Some((SCHEMA, || MIGRATIONS)),
    }
}

/// Builds the service: consumers, endpoint and delivery worker registered, ready to `run`.
pub async fn start(env: Env) -> Result<App, KitError> {
    let config = NotifierConfig::from_env(&env.scoped("notifier"))?;
    let mut app = App::start(info(), &env).await?;
    let db = app.db()?;
    let mail_waker = mail::MailWaker::default();
    app.consume_tx(
        ConsumerSpec::new(IDENTITY, "notifier-recipients", USER_REGISTERED_FILTER),
        handlers::user_registered::StoreRecipient,
    )
    .await?;
    app.consume_tx(
        ConsumerSpec::new(
            IDENTITY,
            "notifier-identity-emails",
            herald_contracts::messages::identity::EMAIL_REQUESTED_FILTER,
        ),
        handlers::email_requested::SendIdentityEmail {
            message_id_domain: config.from_domain().to_owned(),
            mail: mail_waker.clone(),
        },
    )
    .await?;
    app.consume_tx(
        ConsumerSpec::new(POSTS, "notifier-post-published", PUBLISHED_FILTER),
        handlers::post_published::NotifyPublished {
            message_id_domain: config.from_domain().to_owned(),
            mail: mail_waker.clone(),
        },
    )
    .await?;
    app.consume_tx(
        ConsumerSpec::new(POSTS, "notifier-target-failed", TARGET_FAILED_FILTER),
        handlers::target_failed::NotifyTargetFailed {
            message_id_domain: config.from_domain().to_owned(),
            mail: mail_waker.clone(),
        },
    )
    .await?;
    app.consume_tx(
        ConsumerSpec::new(POSTS, "notifier-post-held", HELD_FILTER),
        handlers::post_held::NotifyHeld {
            message_id_domain: config.from_domain().to_owned(),
            mail: mail_waker.clone(),
        },
    )
    .await?;
    app.consume_tx(
        ConsumerSpec::new(
            herald_contracts::streams::PRIVACY,
            herald_contracts::messages::privacy::erasure_consumer(handlers::erasure::SERVICE),
            herald_contracts::messages::privacy::ERASURE_REQUESTED_FILTER,
        ),
        handlers::erasure::EraseNotifier,
    )
    .await?;
    let list_db = db.clone();
    app.serve::<ListNotifications>(move |ctx, request| {
        handlers::list_notifications::handle(list_db.clone(), ctx, request)
    })
    .await?;
    let mailer = mail::Mailer {
        db,
        mailbox: config.mailbox.clone(),
        from: config.from.clone(),
        waker: mail_waker,
        sweep: config.mail_sweep,
    };
    app.spawn(mailer.run(app.intake_token()));
    // GDPR export: this service's part, asked for by auth only.
    handlers::privacy_export::serve(&mut app).await?;
    Ok(app)
}
