//! Settings shared by the proxy and the admin API: the conventions for reading environment
//! variables (and `.env`), and the database connection both of them use.

mod database;
mod values;

pub use database::{database_options, DatabaseSettings};
pub use values::{invalid, load_dotenv, parse_bool, parse_number, parse_positive, ConfigError, Vars};
