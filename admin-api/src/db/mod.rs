//! Queries. The tables the proxy writes are only read here; `prices` is the admin API's own
//! configuration and the only table it writes.

pub mod aggregates;
pub mod billing;
pub mod budgets;
pub mod prices;
pub mod requests;
pub mod search;
pub mod top_costs;
