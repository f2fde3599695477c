//! Attached images through the real publisher and renderer: only the tenant's own completed
//! renders can be attached, and a platform that fetches images gets the public URL of the
//! render's content hash. And the lateness policy: a post that comes due too late is held for
//! a person, then published once when they reschedule it.

use crate::{RPC_TIMEOUT, World};
use chrono::Utc;
use herald_contracts::messages::Platform;
use herald_contracts::rpc::publisher::{
    AccountView, ConnectAccount, ConnectAccountRequest, CreatePost, CreatePostRequest, GetPost,
    GetPostRequest, LatenessPolicy, ListPosts, ListPostsRequest, MediaAttachment, PostStatus,
    PostView, ReschedulePost, ReschedulePostRequest,
};
use herald_contracts::rpc::renderer::{
    CreateRender, CreateRenderRequest, GetRender, GetRenderRequest, RenderStatus, RenderView,
};
use herald_contracts::rpc::{ErrorCode, Role, Rpc, RpcError};
use herald_contracts::{AccountId, RenderId, TenantId};
use herald_testkit::{Running, Template, identity, wait_for};
use std::time::Duration;

/// The publisher's and the renderer's schemas in one database, as in a fleet.
static TEMPLATE: Template = Template {
    name: "publisher_renderer",
    migrate: |url| {
        Box::pin(async move {
            herald_kit::db::migrate(&url, herald_publisher::SCHEMA, herald_publisher::MIGRATIONS)
                .await?;
            herald_kit::db::migrate(&url, herald_renderer::SCHEMA, herald_renderer::MIGRATIONS)
                .await?;
            Ok(())
        })
    },
};

const MEDIA_BASE: &str = "https://media.herald.test/media";

struct Fleet {
    world: World,
    publisher: Running,
    renderer: Running,
    _objects: tempfile::TempDir,
}

impl Fleet {
    async fn start() -> anyhow::Result<Self> {
        let world = World::with_template(&TEMPLATE).await?;
        let objects = tempfile::tempdir()?;
        let sandbox = world.sandbox.base_url().to_owned();
        let threads = format!("{sandbox}/threads");
        let renderer = Running::spawn(
            herald_renderer::start(herald_testkit::service_env(
                &world.nats.url(),
                Some(world.db.url()),
                &[(
                    "HERALD_RENDERER_STORAGE_DIR",
                    objects.path().to_str().unwrap_or_default(),
                )],
            ))
            .await?,
        );
        let publisher = Running::spawn(
            herald_publisher::start(herald_testkit::service_env(
                &world.nats.url(),
                Some(world.db.url()),
                &[
                    ("HERALD_PUBLISHER_ALLOW_PRIVATE_NETWORKS", "true"),
                    ("HERALD_PUBLISHER_THREADS_URL", &threads),
                    ("HERALD_PUBLISHER_MEDIA_BASE_URL", MEDIA_BASE),
                ],
            ))
            .await?,
        );
        Ok(Self {
            world,
            publisher,
            renderer,
            _objects: objects,
        })
    }

    async fn rpc<R: Rpc>(&self, request: R::Request) -> Result<R::Response, RpcError> {
        crate::rpc::<R>(&self.world, request).await
    }

    async fn rpc_as<R: Rpc>(
        &self,
        caller: herald_contracts::rpc::Identity,
        request: R::Request,
    ) -> Result<R::Response, RpcError> {
        herald_kit::rpc::call::<R>(
            &self.world.client,
            "test-media",
            Some(caller),
            request,
            RPC_TIMEOUT,
        )
        .await
    }

    async fn threads_account(&self, token: &str) -> anyhow::Result<AccountView> {
        Ok(self
            .rpc::<ConnectAccount>(ConnectAccountRequest {
                platform: Platform::Threads,
                access_token: Some(token.into()),
                ..ConnectAccountRequest::default()
            })
            .await?)
    }

    async fn render(&self, caller: herald_contracts::rpc::Identity, text: &str) -> RenderView {
        self.rpc_as::<CreateRender>(
            caller,
            CreateRenderRequest {
                design: herald_testkit::text_card(text, 320, 200, "#1d4ed8"),
            },
        )
        .await
        .unwrap()
    }

    async fn completed(&self, id: RenderId) -> anyhow::Result<RenderView> {
        wait_for("render completed", Duration::from_secs(30), || async {
            self.rpc::<GetRender>(GetRenderRequest { render_id: id })
                .await
                .ok()
                .filter(|r| r.status == RenderStatus::Completed)
        })
        .await
    }

    async fn create(
        &self,
        text: &str,
        accounts: Vec<AccountId>,
        media: Vec<MediaAttachment>,
    ) -> Result<PostView, RpcError> {
        self.rpc::<CreatePost>(CreatePostRequest {
            text: text.into(),
            scheduled_at: Some(Utc::now() + chrono::Duration::milliseconds(300)),
            account_ids: accounts,
            media,
            lateness: None,
        })
        .await
    }

    async fn stop(self) -> anyhow::Result<()> {
        self.publisher.stop().await?;
        self.renderer.stop().await?;
        Ok(())
    }
}

fn attach(id: RenderId) -> MediaAttachment {
    MediaAttachment {
        render_id: id,
        alt_text: Some("  the launch card ".into()),
    }
}

