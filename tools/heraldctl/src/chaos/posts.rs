//! The run's posts, created through `publisher.posts.create` before the chaos starts, a
//! bounded number at a time. A create whose answer is lost may still have committed, so it is
//! retried only after the database shows no post with its text: a second post with the same
//! text would be counted as a duplicate publication.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use herald_contracts::PostId;
use herald_contracts::rpc::Identity;
use herald_contracts::rpc::publisher::{CreatePost, CreatePostRequest};
use herald_kit::async_nats;

use super::accounts::Accounts;
use super::db;
use super::media::Card;
use super::plan::Plan;
use crate::up::log::say;

/// Creates in flight at once.
const IN_FLIGHT: usize = 16;
const RPC_TIMEOUT: Duration = Duration::from_secs(15);
const ATTEMPTS: usize = 4;

pub struct Creator<'a> {
    pub client: &'a async_nats::Client,
    pub caller: &'a Identity,
    pub database_url: &'a str,
    pub plan: &'a Plan,
    pub accounts: &'a Accounts,
    /// Attached to the posts that carry an image (see `media::carries_card`).
    pub card: &'a Card,
}

impl Creator<'_> {
    /// Creates every post of the plan, post `i` due at `first_due + plan.due_offset(i)`.
    pub async fn create_all(&self, first_due: DateTime<Utc>) -> Result<Vec<PostId>> {
        let started = Instant::now();
        let report_every = (self.plan.posts / 10).max(100);
        let ids: Vec<(usize, PostId)> = futures::stream::iter(0..self.plan.posts)
            .map(|index| async move {
                let id = self.create(index, first_due).await?;
                if (index + 1) % report_every == 0 {
                    say(format!("{} posts created", index + 1));
                }
                Ok::<_, anyhow::Error>((index, id))
            })
            .buffer_unordered(IN_FLIGHT)
            .try_collect()
            .await?;
        say(format!(
            "{} posts created in {:.1}s",
            ids.len(),
            started.elapsed().as_secs_f64()
        ));
        let mut ids = ids;
        ids.sort_by_key(|(index, _)| *index);
        Ok(ids.into_iter().map(|(_, id)| id).collect())
    }

    async fn create(&self, index: usize, first_due: DateTime<Utc>) -> Result<PostId> {
        let plan = self.plan;
        let platform = plan.platform_of(index);
        let account = self
            .accounts
            .get(&platform)
            .and_then(|ids| ids.get(plan.account_slot(index)))
            .with_context(|| format!("no {platform} account connected"))?;
        let offset = chrono::Duration::from_std(plan.due_offset(index))?;
        let request = CreatePostRequest {
            text: plan.text(index),
            scheduled_at: Some(first_due + offset),
            account_ids: vec![*account],
            media: if super::media::carries_card(platform, index) {
                vec![self.card.attachment.clone()]
            } else {
                Vec::new()
            },
            lateness: None,
        };
        let tenant = self.caller.tenant_id;
        for attempt in 1..=ATTEMPTS {
            let answer = herald_kit::rpc::call::<CreatePost>(
                self.client,
                &format!("chaos-{}-create-{index}-{attempt}", plan.run_id),
                Some(self.caller.clone()),
                request.clone(),
                RPC_TIMEOUT,
            )
            .await;
            let error = match answer {
                Ok(post) => return Ok(post.id),
                Err(error) => error,
            };
            match db::post_with_text(self.database_url, tenant, &request.text).await {
                Ok(Some(id)) => return Ok(id),
                Ok(None) if attempt < ATTEMPTS => {
                    say(format!("creating post {index} failed ({error}); retrying"));
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Ok(None) => bail!("creating post {index}: {error}"),
                Err(check) => {
                    bail!(
                        "creating post {index}: {error}; and whether it exists is unknown: {check:#}"
                    )
                }
            }
        }
        bail!("creating post {index}: gave up")
    }
}
