//! What the harness (`bench`) shares with the log writer's benchmark process (`bench-log-writer`):
//! the writer benchmark runs in a binary of its own so that it allocates as the proxy does
//! (mimalloc), while the harness, the mock upstream and the reference proxy stay on glibc.

pub mod process_stats;
pub mod wire_shapes;
pub mod writer_bench;
