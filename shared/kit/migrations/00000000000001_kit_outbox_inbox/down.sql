DROP TABLE kit_inbox;
DROP TABLE kit_outbox;
