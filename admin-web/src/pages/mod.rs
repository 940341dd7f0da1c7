pub mod budgets;
pub mod login;
pub mod not_found;
pub mod overview;
pub mod prices;
pub mod reports;
pub mod request_detail;
pub mod request_list;
