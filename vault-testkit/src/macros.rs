//! `on_both_backends!`: each named `async fn(TestDb)` runs once on SQLite and once on
//! PostgreSQL, as `sqlite::name` and `postgres::name`.

/// Runs each named `async fn(TestDb)` once on SQLite and once on PostgreSQL (skipped,
/// with a note, only when no server was given and none is required). An optional
/// `worker_threads = N;` sets the runtime's threads (2 unless given).
#[macro_export]
macro_rules! on_both_backends {
    (worker_threads = $threads:literal; $($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = $threads)]
                async fn $test() {
                    super::$test($crate::TestDb::sqlite()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = $threads)]
                async fn $test() {
                    if let Some(db) = $crate::TestDb::postgres() {
                        super::$test(db).await;
                    }
                }
            )*
        }
    };
    ($($test:ident),* $(,)?) => {
        $crate::on_both_backends!(worker_threads = 2; $($test),*);
    };
}
