//! Architecture invariant: the admin API reads the request tables and never writes them.

#[test]
fn the_admin_api_source_holds_no_statement_that_writes() {
    let mut pending = vec![std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/src"))];
    let mut files = 0;
    while let Some(path) = pending.pop() {
        if path.is_dir() {
            pending.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        files += 1;
        for keyword in ["INSERT ", "UPDATE ", "DELETE ", "REPLACE ", "TRUNCATE ", "ALTER ", "DROP "] {
            assert!(!text.contains(keyword), "{} contains {keyword:?}", path.display());
        }
    }
    assert!(files > 5, "the scan found the sources");
}