#[tokio::test]
async fn a_threads_post_carries_the_public_url_of_its_render() -> anyhow::Result<()> {
    let fleet = Fleet::start().await?;
    let account = fleet.threads_account("threads-media").await?;
    let render = fleet.render(fleet.world.caller.clone(), "Launch").await;
    let done = fleet.completed(render.id).await?;
    let hash = done.content_hash.clone().unwrap();

    let post = fleet
        .create("with a card", vec![account.id], vec![attach(render.id)])
        .await?;
    assert_eq!(post.media.len(), 1);
    assert_eq!(post.media[0].content_hash, hash);
    assert_eq!(post.media[0].alt_text.as_deref(), Some("the launch card"));

    let published = wait_for("post published", Duration::from_secs(30), || async {
        fleet
            .rpc::<GetPost>(GetPostRequest { post_id: post.id })
            .await
            .ok()
            .filter(|p| p.status == PostStatus::Published)
    })
    .await?;
    assert_eq!(published.media, post.media);
    let ledger = fleet.world.sandbox.ledger();
    let entries: Vec<_> = ledger.iter().filter(|e| e.text == "with a card").collect();
    assert_eq!(entries.len(), 1, "published once");
    assert_eq!(
        entries[0].media_ids,
        vec![format!("{MEDIA_BASE}/{hash}.png")]
    );
    fleet.stop().await
}

#[tokio::test]
async fn only_the_tenants_own_completed_renders_can_be_attached() -> anyhow::Result<()> {
    let fleet = Fleet::start().await?;
    let account = fleet.threads_account("threads-refusals").await?;

    // Another tenant's completed render is not found, as if it did not exist.
    let stranger = identity(TenantId::new(), Role::Editor);
    let foreign = fleet.render(stranger.clone(), "Not yours").await;
    wait_for(
        "foreign render completed",
        Duration::from_secs(30),
        || async {
            fleet
                .rpc_as::<GetRender>(
                    stranger.clone(),
                    GetRenderRequest {
                        render_id: foreign.id,
                    },
                )
                .await
                .ok()
                .filter(|r| r.status == RenderStatus::Completed)
        },
    )
    .await?;
    let refused = fleet
        .create("foreign card", vec![account.id], vec![attach(foreign.id)])
        .await
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::NotFound, "{refused:?}");

    // Threads takes one image; more is refused before anything is stored.
    let mine = fleet.render(fleet.world.caller.clone(), "Mine").await;
    fleet.completed(mine.id).await?;
    let two = fleet
        .create(
            "two cards",
            vec![account.id],
            vec![attach(mine.id), attach(mine.id)],
        )
        .await
        .unwrap_err();
    assert_eq!(two.code, ErrorCode::InvalidInput, "{two:?}");
    assert!(two.message.contains("Threads"), "{}", two.message);

    let long_alt = fleet
        .create(
            "long alt",
            vec![account.id],
            vec![MediaAttachment {
                render_id: mine.id,
                alt_text: Some("x".repeat(1001)),
            }],
        )
        .await
        .unwrap_err();
    assert_eq!(long_alt.code, ErrorCode::InvalidInput, "{long_alt:?}");
    // Refused before anything was stored.
    let listed = fleet.rpc::<ListPosts>(ListPostsRequest::default()).await?;
    assert!(listed.posts.is_empty(), "{listed:?}");
    fleet.stop().await
}

#[tokio::test]
async fn a_post_due_later_than_its_policy_allows_is_held_then_published_when_rescheduled()
-> anyhow::Result<()> {
    let world = World::new().await?;
    let service = Running::spawn(herald_publisher::start(world.env()).await?);
    let account = world.connect_account("token-late").await?;
    let at = Utc::now() + chrono::Duration::seconds(1);
    let post = crate::rpc::<CreatePost>(
        &world,
        CreatePostRequest {
            text: "good morning".into(),
            scheduled_at: Some(at),
            account_ids: vec![account.id],
            media: Vec::new(),
            lateness: Some(LatenessPolicy { max_late_secs: 1 }),
        },
    )
    .await?;
    assert_eq!(post.lateness, Some(LatenessPolicy { max_late_secs: 1 }));

    // An outage: no publisher while the post comes due, and for 3 s after.
    service.stop().await?;
    let back_at = at + chrono::Duration::seconds(3);
    tokio::time::sleep((back_at - Utc::now()).to_std().unwrap_or_default()).await;
    let service = Running::spawn(herald_publisher::start(world.env()).await?);
    let held = wait_for("post held", Duration::from_secs(30), || async {
        crate::get(&world, post.id)
            .await
            .ok()
            .filter(|p| p.status == PostStatus::Held)
    })
    .await?;
    assert!(held.targets.iter().all(|t| t.attempts == 0), "{held:?}");
    // The event goes out through the outbox, just after the status commits.
    let events = wait_for("post.held event", Duration::from_secs(10), || async {
        world
            .stream_messages("posts.held.>")
            .await
            .ok()
            .filter(|events| !events.is_empty())
    })
    .await?;
    assert_eq!(events.len(), 1, "one post.held event");
    assert!(world.sandbox.ledger().is_empty(), "nothing published late");

    // A person decides to publish it anyway: reschedule to now.
    crate::rpc::<ReschedulePost>(
        &world,
        ReschedulePostRequest {
            post_id: post.id,
            scheduled_at: Utc::now(),
        },
    )
    .await?;
    let done = crate::settled(&world, post.id, 30).await?;
    assert_eq!(done.status, PostStatus::Published);
    assert_eq!(crate::ledger_count(&world, "good morning"), 1);
    service.stop().await
}
