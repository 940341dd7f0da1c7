use serde_json::json;
use sqlx::MySqlPool;

use crate::helpers::{error_code, spawn_admin, spawn_admin_with, TOKEN};

const SMALL_QUERY: &str = "{ overview { totals { requests } } }";

#[sqlx::test(migrations = false)]
async fn graphql_needs_the_admin_token(pool: MySqlPool) {
    let admin = spawn_admin(pool).await;

    for token in [None, Some("wrong-token-wrong-token"), Some("")] {
        let (status, body) = admin.query_with_token(token, SMALL_QUERY, json!({})).await;
        assert_eq!(status, 401, "{token:?}");
        assert_eq!(error_code(&body), "UNAUTHENTICATED");
        assert!(body.get("data").is_none(), "no data without the token");
    }
    let (status, body) = admin.query_with_token(None, "{ __schema { types { name } } }", json!({})).await;
    assert_eq!((status, error_code(&body)), (401, "UNAUTHENTICATED"), "introspection needs the token too");

    let (status, body) = admin.query_with_token(Some(TOKEN), SMALL_QUERY, json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["overview"]["totals"]["requests"], 0);
}

#[sqlx::test(migrations = false)]
async fn graphiql_and_health_are_served_without_a_token(pool: MySqlPool) {
    let admin = spawn_admin(pool).await;

    let page = admin.client.get(format!("{}/graphql", admin.address)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("graphiql"));
    let health = admin.client.get(format!("{}/health", admin.address)).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.json::<serde_json::Value>().await.unwrap()["database"], "reachable");
    let cors = admin
        .client
        .request(reqwest::Method::OPTIONS, format!("{}/graphql", admin.address))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(cors.headers().get("access-control-allow-origin").is_none(), "CORS is closed");
}

#[sqlx::test(migrations = false)]
async fn queries_that_are_too_deep_or_too_complex_are_refused(pool: MySqlPool) {
    let admin = spawn_admin(pool).await;

    let nested = (0..20).fold("name".to_string(), |inner, _| format!("ofType {{ {inner} }}"));
    let deep = format!("{{ __schema {{ types {{ fields {{ type {{ {nested} }} }} }} }} }}");
    let response = admin.query(&deep, json!({})).await;
    assert!(response["errors"][0]["message"].as_str().unwrap_or_default().contains("nested too deep"), "{response}");
    assert!(response["data"].is_null());

    let aliases: String = (0..200).map(|i| format!("a{i}: overview {{ totals {{ requests errors }} }} ")).collect();
    let response = admin.query(&format!("{{ {aliases} }}"), json!({})).await;
    assert!(response["errors"][0]["message"].as_str().unwrap_or_default().contains("too complex"), "{response}");
}

#[sqlx::test(migrations = false)]
async fn errors_never_show_sql_or_internals(pool: MySqlPool) {
    // A database that is not there: every resolver fails inside.
    drop(pool);
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let unreachable = sqlx::mysql::MySqlPoolOptions::new()
        .acquire_timeout(std::time::Duration::from_millis(500))
        .connect_lazy_with(sqlx::mysql::MySqlConnectOptions::new().host("127.0.0.1").port(closed_port));
    let admin = spawn_admin_with(unreachable, &[]).await;

    let response = admin.query(SMALL_QUERY, json!({})).await;

    assert_eq!(error_code(&response), "INTERNAL");
    let message = response["errors"][0]["message"].as_str().unwrap();
    assert!(!message.contains("127.0.0.1") && !message.to_lowercase().contains("sql"), "{message}");
    let health = admin.client.get(format!("{}/health", admin.address)).send().await.unwrap();
    assert_eq!(health.status(), 503);
}

#[sqlx::test(migrations = false)]
async fn a_query_over_the_time_limit_is_stopped_with_a_timeout_code(pool: MySqlPool) {
    let admin = spawn_admin_with(pool.clone(), &[("ADMIN_QUERY_TIMEOUT_SECS", "1")]).await;
    // Hold the rollup table so the overview waits on its lock past the limit.
    let mut locker = pool.acquire().await.unwrap();
    sqlx::raw_sql("LOCK TABLES usage_hourly WRITE").execute(&mut *locker).await.unwrap();

    let response = admin.query(SMALL_QUERY, json!({})).await;

    assert_eq!(error_code(&response), "TIMEOUT", "{response}");
    sqlx::raw_sql("UNLOCK TABLES").execute(&mut *locker).await.unwrap();
}

/// What GraphiQL and code generators send (graphql-js `getIntrospectionQuery()`); the limits must let it through.
const INTROSPECTION_QUERY: &str = "query IntrospectionQuery { __schema { queryType { name } mutationType { name } \
    subscriptionType { name } types { ...FullType } directives { name description locations args { ...InputValue } } } } \
    fragment FullType on __Type { kind name description fields(includeDeprecated: true) { name description \
    args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason } inputFields { ...InputValue } \
    interfaces { ...TypeRef } enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason } \
    possibleTypes { ...TypeRef } } fragment InputValue on __InputValue { name description type { ...TypeRef } \
    defaultValue } fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType { kind name \
    ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } } }";

#[sqlx::test(migrations = false)]
async fn the_introspection_query_of_graphiql_passes_the_limits(pool: MySqlPool) {
    let admin = spawn_admin(pool).await;

    let response = admin.query(INTROSPECTION_QUERY, json!({})).await;

    assert!(response.get("errors").is_none(), "{response}");
    assert_eq!(response["data"]["__schema"]["queryType"]["name"], "Query");
}

#[sqlx::test(migrations = false)]
async fn the_server_stops_a_statement_when_the_query_timeout_passes(
    _: sqlx::mysql::MySqlPoolOptions,
    database: sqlx::mysql::MySqlConnectOptions,
) {
    let vars = [("ADMIN_QUERY_TIMEOUT_SECS", "1")].iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let config = admin_api::config::Config::from_vars(&vars).unwrap();
    let pool = admin_api::startup::pool_options(&config).connect_with(database).await.unwrap();

    // MariaDB's spelling; on MySQL 8 the pool sets max_execution_time instead.
    let limit: f64 = sqlx::query_scalar("SELECT CAST(@@max_statement_time AS DOUBLE)").fetch_one(&pool).await.unwrap();
    assert_eq!(limit, 1.0);
    // SLEEP answers 1 when it was interrupted, 0 when it ran its full time.
    let slept = sqlx::query_scalar::<_, i64>("SELECT SLEEP(3)").fetch_one(&pool).await;
    match slept {
        Ok(interrupted) => assert_eq!(interrupted, 1, "the statement ran its full 3 s"),
        Err(error) => assert!(error.to_string().contains("max_statement_time"), "{error}"),
    }
}
