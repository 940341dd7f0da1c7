//! Settings shared by the proxy and the admin API: the conventions for reading environment
//! variables (and `.env`), the database connection both of them use, and applying the migrations
//! when both may start at once.

mod database;
mod migrations;
mod values;

pub use database::{database_options, DatabaseSettings};
pub use migrations::{apply_migrations, MIGRATOR};
pub use values::{invalid, load_dotenv, parse_bool, parse_number, parse_positive, ConfigError, Vars};
