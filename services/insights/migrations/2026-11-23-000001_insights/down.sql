DROP TABLE metric_samples;
DROP TABLE tracked_posts;
