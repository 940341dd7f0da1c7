//! The admin GraphQL schema: plain modules with no HTTP in them.

pub mod budget_types;
pub mod cost_types;
pub mod errors;
pub mod mutation;
pub mod query;
pub mod types;

use async_graphql::{EmptySubscription, SDLExportOptions, Schema};
use sqlx::MySqlPool;

pub type AdminSchema = Schema<query::Query, mutation::Mutation, EmptySubscription>;

/// Deepest selection a query may nest. The schema's own types need 4 (it has no cycles), but
/// the introspection query GraphiQL and code generators send nests 13 deep.
pub const MAX_DEPTH: usize = 16;
/// Upper bound on a query's cost (one per field, lists counted once), against queries that ask
/// for everything many times over through aliases.
pub const MAX_COMPLEXITY: usize = 500;

pub fn build_schema(pool: MySqlPool) -> AdminSchema {
    Schema::build(query::Query, mutation::Mutation, EmptySubscription)
        .data(pool)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .finish()
}

/// The schema as committed in `admin-api/schema.graphql`: sorted, so diffs read well.
pub fn sdl() -> String {
    let schema = Schema::build(query::Query, mutation::Mutation, EmptySubscription).finish();
    schema.sdl_with_options(SDLExportOptions::new().sorted_fields().sorted_arguments().sorted_enum_items())
}
