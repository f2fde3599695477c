SELECT kit_disable_tenant_isolation('audit_events');
DROP TABLE audit_events;
DROP FUNCTION audit_events_append_only();
DROP TABLE throttle_counters;
