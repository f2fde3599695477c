DROP TABLE usage_ledger;
