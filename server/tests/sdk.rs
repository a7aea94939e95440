//! Integration tests with a real client: `aws-sdk-dynamodb` against a server on a
//! free port, dummy credentials, plain HTTP. On a multi-thread runtime, as `strata
//! serve` runs, so that operations alone in flight run in place (`block_in_place`);
//! `protocol.rs` uses the current-thread runtime, where they go to the blocking pool.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeAction, AttributeDefinition, AttributeValue as Av, AttributeValueUpdate, BillingMode,
    ComparisonOperator, Condition, CreateGlobalSecondaryIndexAction, DeleteRequest,
    ExpectedAttributeValue, GlobalSecondaryIndex, GlobalSecondaryIndexUpdate, KeySchemaElement,
    KeyType, KeysAndAttributes, LocalSecondaryIndex, Projection, ProjectionType,
    ProvisionedThroughput, PutRequest, ReturnConsumedCapacity, ReturnValue,
    ReturnValuesOnConditionCheckFailure, ScalarAttributeType, Select, Tag, WriteRequest,
};
use common::{Running, start, start_with};

fn client(s: &Running) -> Client {
    client_as(s, "AKIDTEST", "secret")
}

fn client_as(s: &Running, key: &str, secret: &str) -> Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(key, secret, None, None, "test"))
        .endpoint_url(format!("http://{}", s.addr))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
        .build();
    Client::from_conf(config)
}

fn attr(name: &str, t: ScalarAttributeType) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(t)
        .build()
        .unwrap()
}

fn key(name: &str, t: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(t)
        .build()
        .unwrap()
}

fn s(v: &str) -> Av {
    Av::S(v.to_owned())
}

fn n(v: i64) -> Av {
    Av::N(v.to_string())
}

/// The error code of a failed call.
fn code<E: ProvideErrorMetadata, R>(e: &aws_sdk_dynamodb::error::SdkError<E, R>) -> String {
    e.as_service_error()
        .and_then(|s| s.code())
        .unwrap_or_else(|| panic!("not a service error"))
        .to_owned()
}

