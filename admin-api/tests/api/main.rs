//! End-to-end tests of the admin API: the real service on port 0 over a fresh MariaDB database per
//! test, filled by the proxy's own writer code so the rows are exactly what the proxy stores.

mod admin_site;
mod auth_and_limits;
mod binary;
mod browser;
mod browser_budgets;
mod browser_costs;
mod budgets;
mod chromium;
mod costs;
mod helpers;
mod overview_and_stats;
mod read_only;
mod request_detail;
mod request_list;
mod schema_contract;
