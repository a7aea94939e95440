//! The async wrapper (cargo feature `tokio`, enabled for tests by the crate's
//! dev-dependency on itself): `AsyncDb`/`AsyncTable` give the same results and the same
//! errors as the blocking API, on a multi-threaded and a current-thread runtime, on
//! disk and in memory; paginators follow every page; many concurrent calls do not
//! starve the runtime's workers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::time::Duration;

use strata_engine::{
    AsyncDb, BatchGetRequest, DbError, DbOptions, DeleteOptions, GetOptions, GsiSpec, PutOptions,
    QueryOptions, ScanOptions, TableSpec, UpdateOptions, WriteRequest,
};
use strata_item::{Item, KeySchema, KeyType, item};

fn spec() -> TableSpec {
    TableSpec::new(
        "orders",
        KeySchema::composite("customer", KeyType::S, "id", KeyType::N),
    )
    .partitions(2)
    .gsi(GsiSpec::new(
        "by_status",
        KeySchema::composite("status", KeyType::S, "id", KeyType::N),
    ))
}

fn id(i: &Item) -> i64 {
    i.get_n::<i64>("id").unwrap()
}

async fn exercise(db: &AsyncDb) {
    db.create_table(spec()).await.unwrap();
    // ensure_table with the same spec is a no-op, with another one a clear error.
    db.ensure_table(spec()).await.unwrap();
    let other = TableSpec::new("orders", KeySchema::simple("customer", KeyType::S));
    assert!(matches!(
        db.ensure_table(other).await,
        Err(DbError::TableSpecMismatch { .. })
    ));
    let t = db.table("orders").unwrap();
    for id in 0..30 {
        let status = if id % 3 == 0 { "open" } else { "shipped" };
        t.put_item(
            item! { "customer" => "c", "id" => id, "status" => status },
            PutOptions::default(),
        )
        .await
        .unwrap();
    }
    // Conditions fail with the same error, and can return the item.
    let again = t
        .put_item(
            item! { "customer" => "c", "id" => 0 },
            PutOptions::default().condition("attribute_not_exists(id)"),
        )
        .await;
    assert!(matches!(again, Err(DbError::ConditionalCheckFailed { .. })));
    // Validation errors are the blocking API's.
    let bad = t
        .put_item(item! { "customer" => "c" }, PutOptions::default())
        .await
        .unwrap_err();
    assert!(bad.is_validation(), "{bad}");

    let got = t
        .get_item(
            item! { "customer" => "c", "id" => 3 },
            GetOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(got.item.unwrap().get_s("status").unwrap(), "open");
    let up = t
        .update_item(
            item! { "customer" => "c", "id" => 3 },
            UpdateOptions::default()
                .update("SET #s = :s")
                .name("#s", "status")
                .value(":s", "closed"),
        )
        .await
        .unwrap();
    assert!(up.attributes.is_none());
    t.delete_item(
        item! { "customer" => "c", "id" => 29 },
        DeleteOptions::default(),
    )
    .await
    .unwrap();

    // One page, then all pages through the paginator, in reverse order.
    let page = t
        .query(
            "customer = :c",
            QueryOptions::default().value(":c", "c").limit(4),
        )
        .await
        .unwrap();
    assert_eq!(
        page.items.iter().map(id).collect::<Vec<_>>(),
        vec![0, 1, 2, 3]
    );
    let all = t
        .query_iter(
            "customer = :c",
            QueryOptions::default().value(":c", "c").limit(4).reverse(),
        )
        .collect()
        .await
        .unwrap();
    assert_eq!(
        all.iter().map(id).collect::<Vec<_>>(),
        (0..29).rev().collect::<Vec<_>>()
    );
    // Pages with a filter: empty pages are yielded by pages(), skipped by items.
    let filtered = ScanOptions::default()
        .limit(2)
        .filter("id = :one")
        .value(":one", 1);
    let mut pages = t.scan_iter(filtered.clone()).pages();
    let (mut n_pages, mut empty, mut items) = (0, 0, 0);
    while let Some(p) = pages.next().await {
        let p = p.unwrap();
        n_pages += 1;
        empty += usize::from(p.items.is_empty());
        items += p.items.len();
    }
    assert_eq!(items, 1);
    assert!(
        empty >= 1 && n_pages >= 15,
        "{n_pages} pages, {empty} empty"
    );
    assert_eq!(t.scan_iter(filtered).collect().await.unwrap().len(), 1);

    // The GSI after wait_for_indexes.
    db.wait_for_indexes("orders", Duration::from_secs(30))
        .await
        .unwrap();
    let open = t
        .query_iter(
            "#s = :s",
            QueryOptions::default()
                .index("by_status")
                .name("#s", "status")
                .value(":s", "open")
                .limit(3),
        )
        .collect()
        .await
        .unwrap();
    assert_eq!(
        open.iter().map(id).collect::<Vec<_>>(),
        vec![0, 6, 9, 12, 15, 18, 21, 24, 27]
    );
    assert!(
        db.verify_index("orders", "by_status")
            .await
            .unwrap()
            .is_clean()
    );

    // Batches.
    db.batch_write_item([(
        "orders",
        vec![
            WriteRequest::Put(item! { "customer" => "d", "id" => 1 }),
            WriteRequest::Delete(item! { "customer" => "c", "id" => 0 }.into()),
        ],
    )])
    .await
    .unwrap();
    let got = db
        .batch_get_item([(
            "orders",
            BatchGetRequest::keys([
                item! { "customer" => "d", "id" => 1 },
                item! { "customer" => "c", "id" => 0 },
            ]),
        )])
        .await
        .unwrap();
    assert_eq!(got.responses["orders"].len(), 1);

    // Errors of the Db level are the same too.
    assert!(matches!(
        db.describe_table("missing").await,
        Err(DbError::TableNotFound { .. })
    ));
    assert!(matches!(
        db.table("missing"),
        Err(DbError::TableNotFound { .. })
    ));
    t.flush().await.unwrap();
    assert_eq!(db.describe_table("orders").await.unwrap().spec, spec());
    db.delete_table("orders").await.unwrap();
    assert_eq!(db.sync().list_tables().unwrap(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_item_api_works_async_in_memory() {
    let db = AsyncDb::open_in_memory().await.unwrap();
    exercise(&db).await;
    db.close().await.unwrap();
    assert!(matches!(db.table("orders"), Err(DbError::Closed)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_item_api_works_async_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let db = AsyncDb::open(dir.path(), DbOptions::default())
        .await
        .unwrap();
    exercise(&db).await;
    db.close().await.unwrap();
    // Reopened, the same directory works again; a second open is refused while open.
    let db = AsyncDb::open(dir.path(), DbOptions::default())
        .await
        .unwrap();
    assert!(matches!(
        AsyncDb::open(dir.path(), DbOptions::default()).await,
        Err(DbError::Locked { .. })
    ));
    db.close().await.unwrap();
}

/// On a current-thread runtime a call that waits does not block the runtime's one
/// worker: `wait_for_indexes` waits (on the blocking pool) for an index whose
/// maintenance is paused, and the task that resumes the maintenance still runs. A
/// wrapper that blocked the worker would time out instead.
#[tokio::test(flavor = "current_thread")]
async fn a_waiting_call_does_not_block_a_current_thread_runtime() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let db = AsyncDb::open_in_memory().await.unwrap();
    db.create_table(spec()).await.unwrap();
    let t = db.table("orders").unwrap();
    db.sync().pause_index_maintenance(true);
    t.put_item(
        item! { "customer" => "c", "id" => 1, "status" => "open" },
        PutOptions::default(),
    )
    .await
    .unwrap();
    let started = Arc::new(AtomicBool::new(false));
    let waiter = {
        let (db, started) = (db.clone(), Arc::clone(&started));
        tokio::spawn(async move {
            started.store(true, Ordering::SeqCst);
            db.wait_for_indexes("orders", Duration::from_secs(30)).await
        })
    };
    while !started.load(Ordering::SeqCst) {
        tokio::task::yield_now().await;
    }
    db.sync().pause_index_maintenance(false);
    waiter.await.unwrap().unwrap();
    let open = t
        .query(
            "#s = :s",
            QueryOptions::default()
                .index("by_status")
                .name("#s", "status")
                .value(":s", "open"),
        )
        .await
        .unwrap();
    assert_eq!(open.count, 1);
    db.close().await.unwrap();
}

/// Many concurrent writers on a multi-threaded runtime with two workers: every write
/// lands once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_async_writers_all_land() {
    let dir = tempfile::tempdir().unwrap();
    let db = AsyncDb::open(dir.path(), DbOptions::default())
        .await
        .unwrap();
    db.create_table(TableSpec::new("tbl", KeySchema::simple("k", KeyType::N)))
        .await
        .unwrap();
    let t = db.table("tbl").unwrap();
    let mut writers = Vec::new();
    for w in 0..8 {
        let t = t.clone();
        writers.push(tokio::spawn(async move {
            for i in 0..25 {
                t.put_item(item! { "k" => w * 100 + i }, PutOptions::default())
                    .await
                    .unwrap();
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    let all = t.scan_iter(ScanOptions::default()).collect().await.unwrap();
    assert_eq!(all.len(), 200);
    db.close().await.unwrap();
}

/// The async and the blocking handles are views of one database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_blocking_and_async_handles_share_the_database() {
    let db = AsyncDb::open_in_memory().await.unwrap();
    db.sync()
        .create_table(TableSpec::new("tbl", KeySchema::simple("k", KeyType::S)))
        .unwrap();
    db.sync()
        .table("tbl")
        .unwrap()
        .put_item(item! { "k" => "a" }, PutOptions::default())
        .unwrap();
    let got = db
        .table("tbl")
        .unwrap()
        .get_item(item! { "k" => "a" }, GetOptions::default())
        .await
        .unwrap();
    assert_eq!(got.item, Some(item! { "k" => "a" }));
    let sync = db.clone().into_sync();
    let again = AsyncDb::from(sync);
    assert_eq!(again.sync().list_tables().unwrap(), vec!["tbl".to_string()]);
    db.close().await.unwrap();
}

/// Outside a tokio runtime there is no blocking pool: a call polled there (by another
/// executor) fails at once with a clear error instead of panicking, and does nothing.
#[test]
fn a_call_outside_a_tokio_runtime_is_a_clear_error() {
    let db = strata_engine::Db::open_in_memory().unwrap();
    let adb = AsyncDb::from(db.clone());
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let mut create = std::pin::pin!(adb.create_table(spec()));
    match create.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(Err(e @ DbError::InvalidRequest { .. })) => {
            assert!(e.to_string().contains("tokio runtime"), "{e}");
        }
        other => panic!("expected a ready InvalidRequest, got {other:?}"),
    }
    assert!(db.list_tables().unwrap().is_empty());
}