/// A table `pk` (S) + `sk` (N), on demand.
async fn create_composite(c: &Client, name: &str) {
    c.create_table()
        .table_name(name)
        .attribute_definitions(attr("pk", ScalarAttributeType::S))
        .attribute_definitions(attr("sk", ScalarAttributeType::N))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn table_lifecycle_and_description_shape() {
    let srv = start().await;
    let c = client(&srv);
    let out = c
        .create_table()
        .table_name("users")
        .attribute_definitions(attr("id", ScalarAttributeType::S))
        .attribute_definitions(attr("at", ScalarAttributeType::N))
        .attribute_definitions(attr("city", ScalarAttributeType::S))
        .attribute_definitions(attr("email", ScalarAttributeType::S))
        .key_schema(key("id", KeyType::Hash))
        .key_schema(key("at", KeyType::Range))
        .local_secondary_indexes(
            LocalSecondaryIndex::builder()
                .index_name("by_email")
                .key_schema(key("id", KeyType::Hash))
                .key_schema(key("email", KeyType::Range))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::KeysOnly)
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("by_city")
                .key_schema(key("city", KeyType::Hash))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::Include)
                        .non_key_attributes("name")
                        .build(),
                )
                .provisioned_throughput(
                    ProvisionedThroughput::builder()
                        .read_capacity_units(5)
                        .write_capacity_units(5)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .provisioned_throughput(
            ProvisionedThroughput::builder()
                .read_capacity_units(10)
                .write_capacity_units(20)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let d = out.table_description().unwrap();
    assert_eq!(d.table_name(), Some("users"));
    assert_eq!(d.table_status().unwrap().as_str(), "ACTIVE");
    assert_eq!(
        d.table_arn(),
        Some("arn:aws:dynamodb:ddblocal:000000000000:table/users")
    );
    assert_eq!(d.key_schema().len(), 2);
    assert_eq!(d.attribute_definitions().len(), 4);
    let pt = d.provisioned_throughput().unwrap();
    assert_eq!(
        (pt.read_capacity_units(), pt.write_capacity_units()),
        (Some(10), Some(20))
    );
    assert_eq!(
        d.billing_mode_summary()
            .unwrap()
            .billing_mode()
            .unwrap()
            .as_str(),
        "PROVISIONED"
    );
    assert!(d.creation_date_time().is_some());
    let lsi = &d.local_secondary_indexes()[0];
    assert_eq!(lsi.index_name(), Some("by_email"));
    assert_eq!(
        lsi.projection()
            .unwrap()
            .projection_type()
            .unwrap()
            .as_str(),
        "KEYS_ONLY"
    );
    let desc = c.describe_table().table_name("users").send().await.unwrap();
    let t = desc.table().unwrap();
    let gsi = &t.global_secondary_indexes()[0];
    assert_eq!(gsi.index_name(), Some("by_city"));
    assert_eq!(gsi.index_status().unwrap().as_str(), "ACTIVE");
    assert_eq!(gsi.projection().unwrap().non_key_attributes(), ["name"]);
    assert_eq!(
        gsi.provisioned_throughput().unwrap().read_capacity_units(),
        Some(5)
    );
    assert_eq!(gsi.item_count(), Some(0));
    assert_eq!(t.item_count(), Some(0));

    // Creating it again is ResourceInUseException.
    let again = c
        .create_table()
        .table_name("users")
        .attribute_definitions(attr("id", ScalarAttributeType::S))
        .key_schema(key("id", KeyType::Hash))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&again), "ResourceInUseException");

    // Delete: DELETING, then not found.
    let del = c.delete_table().table_name("users").send().await.unwrap();
    assert_eq!(
        del.table_description()
            .unwrap()
            .table_status()
            .unwrap()
            .as_str(),
        "DELETING"
    );
    let gone = c
        .describe_table()
        .table_name("users")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&gone), "ResourceNotFoundException");
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_table_validation() {
    let srv = start().await;
    let c = client(&srv);
    // Provisioned (the default) without throughput.
    let e = c
        .create_table()
        .table_name("t1x")
        .attribute_definitions(attr("id", ScalarAttributeType::S))
        .key_schema(key("id", KeyType::Hash))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");
    // An attribute definition no key uses.
    let e = c
        .create_table()
        .table_name("t1x")
        .attribute_definitions(attr("id", ScalarAttributeType::S))
        .attribute_definitions(attr("other", ScalarAttributeType::S))
        .key_schema(key("id", KeyType::Hash))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");
    assert!(
        e.as_service_error()
            .unwrap()
            .message()
            .unwrap()
            .contains("AttributeDefinitions")
    );
    // A key attribute without a definition.
    let e = c
        .create_table()
        .table_name("t1x")
        .attribute_definitions(attr("id", ScalarAttributeType::S))
        .key_schema(key("nope", KeyType::Hash))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");
    // A bad name.
    let e = c
        .create_table()
        .table_name("a")
        .attribute_definitions(attr("id", ScalarAttributeType::S))
        .key_schema(key("id", KeyType::Hash))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_tables_paginates() {
    let srv = start().await;
    let c = client(&srv);
    for name in ["t_a", "t_b", "t_c", "t_d", "t_e"] {
        create_composite(&c, name).await;
    }
    let mut seen = Vec::new();
    let mut start: Option<String> = None;
    let mut pages = 0;
    loop {
        let out = c
            .list_tables()
            .limit(2)
            .set_exclusive_start_table_name(start.clone())
            .send()
            .await
            .unwrap();
        pages += 1;
        assert!(out.table_names().len() <= 2);
        seen.extend(out.table_names().iter().cloned());
        start = out.last_evaluated_table_name().map(str::to_owned);
        if start.is_none() {
            break;
        }
    }
    assert_eq!(seen, ["t_a", "t_b", "t_c", "t_d", "t_e"]);
    assert_eq!(pages, 3);
    // The SDK's paginator agrees.
    let all: Vec<String> = c
        .list_tables()
        .limit(3)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    assert_eq!(all.len(), 5);
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item_operations_and_return_values() {
    let srv = start().await;
    let c = client(&srv);
    create_composite(&c, "items").await;
    let put = c
        .put_item()
        .table_name("items")
        .item("pk", s("a"))
        .item("sk", n(1))
        .item("v", n(10))
        .item("tags", Av::Ss(vec!["x".into(), "y".into()]))
        .return_values(ReturnValue::AllOld)
        .send()
        .await
        .unwrap();
    assert!(put.attributes().is_none());
    let put = c
        .put_item()
        .table_name("items")
        .item("pk", s("a"))
        .item("sk", n(1))
        .item("v", n(11))
        .return_values(ReturnValue::AllOld)
        .send()
        .await
        .unwrap();
    assert_eq!(put.attributes().unwrap()["v"], n(10));
    // Get with a projection and a reserved word through a name placeholder.
    let got = c
        .get_item()
        .table_name("items")
        .key("pk", s("a"))
        .key("sk", n(1))
        .projection_expression("#v")
        .expression_attribute_names("#v", "v")
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    assert_eq!(got.item().unwrap().len(), 1);
    assert_eq!(got.item().unwrap()["v"], n(11));
    // A missing item: no Item member.
    let none = c
        .get_item()
        .table_name("items")
        .key("pk", s("zz"))
        .key("sk", n(1))
        .send()
        .await
        .unwrap();
    assert!(none.item().is_none());
    // Update: every ReturnValues.
    let cases = [
        (ReturnValue::UpdatedNew, "v", Some(n(12))),
        (ReturnValue::UpdatedOld, "v", Some(n(12))),
        (ReturnValue::AllNew, "pk", Some(s("a"))),
        (ReturnValue::AllOld, "v", Some(n(14))),
        (ReturnValue::None, "v", None),
    ];
    for (rv, attr_name, want) in cases {
        let out = c
            .update_item()
            .table_name("items")
            .key("pk", s("a"))
            .key("sk", n(1))
            .update_expression("ADD v :one")
            .expression_attribute_values(":one", n(1))
            .return_values(rv.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(
            out.attributes().and_then(|a| a.get(attr_name)).cloned(),
            want,
            "{rv:?}"
        );
    }
    // A failed condition, with the item returned.
    let e = c
        .put_item()
        .table_name("items")
        .item("pk", s("a"))
        .item("sk", n(1))
        .condition_expression("attribute_not_exists(pk)")
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ConditionalCheckFailedException");
    let svc = e.into_service_error();
    match svc {
        aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(
            ccf,
        ) => {
            assert_eq!(ccf.item().unwrap()["v"], n(16));
        }
        other => panic!("{other:?}"),
    }
    // Delete with ALL_OLD.
    let del = c
        .delete_item()
        .table_name("items")
        .key("pk", s("a"))
        .key("sk", n(1))
        .return_values(ReturnValue::AllOld)
        .send()
        .await
        .unwrap();
    assert_eq!(del.attributes().unwrap()["v"], n(16));
    // Validation: a key with a wrong type, an invalid ReturnValues for PutItem.
    let e = c
        .get_item()
        .table_name("items")
        .key("pk", n(1))
        .key("sk", n(1))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");
    let e = c
        .put_item()
        .table_name("items")
        .item("pk", s("b"))
        .item("sk", n(1))
        .return_values(ReturnValue::AllNew)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");
    let e = c
        .put_item()
        .table_name("items")
        .item("pk", s("b"))
        .item("sk", n(1))
        .condition_expression("a = ")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_and_scan_paginate() {
    let srv = start().await;
    let c = client(&srv);
    create_composite(&c, "qtab").await;
    for i in 0..30 {
        c.put_item()
            .table_name("qtab")
            .item("pk", s(if i % 3 == 0 { "other" } else { "p" }))
            .item("sk", n(i))
            .item("even", Av::Bool(i % 2 == 0))
            .send()
            .await
            .unwrap();
    }
    // Query "p" (20 items) in pages of 6, descending.
    let mut got = Vec::new();
    let mut start = None;
    loop {
        let out = c
            .query()
            .table_name("qtab")
            .key_condition_expression("pk = :p")
            .expression_attribute_values(":p", s("p"))
            .scan_index_forward(false)
            .limit(6)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        assert!(out.count() <= 6);
        got.extend(
            out.items()
                .iter()
                .map(|i| i["sk"].as_n().unwrap().parse::<i64>().unwrap()),
        );
        start = out.last_evaluated_key().cloned();
        if start.is_none() {
            break;
        }
    }
    let want: Vec<i64> = (0..30).rev().filter(|i| i % 3 != 0).collect();
    assert_eq!(got, want);
    // DescribeTable counts the items.
    let d = c.describe_table().table_name("qtab").send().await.unwrap();
    assert_eq!(d.table().unwrap().item_count(), Some(30));
    assert!(d.table().unwrap().table_size_bytes().unwrap() > 30 * 10);
    // A filter counts and scans.
    let out = c
        .query()
        .table_name("qtab")
        .key_condition_expression("pk = :p AND sk BETWEEN :a AND :b")
        .filter_expression("even = :t")
        .expression_attribute_values(":p", s("p"))
        .expression_attribute_values(":a", n(0))
        .expression_attribute_values(":b", n(9))
        .expression_attribute_values(":t", Av::Bool(true))
        .send()
        .await
        .unwrap();
    // sk in 0..=9 not divisible by 3: 1 2 4 5 7 8; even: 2 4 8.
    assert_eq!((out.count(), out.scanned_count()), (3, 6));
    // Select COUNT: no Items.
    let out = c
        .query()
        .table_name("qtab")
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", s("p"))
        .select(Select::Count)
        .send()
        .await
        .unwrap();
    assert_eq!(out.count(), 20);
    assert!(out.items.is_none());
    // Scan in 3 segments with small pages sees everything once.
    let mut total = 0;
    for seg in 0..3 {
        let mut start = None;
        loop {
            let out = c
                .scan()
                .table_name("qtab")
                .segment(seg)
                .total_segments(3)
                .limit(4)
                .set_exclusive_start_key(start)
                .send()
                .await
                .unwrap();
            total += out.count();
            start = out.last_evaluated_key().cloned();
            if start.is_none() {
                break;
            }
        }
    }
    assert_eq!(total, 30);
    // The SDK's paginator.
    let items: Vec<_> = c
        .scan()
        .table_name("qtab")
        .limit(7)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    assert_eq!(items.len(), 30);
    // Errors: no key condition; a segment outside TotalSegments.
    let e = c.query().table_name("qtab").send().await.unwrap_err();
    assert_eq!(code(&e), "ValidationException");
    let e = c
        .scan()
        .table_name("qtab")
        .segment(3)
        .total_segments(3)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_operations() {
    let srv = start().await;
    let c = client(&srv);
    create_composite(&c, "batch").await;
    let writes: Vec<WriteRequest> = (0..25)
        .map(|i| {
            WriteRequest::builder()
                .put_request(
                    PutRequest::builder()
                        .item("pk", s("k"))
                        .item("sk", n(i))
                        .build()
                        .unwrap(),
                )
                .build()
        })
        .collect();
    let out = c
        .batch_write_item()
        .request_items("batch", writes)
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .unwrap();
    assert!(out.unprocessed_items().unwrap().is_empty());
    let cap = &out.consumed_capacity()[0];
    assert_eq!(cap.table_name(), Some("batch"));
    assert_eq!(cap.capacity_units(), Some(25.0));
    // 26 requests are too many.
    let too_many: Vec<WriteRequest> = (0..26)
        .map(|i| {
            WriteRequest::builder()
                .delete_request(
                    DeleteRequest::builder()
                        .key("pk", s("k"))
                        .key("sk", n(i))
                        .build()
                        .unwrap(),
                )
                .build()
        })
        .collect();
    let e = c
        .batch_write_item()
        .request_items("batch", too_many)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");
    // Batch get: 10 existing, 5 missing keys.
    let mut keys = KeysAndAttributes::builder().projection_expression("sk");
    for i in 20..35 {
        keys = keys.keys(HashMap::from([
            ("pk".to_owned(), s("k")),
            ("sk".to_owned(), n(i)),
        ]));
    }
    let out = c
        .batch_get_item()
        .request_items("batch", keys.build().unwrap())
        .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
        .send()
        .await
        .unwrap();
    let found = &out.responses().unwrap()["batch"];
    assert_eq!(found.len(), 5);
    assert!(found.iter().all(|i| i.len() == 1));
    assert!(out.unprocessed_keys().unwrap().is_empty());
    assert!(out.consumed_capacity()[0].table().is_some());
    // Missing table.
    let e = c
        .batch_get_item()
        .request_items(
            "nope",
            KeysAndAttributes::builder()
                .keys(HashMap::from([("pk".to_owned(), s("k"))]))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ResourceNotFoundException");
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumed_capacity_shapes() {
    let srv = start().await;
    let c = client(&srv);
    c.create_table()
        .table_name("cap")
        .attribute_definitions(attr("pk", ScalarAttributeType::S))
        .attribute_definitions(attr("g", ScalarAttributeType::S))
        .key_schema(key("pk", KeyType::Hash))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("by_g")
                .key_schema(key("g", KeyType::Hash))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    let total = c
        .put_item()
        .table_name("cap")
        .item("pk", s("a"))
        .item("g", s("x"))
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .unwrap();
    let cc = total.consumed_capacity().unwrap();
    assert_eq!(cc.table_name(), Some("cap"));
    assert_eq!(cc.capacity_units(), Some(2.0));
    assert!(cc.table().is_none());
    assert!(cc.global_secondary_indexes().is_none());
    let idx = c
        .put_item()
        .table_name("cap")
        .item("pk", s("b"))
        .item("g", s("y"))
        .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
        .send()
        .await
        .unwrap();
    let cc = idx.consumed_capacity().unwrap();
    assert_eq!(cc.capacity_units(), Some(2.0));
    assert_eq!(cc.table().unwrap().capacity_units(), Some(1.0));
    assert_eq!(
        cc.global_secondary_indexes().unwrap()["by_g"].capacity_units(),
        Some(1.0)
    );
    let none = c
        .get_item()
        .table_name("cap")
        .key("pk", s("a"))
        .send()
        .await
        .unwrap();
    assert!(none.consumed_capacity().is_none());
    let get = c
        .get_item()
        .table_name("cap")
        .key("pk", s("a"))
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .unwrap();
    assert_eq!(get.consumed_capacity().unwrap().capacity_units(), Some(0.5));
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_table_adds_and_removes_a_gsi() {
    let srv = start().await;
    let c = client(&srv);
    create_composite(&c, "utab").await;
    for i in 0..20 {
        c.put_item()
            .table_name("utab")
            .item("pk", s("p"))
            .item("sk", n(i))
            .item("color", s(if i % 2 == 0 { "red" } else { "blue" }))
            .send()
            .await
            .unwrap();
    }
    c.update_table()
        .table_name("utab")
        .attribute_definitions(attr("color", ScalarAttributeType::S))
        .global_secondary_index_updates(
            GlobalSecondaryIndexUpdate::builder()
                .create(
                    CreateGlobalSecondaryIndexAction::builder()
                        .index_name("by_color")
                        .key_schema(key("color", KeyType::Hash))
                        .projection(
                            Projection::builder()
                                .projection_type(ProjectionType::All)
                                .build(),
                        )
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    // Wait (bounded, to detect a hang) for the index to become ACTIVE.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let d = c.describe_table().table_name("utab").send().await.unwrap();
        let g = &d.table().unwrap().global_secondary_indexes()[0];
        if g.index_status().unwrap().as_str() == "ACTIVE" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "index never became ACTIVE"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let mut red = 0;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while red != 10 {
        let out = c
            .query()
            .table_name("utab")
            .index_name("by_color")
            .key_condition_expression("color = :c")
            .expression_attribute_values(":c", s("red"))
            .send()
            .await
            .unwrap();
        red = out.count();
        assert!(
            std::time::Instant::now() < deadline,
            "index never caught up"
        );
    }
    // Billing change to provisioned.
    let out = c
        .update_table()
        .table_name("utab")
        .billing_mode(BillingMode::Provisioned)
        .provisioned_throughput(
            ProvisionedThroughput::builder()
                .read_capacity_units(100)
                .write_capacity_units(100)
                .build()
                .unwrap(),
        )
        .global_secondary_index_updates(
            GlobalSecondaryIndexUpdate::builder()
                .update(
                    aws_sdk_dynamodb::types::UpdateGlobalSecondaryIndexAction::builder()
                        .index_name("by_color")
                        .provisioned_throughput(
                            ProvisionedThroughput::builder()
                                .read_capacity_units(7)
                                .write_capacity_units(7)
                                .build()
                                .unwrap(),
                        )
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await;
    // Both changes applied: the table is provisioned at 100/100, the index at 7/7.
    out.unwrap();
    let d = c.describe_table().table_name("utab").send().await.unwrap();
    let t = d.table().unwrap();
    assert_eq!(
        t.billing_mode_summary()
            .unwrap()
            .billing_mode()
            .unwrap()
            .as_str(),
        "PROVISIONED"
    );
    assert_eq!(
        t.provisioned_throughput().unwrap().read_capacity_units(),
        Some(100)
    );
    let g = &t.global_secondary_indexes()[0];
    assert_eq!(
        g.provisioned_throughput().unwrap().write_capacity_units(),
        Some(7)
    );
    assert_eq!(g.item_count(), Some(20));
    // Remove it.
    c.update_table()
        .table_name("utab")
        .global_secondary_index_updates(
            GlobalSecondaryIndexUpdate::builder()
                .delete(
                    aws_sdk_dynamodb::types::DeleteGlobalSecondaryIndexAction::builder()
                        .index_name("by_color")
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let d = c.describe_table().table_name("utab").send().await.unwrap();
    assert!(d.table().unwrap().global_secondary_indexes().is_empty());
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_parameters() {
    let srv = start().await;
    let c = client(&srv);
    create_composite(&c, "leg").await;
    for i in 0..10 {
        c.put_item()
            .table_name("leg")
            .item("pk", s("p"))
            .item("sk", n(i))
            .item("size", n(i * 10))
            .send()
            .await
            .unwrap();
    }
    // Expected: Exists false fails on an existing item.
    let e = c
        .put_item()
        .table_name("leg")
        .item("pk", s("p"))
        .item("sk", n(1))
        .expected(
            "pk",
            ExpectedAttributeValue::builder().exists(false).build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ConditionalCheckFailedException");
    // Expected with a value that matches.
    c.put_item()
        .table_name("leg")
        .item("pk", s("p"))
        .item("sk", n(1))
        .item("size", n(11))
        .expected(
            "size",
            ExpectedAttributeValue::builder().value(n(10)).build(),
        )
        .send()
        .await
        .unwrap();
    // KeyConditions + QueryFilter + AttributesToGet.
    let cond = |op: ComparisonOperator, vals: Vec<Av>| {
        Condition::builder()
            .comparison_operator(op)
            .set_attribute_value_list(Some(vals))
            .build()
            .unwrap()
    };
    let out = c
        .query()
        .table_name("leg")
        .key_conditions("pk", cond(ComparisonOperator::Eq, vec![s("p")]))
        .key_conditions("sk", cond(ComparisonOperator::Between, vec![n(2), n(7)]))
        .query_filter("size", cond(ComparisonOperator::Ge, vec![n(50)]))
        .attributes_to_get("sk")
        .send()
        .await
        .unwrap();
    assert_eq!((out.count(), out.scanned_count()), (3, 6));
    assert!(
        out.items()
            .iter()
            .all(|i| i.len() == 1 && i.contains_key("sk"))
    );
    // ScanFilter with OR.
    let out = c
        .scan()
        .table_name("leg")
        .scan_filter("sk", cond(ComparisonOperator::Lt, vec![n(2)]))
        .scan_filter("size", cond(ComparisonOperator::Eq, vec![n(90)]))
        .conditional_operator(aws_sdk_dynamodb::types::ConditionalOperator::Or)
        .send()
        .await
        .unwrap();
    assert_eq!(out.count(), 3);
    // AttributeUpdates.
    let out = c
        .update_item()
        .table_name("leg")
        .key("pk", s("p"))
        .key("sk", n(0))
        .attribute_updates(
            "size",
            AttributeValueUpdate::builder()
                .action(AttributeAction::Add)
                .value(n(5))
                .build(),
        )
        .attribute_updates(
            "note",
            AttributeValueUpdate::builder()
                .action(AttributeAction::Put)
                .value(s("hi"))
                .build(),
        )
        .return_values(ReturnValue::AllNew)
        .send()
        .await
        .unwrap();
    let a = out.attributes().unwrap();
    assert_eq!((a["size"].clone(), a["note"].clone()), (n(5), s("hi")));
    // Mixing legacy and expression parameters is refused.
    let e = c
        .get_item()
        .table_name("leg")
        .key("pk", s("p"))
        .key("sk", n(0))
        .attributes_to_get("sk")
        .projection_expression("sk")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_on_a_provisioned_table() {
    let srv = start().await;
    let c = client(&srv);
    c.create_table()
        .table_name("slow")
        .attribute_definitions(attr("pk", ScalarAttributeType::S))
        .key_schema(key("pk", KeyType::Hash))
        .provisioned_throughput(
            ProvisionedThroughput::builder()
                .read_capacity_units(1)
                .write_capacity_units(1)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    // 1 WCU/s with 300 s of burst: a few hundred writes of 1 KB exhaust it.
    let big = "x".repeat(3000);
    let mut throttled = None;
    for i in 0..2000 {
        match c
            .put_item()
            .table_name("slow")
            .item("pk", s(&format!("k{i}")))
            .item("blob", s(&big))
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) => {
                throttled = Some(code(&e));
                break;
            }
        }
    }
    assert_eq!(
        throttled.as_deref(),
        Some("ProvisionedThroughputExceededException")
    );
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_limits_and_endpoints() {
    let srv = start().await;
    let c = client(&srv);
    create_composite(&c, "tagged").await;
    let arn = c
        .describe_table()
        .table_name("tagged")
        .send()
        .await
        .unwrap()
        .table()
        .unwrap()
        .table_arn()
        .unwrap()
        .to_owned();
    c.tag_resource()
        .resource_arn(&arn)
        .tags(Tag::builder().key("env").value("test").build().unwrap())
        .tags(Tag::builder().key("team").value("db").build().unwrap())
        .send()
        .await
        .unwrap();
    let tags = c
        .list_tags_of_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags().len(), 2);
    c.untag_resource()
        .resource_arn(&arn)
        .tag_keys("env")
        .send()
        .await
        .unwrap();
    let tags = c
        .list_tags_of_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags().len(), 1);
    assert_eq!(tags.tags()[0].key(), "team");
    let e = c
        .list_tags_of_resource()
        .resource_arn("arn:aws:dynamodb:ddblocal:000000000000:table/none")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ResourceNotFoundException");
    // Too many tags: refused, and CreateTable creates nothing.
    let mut create = c
        .create_table()
        .table_name("overtagged")
        .attribute_definitions(attr("pk", ScalarAttributeType::S))
        .key_schema(key("pk", KeyType::Hash))
        .billing_mode(BillingMode::PayPerRequest);
    for i in 0..51 {
        create = create.tags(
            Tag::builder()
                .key(format!("k{i}"))
                .value("v")
                .build()
                .unwrap(),
        );
    }
    assert_eq!(
        code(&create.send().await.unwrap_err()),
        "ValidationException"
    );
    let e = c
        .describe_table()
        .table_name("overtagged")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ResourceNotFoundException");
    let limits = c.describe_limits().send().await.unwrap();
    assert_eq!(limits.table_max_read_capacity_units(), Some(40000));
    let ep = c.describe_endpoints().send().await.unwrap();
    assert_eq!(ep.endpoints().len(), 1);
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signatures_are_verified_with_auth() {
    let creds = strata_server::sigv4::Credentials::parse("AKIDGOOD goodsecret").unwrap();
    let srv = start_with(strata_server::ServerConfig {
        auth: Some(std::sync::Arc::new(creds)),
        ..strata_server::ServerConfig::default()
    })
    .await;
    // The right secret: every operation works (body and headers are signed).
    let good = client_as(&srv, "AKIDGOOD", "goodsecret");
    create_composite(&good, "signed").await;
    good.put_item()
        .table_name("signed")
        .item("pk", s("a"))
        .item("sk", n(1))
        .send()
        .await
        .unwrap();
    assert_eq!(
        good.list_tables().send().await.unwrap().table_names(),
        ["signed"]
    );
    // A wrong secret: DynamoDB's InvalidSignatureException.
    let wrong = client_as(&srv, "AKIDGOOD", "badsecret");
    let e = wrong.list_tables().send().await.unwrap_err();
    assert_eq!(code(&e), "InvalidSignatureException");
    // An unknown key: UnrecognizedClientException.
    let stranger = client_as(&srv, "AKIDOTHER", "goodsecret");
    let e = stranger.list_tables().send().await.unwrap_err();
    assert_eq!(code(&e), "UnrecognizedClientException");
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_keys_with_namespaces_see_only_their_tables() {
    let creds =
        strata_server::sigv4::Credentials::parse("TEAM1 s1 team1\nTEAM2 s2 team2\nADMIN s3\n")
            .unwrap();
    let srv = start_with(strata_server::ServerConfig {
        auth: Some(std::sync::Arc::new(creds)),
        ..strata_server::ServerConfig::default()
    })
    .await;
    let one = client_as(&srv, "TEAM1", "s1");
    let two = client_as(&srv, "TEAM2", "s2");
    let admin = client_as(&srv, "ADMIN", "s3");
    create_composite(&one, "orders").await;
    assert!(
        two.list_tables()
            .send()
            .await
            .unwrap()
            .table_names()
            .is_empty()
    );
    create_composite(&two, "orders").await;
    one.put_item()
        .table_name("orders")
        .item("pk", s("a"))
        .item("sk", n(1))
        .send()
        .await
        .unwrap();
    let got = two
        .get_item()
        .table_name("orders")
        .key("pk", s("a"))
        .key("sk", n(1))
        .send()
        .await
        .unwrap();
    assert!(got.item().is_none(), "team2 sees team1's item");
    assert_eq!(
        one.list_tables().send().await.unwrap().table_names(),
        ["orders"]
    );
    assert_eq!(
        admin.list_tables().send().await.unwrap().table_names(),
        ["team1.orders", "team2.orders"]
    );
    // Descriptions, ARNs and consumed capacity use the caller's names.
    let d = one
        .describe_table()
        .table_name("orders")
        .send()
        .await
        .unwrap();
    let t = d.table().unwrap();
    assert_eq!(t.table_name(), Some("orders"));
    let arn = t.table_arn().unwrap().to_owned();
    assert!(arn.ends_with(":table/orders"), "{arn}");
    let out = one
        .batch_write_item()
        .request_items(
            "orders",
            vec![
                WriteRequest::builder()
                    .put_request(
                        PutRequest::builder()
                            .item("pk", s("b"))
                            .item("sk", n(2))
                            .build()
                            .unwrap(),
                    )
                    .build(),
            ],
        )
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .unwrap();
    assert_eq!(out.consumed_capacity()[0].table_name(), Some("orders"));
    one.tag_resource()
        .resource_arn(&arn)
        .tags(Tag::builder().key("k").value("v").build().unwrap())
        .send()
        .await
        .unwrap();
    let theirs = two
        .list_tags_of_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    assert!(
        theirs.tags().is_empty(),
        "the same ARN names team2's own table"
    );
    // Deleting team1's table leaves team2's.
    one.delete_table()
        .table_name("orders")
        .send()
        .await
        .unwrap();
    let e = one
        .describe_table()
        .table_name("orders")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ResourceNotFoundException");
    assert_eq!(
        two.list_tables().send().await.unwrap().table_names(),
        ["orders"]
    );
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item_collection_metrics_for_tables_with_lsis() {
    use aws_sdk_dynamodb::types::ReturnItemCollectionMetrics;
    let srv = start().await;
    let c = client(&srv);
    c.create_table()
        .table_name("coll")
        .attribute_definitions(attr("pk", ScalarAttributeType::S))
        .attribute_definitions(attr("sk", ScalarAttributeType::N))
        .attribute_definitions(attr("x", ScalarAttributeType::S))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .local_secondary_indexes(
            LocalSecondaryIndex::builder()
                .index_name("by_x")
                .key_schema(key("pk", KeyType::Hash))
                .key_schema(key("x", KeyType::Range))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    let out = c
        .put_item()
        .table_name("coll")
        .item("pk", s("a"))
        .item("sk", n(1))
        .item("x", s("v"))
        .return_item_collection_metrics(ReturnItemCollectionMetrics::Size)
        .send()
        .await
        .unwrap();
    let m = out.item_collection_metrics().unwrap();
    assert_eq!(m.item_collection_key().unwrap()["pk"], s("a"));
    assert_eq!(m.size_estimate_range_gb(), [0.0, 1.0]);
    // Not asked: none.
    let out = c
        .delete_item()
        .table_name("coll")
        .key("pk", s("a"))
        .key("sk", n(1))
        .send()
        .await
        .unwrap();
    assert!(out.item_collection_metrics().is_none());
    // A batch: one entry per collection touched.
    let put = |pk: &str, sk: i64| {
        WriteRequest::builder()
            .put_request(
                PutRequest::builder()
                    .item("pk", s(pk))
                    .item("sk", n(sk))
                    .build()
                    .unwrap(),
            )
            .build()
    };
    let out = c
        .batch_write_item()
        .request_items("coll", vec![put("a", 1), put("a", 2), put("b", 1)])
        .return_item_collection_metrics(ReturnItemCollectionMetrics::Size)
        .send()
        .await
        .unwrap();
    assert_eq!(out.item_collection_metrics().unwrap()["coll"].len(), 2);
    // Descriptions count the LSI's entries (only items with `x` have one).
    c.put_item()
        .table_name("coll")
        .item("pk", s("c"))
        .item("sk", n(1))
        .item("x", s("w"))
        .send()
        .await
        .unwrap();
    let d = c.describe_table().table_name("coll").send().await.unwrap();
    let t = d.table().unwrap();
    assert_eq!(t.item_count(), Some(4));
    assert_eq!(t.local_secondary_indexes()[0].item_count(), Some(1));
    assert!(t.local_secondary_indexes()[0].index_size_bytes().unwrap() > 0);
    // A table without LSIs has no item collections to report.
    create_composite(&c, "plain").await;
    let out = c
        .put_item()
        .table_name("plain")
        .item("pk", s("a"))
        .item("sk", n(1))
        .return_item_collection_metrics(ReturnItemCollectionMetrics::Size)
        .send()
        .await
        .unwrap();
    assert!(out.item_collection_metrics().is_none());
    srv.shutdown().await;
}
