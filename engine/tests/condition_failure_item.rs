//! `return_values_on_condition_check_failure(AllOld)`: a put, update or delete whose
//! condition fails returns the existing item in `DbError::ConditionalCheckFailed`
//! (none when there is no item, or when the option is not set), and writes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use strata_engine::{
    Db, DbError, DeleteOptions, GetOptions, PutOptions, ReturnValuesOnConditionCheckFailure, Table,
    TableSpec, UpdateOptions,
};
use strata_item::{Item, KeySchema, KeyType, item};

const ALL_OLD: ReturnValuesOnConditionCheckFailure = ReturnValuesOnConditionCheckFailure::AllOld;

fn table() -> (Db, Table) {
    let db = Db::open_in_memory().unwrap();
    db.create_table(
        TableSpec::new(
            "requests",
            KeySchema::composite("pk", KeyType::S, "sk", KeyType::N),
        )
        .partitions(2),
    )
    .unwrap();
    let t = db.table("requests").unwrap();
    t.put_item(
        item! { "pk" => "a", "sk" => 1, "state" => "done", "amount" => 10 },
        PutOptions::default(),
    )
    .unwrap();
    (db, t)
}

fn existing() -> Item {
    item! { "pk" => "a", "sk" => 1, "state" => "done", "amount" => 10 }
}

fn failed_item<T: std::fmt::Debug>(r: Result<T, DbError>) -> Option<Item> {
    match r {
        Err(DbError::ConditionalCheckFailed { table, item }) => {
            assert_eq!(table, "requests");
            item
        }
        other => panic!("expected ConditionalCheckFailed, got {other:?}"),
    }
}

fn stored(t: &Table) -> Option<Item> {
    t.get_item(item! { "pk" => "a", "sk" => 1 }, GetOptions::default())
        .unwrap()
        .item
}

#[test]
fn an_idempotent_create_gets_the_existing_item_without_a_second_read() {
    let (_db, t) = table();
    let once = PutOptions::default().condition("attribute_not_exists(pk)");
    let r = t.put_item(
        item! { "pk" => "a", "sk" => 1, "state" => "new", "amount" => 99 },
        once.clone()
            .return_values_on_condition_check_failure(ALL_OLD),
    );
    assert_eq!(failed_item(r), Some(existing()));
    // Without the option, no item (DynamoDB's default).
    let r = t.put_item(item! { "pk" => "a", "sk" => 1 }, once);
    assert_eq!(failed_item(r), None);
    assert_eq!(stored(&t), Some(existing()));
}

#[test]
fn a_failed_update_and_delete_return_the_item_and_change_nothing() {
    let (_db, t) = table();
    let r = t.update_item(
        item! { "pk" => "a", "sk" => 1 },
        UpdateOptions::default()
            .update("SET #s = :n")
            .condition("#s = :p")
            .name("#s", "state")
            .value(":n", "running")
            .value(":p", "pending")
            .return_values_on_condition_check_failure(ALL_OLD),
    );
    assert_eq!(failed_item(r), Some(existing()));
    let r = t.delete_item(
        item! { "pk" => "a", "sk" => 1 },
        DeleteOptions::default()
            .condition("amount > :m")
            .value(":m", 100)
            .return_values_on_condition_check_failure(ALL_OLD),
    );
    assert_eq!(failed_item(r), Some(existing()));
    assert_eq!(stored(&t), Some(existing()));
}

#[test]
fn a_condition_failing_on_a_missing_item_returns_no_item() {
    let (_db, t) = table();
    let r = t.update_item(
        item! { "pk" => "a", "sk" => 2 },
        UpdateOptions::default()
            .update("SET amount = :v")
            .value(":v", 1)
            .condition("attribute_exists(pk)")
            .return_values_on_condition_check_failure(ALL_OLD),
    );
    assert_eq!(failed_item(r), None);
    let r = t.delete_item(
        item! { "pk" => "a", "sk" => 2 },
        DeleteOptions::default()
            .condition("attribute_exists(pk)")
            .return_values_on_condition_check_failure(ALL_OLD),
    );
    assert_eq!(failed_item(r), None);
}

#[test]
fn a_passing_condition_is_unaffected_by_the_option() {
    let (_db, t) = table();
    let out = t
        .put_item(
            item! { "pk" => "a", "sk" => 1, "state" => "archived" },
            PutOptions::default()
                .condition("attribute_exists(pk)")
                .return_values_on_condition_check_failure(ALL_OLD),
        )
        .unwrap();
    assert_eq!(out.attributes, None);
    assert_eq!(
        stored(&t),
        Some(item! { "pk" => "a", "sk" => 1, "state" => "archived" })
    );
    let e = t
        .put_item(
            item! { "pk" => "a", "sk" => 1 },
            PutOptions::default()
                .condition("attribute_not_exists(pk)")
                .return_values_on_condition_check_failure(ALL_OLD),
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "The conditional request failed (table requests)"
    );
    assert_eq!(
        ReturnValuesOnConditionCheckFailure::AllOld.name(),
        "ALL_OLD"
    );
    assert_eq!(
        ReturnValuesOnConditionCheckFailure::default().name(),
        "NONE"
    );
}
