DROP INDEX secrets_by_expiry;
DROP TABLE expiry_reminders;
DROP TABLE events;
