DROP TABLE post_targets;
DROP TABLE posts;
DROP TABLE accounts;
