//! The committed SDL is the contract with admin-web and other clients. When the code's schema
//! differs, this test rewrites the file (review and commit it) and fails.

#[test]
fn the_committed_schema_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");
    let generated = admin_api::graphql::sdl();
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    if committed != generated {
        std::fs::write(path, &generated).unwrap();
        panic!("admin-api/schema.graphql was out of date and has been rewritten; review and commit it");
    }
}
