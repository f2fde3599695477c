DROP TABLE target_failures;
