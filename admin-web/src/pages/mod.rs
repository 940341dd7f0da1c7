pub mod login;
pub mod not_found;
pub mod overview;
pub mod request_detail;
pub mod request_list;
