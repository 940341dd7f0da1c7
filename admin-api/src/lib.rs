//! TokenSlipper's admin API: a GraphQL schema over what the proxy recorded. It only reads the
//! request tables.

pub mod admin_site;
pub mod auth;
pub mod config;
pub mod costing;
pub mod db;
pub mod graphql;
pub mod report_export;
pub mod reports;
pub mod routes;
pub mod startup;
pub mod telemetry;
pub mod time_window;
