SELECT kit_disable_tenant_isolation('metric_samples');
SELECT kit_disable_tenant_isolation('tracked_posts');
