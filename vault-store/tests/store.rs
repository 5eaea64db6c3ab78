//! The store suite: every test runs on SQLite and on a real PostgreSQL server.

mod support;

mod store {
    mod at_rest;
    mod concurrency;
    mod events;
    mod keks;
    mod projects;
    mod records;
    mod schema;
    mod secrets;
    mod webhooks;
    mod workspaces;
}
