//! Read-only queries over the tables the proxy writes. The admin API never writes them.

pub mod aggregates;
pub mod requests;
