// `sqlx::migrate!` embeds each migration file with `include_str!`, so cargo rebuilds when one of them
// changes, but not when a migration is added: without this, a warm build (CI's target directory)
// would ship a binary that lacks the newest migration.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
