-- Tenant isolation (docs/adr/0008-row-level-security.md). A service's migration calls
-- `SELECT kit_enable_tenant_isolation('<table>')` for every table with a tenant_id column: one
-- policy, written once here, lets a row through when it belongs to the connection's tenant
-- (`herald.tenant_id`) or the connection is in the explicit cross-tenant scope
-- (`herald.scope = 'system'`), for reading and for writing. FORCE makes it hold for the
-- tables' owner too. Without either setting a table reads as empty and refuses writes.
CREATE FUNCTION kit_enable_tenant_isolation(tbl regclass) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
    visible CONSTANT text :=
        $q$tenant_id = nullif(current_setting('herald.tenant_id', true), '')::uuid
           OR current_setting('herald.scope', true) = 'system'$q$;
BEGIN
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
    EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', tbl);
    EXECUTE format('DROP POLICY IF EXISTS tenant_isolation ON %s', tbl);
    EXECUTE format('CREATE POLICY tenant_isolation ON %s USING (%s) WITH CHECK (%s)',
                   tbl, visible, visible);
END
$fn$;
REVOKE EXECUTE ON FUNCTION kit_enable_tenant_isolation(regclass) FROM PUBLIC;

-- The reverse, for down migrations.
CREATE FUNCTION kit_disable_tenant_isolation(tbl regclass) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    EXECUTE format('DROP POLICY IF EXISTS tenant_isolation ON %s', tbl);
    EXECUTE format('ALTER TABLE %s NO FORCE ROW LEVEL SECURITY', tbl);
    EXECUTE format('ALTER TABLE %s DISABLE ROW LEVEL SECURITY', tbl);
END
$fn$;
REVOKE EXECUTE ON FUNCTION kit_disable_tenant_isolation(regclass) FROM PUBLIC;
