//! End-to-end tests of the proxy: the real server on a real socket, a fresh MariaDB database per
//! test (`#[sqlx::test]`, `DATABASE_URL` names the server), and a mock upstream speaking the
//! recorded OpenAI wire format. Migrations are not pre-applied: the proxy applies them itself.

mod bad_input;
mod budgets;
mod client_auth;
mod conversation_storage;
mod errors;
mod first_start;
mod forwarding;
mod helpers;
mod log_pipeline;
mod migrations;
mod mock_upstream;
mod no_lost_records;
mod openai_sdk;
mod proxy_process;
mod service_endpoints;
mod soak;
mod stack;
mod startup;
mod streaming;
mod word_index;
