//! Services that start together against a fresh database apply the migrations once between them.

use sqlx::MySqlPool;

/// On MariaDB sqlx's own migration lock does not hold (`GET_LOCK(name, -1)` returns at once), so
/// four migrators at once used to run the same migration side by side and leave it marked as
/// partially applied, after which nothing could be written.
#[sqlx::test(migrations = false)]
async fn four_services_migrating_one_fresh_database_at_once_all_succeed(pool: MySqlPool) {
    let results = futures_util::future::join_all((0..4).map(|_| settings::apply_migrations(&pool))).await;
    for result in &results {
        assert!(result.is_ok(), "{results:?}");
    }
    let (applied, dirty): (i64, i64) =
        sqlx::query_as("SELECT COUNT(*), CAST(COALESCE(SUM(NOT success), 0) AS SIGNED) FROM _sqlx_migrations")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((applied, dirty), (settings::MIGRATOR.iter().count() as i64, 0));
}
