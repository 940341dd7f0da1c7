//! The typed GraphQL operations. Each is a `.graphql` file under `queries/`, checked against the
//! committed `admin-api/schema.graphql` when this crate compiles: a schema change that breaks a
//! query breaks the admin-web build.

use graphql_client::GraphQLQuery;

/// RFC 3339 text, as admin-api sends it; parsed where it is shown (see `format`).
pub type DateTime = String;
/// `YYYY-MM-DD`, as admin-api sends and takes it.
pub type NaiveDate = String;

#[derive(GraphQLQuery)]
#[graphql(schema_path = "../admin-api/schema.graphql", query_path = "queries/check_token.graphql")]
pub struct CheckToken;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../admin-api/schema.graphql",
    query_path = "queries/overview.graphql",
    response_derives = "Clone, Debug, PartialEq",
    variables_derives = "Clone, Debug, PartialEq"
)]
pub struct Overview;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../admin-api/schema.graphql",
    query_path = "queries/request_list.graphql",
    response_derives = "Clone, Debug, PartialEq",
    variables_derives = "Clone, Debug, PartialEq"
)]
pub struct RequestList;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../admin-api/schema.graphql",
    query_path = "queries/known_models.graphql",
    response_derives = "Clone, Debug, PartialEq"
)]
pub struct KnownModels;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../admin-api/schema.graphql",
    query_path = "queries/request_detail.graphql",
    response_derives = "Clone, Debug, PartialEq"
)]
pub struct RequestDetail;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../admin-api/schema.graphql",
    query_path = "queries/cost_report.graphql",
    response_derives = "Clone, Debug, PartialEq",
    variables_derives = "Clone, Debug, PartialEq"
)]
pub struct CostReport;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../admin-api/schema.graphql",
    query_path = "queries/prices.graphql",
    response_derives = "Clone, Debug, PartialEq, Serialize"
)]
pub struct Prices;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../admin-api/schema.graphql",
    query_path = "queries/set_price.graphql",
    response_derives = "Clone, Debug, PartialEq",
    variables_derives = "Clone, Debug, PartialEq"
)]
pub struct SetPrice;

#[derive(GraphQLQuery)]
#[graphql(schema_path = "../admin-api/schema.graphql", query_path = "queries/delete_price.graphql")]
pub struct DeletePrice;

/// Its `PriceInput` also reads the JSON of `GET /api/prices`, which is how an import file is parsed.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../admin-api/schema.graphql",
    query_path = "queries/import_prices.graphql",
    variables_derives = "Clone, Debug, PartialEq, Deserialize"
)]
pub struct ImportPrices;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../admin-api/schema.graphql",
    query_path = "queries/budgets.graphql",
    response_derives = "Clone, Debug, PartialEq"
)]
pub struct Budgets;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../admin-api/schema.graphql",
    query_path = "queries/save_budget.graphql",
    variables_derives = "Clone, Debug"
)]
pub struct CreateBudget;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../admin-api/schema.graphql",
    query_path = "queries/save_budget.graphql",
    variables_derives = "Clone, Debug"
)]
pub struct UpdateBudget;

#[derive(GraphQLQuery)]
#[graphql(schema_path = "../admin-api/schema.graphql", query_path = "queries/save_budget.graphql")]
pub struct DeleteBudget;

#[cfg(test)]
mod tests {
    use super::*;
    use graphql_client::Response;

    #[test]
    fn the_token_check_reads_what_admin_api_answers() {
        let answer = r#"{"data":{"request":null}}"#;
        let parsed: Response<check_token::ResponseData> = serde_json::from_str(answer).unwrap();
        assert!(parsed.data.unwrap().request.is_none());
    }
}
