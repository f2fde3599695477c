DROP INDEX renders_content_hash;
