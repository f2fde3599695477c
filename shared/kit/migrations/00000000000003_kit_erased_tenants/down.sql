DROP TABLE kit_erased_tenants;
