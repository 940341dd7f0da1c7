pub mod conversation;
pub mod cost;
pub mod json_block;
pub mod request_table;
pub mod states;
pub mod usage_chart;
