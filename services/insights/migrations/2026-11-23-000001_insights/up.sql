-- Every published target whose metrics are collected, from post.published (one row per
-- post and account: the primary key doubles as the uniqueness guard).
CREATE TABLE tracked_posts (
    tenant_id     UUID NOT NULL,
    post_id       UUID NOT NULL,
    account_id    UUID NOT NULL,
    platform      TEXT NOT NULL,
    instance_url  TEXT NOT NULL,
    remote_id     TEXT NOT NULL,
    published_at  TIMESTAMPTZ NOT NULL,
    tracked_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (post_id, account_id)
);
CREATE INDEX tracked_posts_tenant_post ON tracked_posts (tenant_id, post_id);

-- One sample per target and collection round. The unique key makes a second sample for the
-- same round impossible even if the consumer's inbox were bypassed.
CREATE TABLE metric_samples (
    id            UUID PRIMARY KEY,
    tenant_id     UUID NOT NULL,
    post_id       UUID NOT NULL,
    account_id    UUID NOT NULL,
    platform      TEXT NOT NULL,
    remote_id     TEXT NOT NULL,
    round         INTEGER NOT NULL CHECK (round >= 1),
    collected_at  TIMESTAMPTZ NOT NULL,
    likes         BIGINT NOT NULL CHECK (likes >= 0),
    reposts       BIGINT NOT NULL CHECK (reposts >= 0),
    replies       BIGINT NOT NULL CHECK (replies >= 0),
    UNIQUE (post_id, account_id, round)
);
CREATE INDEX metric_samples_tenant_post ON metric_samples (tenant_id, post_id, round);
