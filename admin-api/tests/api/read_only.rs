//! Architecture invariant: the admin API reads the request tables and never writes them; the only
//! tables it writes are its own configuration.

/// Tables the admin API owns.
const CONFIGURATION_TABLES: [&str; 2] = ["model_prices", "budgets"];

#[test]
fn the_admin_api_source_writes_only_its_configuration_tables() {
    let mut pending = vec![std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/src"))];
    let mut files = 0;
    let mut writes = 0;
    while let Some(path) = pending.pop() {
        if path.is_dir() {
            pending.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        files += 1;
        for keyword in ["REPLACE ", "TRUNCATE ", "ALTER ", "DROP "] {
            assert!(!text.contains(keyword), "{} contains {keyword:?}", path.display());
        }
        // `… KEY UPDATE col = …` belongs to an INSERT, whose table is checked.
        let text = text.replace("KEY UPDATE ", "KEY_UPDATE_");
        for keyword in ["INSERT INTO ", "DELETE FROM ", "UPDATE "] {
            for (at, _) in text.match_indices(keyword) {
                let table: String =
                    text[at + keyword.len()..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                assert!(
                    CONFIGURATION_TABLES.contains(&table.as_str()),
                    "{} writes {table:?} ({keyword:?})",
                    path.display()
                );
                writes += 1;
            }
        }
    }
    assert!(files > 5, "the scan found the sources");
    assert!(writes >= 2, "the scan sees the writes to the price table");
}
