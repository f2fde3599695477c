DROP TABLE email_deliveries;
DROP TABLE notifications;
DROP TABLE recipients;
