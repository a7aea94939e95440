//! How two table specs differ, in words: what [`crate::Db::ensure_table`] reports when
//! a table exists with another schema. Pure: takes the two specs, returns one line per
//! difference.

use std::collections::BTreeMap;

use strata_item::{KeyAttribute, KeySchema};

use super::spec::{GsiSpec, IndexProjection, LsiSpec, TableSpec};
use crate::capacity::CapacityMode;

fn attr(a: &KeyAttribute) -> String {
    format!("{} ({})", a.name, a.key_type)
}

/// `pk (S)` or `pk (S), sort key sk (N)`.
fn schema(k: &KeySchema) -> String {
    match &k.sort_key {
        Some(s) => format!(
            "partition key {}, sort key {}",
            attr(&k.partition_key),
            attr(s)
        ),
        None => format!("partition key {}, no sort key", attr(&k.partition_key)),
    }
}

fn projection(p: &IndexProjection) -> String {
    match p {
        IndexProjection::Include(names) => format!("INCLUDE [{}]", names.join(", ")),
        p => p.type_name().to_owned(),
    }
}

fn billing(c: &CapacityMode) -> String {
    match c {
        CapacityMode::OnDemand => "on demand".to_owned(),
        CapacityMode::Provisioned {
            read_capacity_units,
            write_capacity_units,
        } => format!("provisioned {read_capacity_units} RCU / {write_capacity_units} WCU"),
    }
}

fn limit(v: Option<u64>) -> String {
    v.map_or_else(|| "none".to_owned(), |n| n.to_string())
}

fn differ<T: PartialEq>(
    out: &mut Vec<String>,
    what: &str,
    have: &T,
    want: &T,
    show: impl Fn(&T) -> String,
) {
    if have != want {
        out.push(format!(
            "{what}: the table has {}, the spec {}",
            show(have),
            show(want)
        ));
    }
}

fn lsi_diff(out: &mut Vec<String>, have: &[LsiSpec], want: &[LsiSpec]) {
    let have: BTreeMap<&str, &LsiSpec> = have.iter().map(|l| (l.name.as_str(), l)).collect();
    let want: BTreeMap<&str, &LsiSpec> = want.iter().map(|l| (l.name.as_str(), l)).collect();
    for (name, w) in &want {
        match have.get(name) {
            None => out.push(format!(
                "local secondary index {name}: in the spec, not in the table (an LSI can only be created with its table)"
            )),
            Some(h) => {
                let what = format!("local secondary index {name} sort key");
                differ(out, &what, &h.sort_key, &w.sort_key, attr);
                let what = format!("local secondary index {name} projection");
                differ(out, &what, &h.projection, &w.projection, projection);
            }
        }
    }
    for name in have.keys().filter(|n| !want.contains_key(*n)) {
        out.push(format!(
            "local secondary index {name}: in the table, not in the spec"
        ));
    }
}

fn gsi_diff(out: &mut Vec<String>, have: &[GsiSpec], want: &[GsiSpec]) {
    let have: BTreeMap<&str, &GsiSpec> = have.iter().map(|g| (g.name.as_str(), g)).collect();
    let want: BTreeMap<&str, &GsiSpec> = want.iter().map(|g| (g.name.as_str(), g)).collect();
    for (name, w) in &want {
        match have.get(name) {
            None => out.push(format!(
                "global secondary index {name}: in the spec, not in the table (add it with Db::update_table)"
            )),
            Some(h) => {
                let what = format!("global secondary index {name} key schema");
                differ(out, &what, &h.key_schema, &w.key_schema, schema);
                let what = format!("global secondary index {name} projection");
                differ(out, &what, &h.projection, &w.projection, projection);
                let what = format!("global secondary index {name} partitions");
                differ(out, &what, &h.partitions, &w.partitions, u32::to_string);
                let what = format!("global secondary index {name} provisioned throughput");
                differ(out, &what, &h.provisioned_throughput, &w.provisioned_throughput, |t| {
                    t.map_or_else(
                        || "none".to_owned(),
                        |t| format!("{} RCU / {} WCU", t.read_capacity_units, t.write_capacity_units),
                    )
                });
            }
        }
    }
    for name in have.keys().filter(|n| !want.contains_key(*n)) {
        out.push(format!(
            "global secondary index {name}: in the table, not in the spec (remove it with Db::update_table)"
        ));
    }
}

/// Every way `want` differs from the table's spec `have`, one sentence each, in a
/// fixed order (key schema, partitions, LSIs, GSIs, durability, billing); empty when
/// they describe the same table. Indexes are matched by name, so their order in the
/// spec does not matter.
pub(crate) fn spec_differences(have: &TableSpec, want: &TableSpec) -> Vec<String> {
    let mut out = Vec::new();
    differ(
        &mut out,
        "key schema",
        &have.key_schema,
        &want.key_schema,
        schema,
    );
    differ(
        &mut out,
        "partitions",
        &have.partitions,
        &want.partitions,
        u32::to_string,
    );
    lsi_diff(
        &mut out,
        &have.local_secondary_indexes,
        &want.local_secondary_indexes,
    );
    gsi_diff(
        &mut out,
        &have.global_secondary_indexes,
        &want.global_secondary_indexes,
    );
    differ(
        &mut out,
        "durability",
        &have.durability,
        &want.durability,
        |d| format!("{d:?}"),
    );
    differ(
        &mut out,
        "billing mode",
        &have.capacity,
        &want.capacity,
        billing,
    );
    differ(
        &mut out,
        "on-demand maximum throughput",
        &have.on_demand_throughput,
        &want.on_demand_throughput,
        |t| {
            format!(
                "{} read / {} write request units",
                limit(t.max_read_request_units),
                limit(t.max_write_request_units)
            )
        },
    );
    out
}

#[cfg(test)]
mod tests {
    use strata_item::{KeySchema, KeyType};

    use super::*;
    use crate::capacity::ProvisionedThroughput;
    use crate::table::spec::TableDurability;

    fn base() -> TableSpec {
        TableSpec::new(
            "t",
            KeySchema::composite("pk", KeyType::S, "sk", KeyType::N),
        )
        .lsi(LsiSpec::new("l1", "a", KeyType::S))
        .lsi(LsiSpec::new("l2", "b", KeyType::N))
        .gsi(GsiSpec::new("g1", KeySchema::simple("c", KeyType::S)).partitions(4))
        .gsi(GsiSpec::new("g2", KeySchema::simple("d", KeyType::N)))
    }

    #[test]
    fn the_same_spec_has_no_difference_whatever_the_index_order() {
        assert!(spec_differences(&base(), &base()).is_empty());
        let mut reordered = base();
        reordered.local_secondary_indexes.reverse();
        reordered.global_secondary_indexes.reverse();
        assert!(spec_differences(&base(), &reordered).is_empty());
    }

    #[test]
    fn every_difference_is_named() {
        let mut want = base();
        want.key_schema = KeySchema::composite("pk", KeyType::S, "sk", KeyType::S);
        want.partitions = 8;
        want.local_secondary_indexes.remove(1);
        want.local_secondary_indexes[0].projection = IndexProjection::KeysOnly;
        want.local_secondary_indexes
            .push(LsiSpec::new("l3", "e", KeyType::B));
        want.global_secondary_indexes[0].partitions = 2;
        want.global_secondary_indexes[1].key_schema = KeySchema::simple("d", KeyType::S);
        want.global_secondary_indexes[1].provisioned_throughput =
            Some(ProvisionedThroughput::new(5, 6));
        want.global_secondary_indexes
            .push(GsiSpec::new("g3", KeySchema::simple("f", KeyType::S)));
        want.durability = TableDurability::Buffered;
        want.capacity = CapacityMode::Provisioned {
            read_capacity_units: 10,
            write_capacity_units: 20,
        };
        want.on_demand_throughput.max_read_request_units = Some(7);
        let d = spec_differences(&base(), &want);
        assert_eq!(
            d,
            vec![
                "key schema: the table has partition key pk (S), sort key sk (N), the spec partition key pk (S), sort key sk (S)",
                "partitions: the table has 4, the spec 8",
                "local secondary index l1 projection: the table has ALL, the spec KEYS_ONLY",
                "local secondary index l3: in the spec, not in the table (an LSI can only be created with its table)",
                "local secondary index l2: in the table, not in the spec",
                "global secondary index g1 partitions: the table has 4, the spec 2",
                "global secondary index g2 key schema: the table has partition key d (N), no sort key, the spec partition key d (S), no sort key",
                "global secondary index g2 provisioned throughput: the table has none, the spec 5 RCU / 6 WCU",
                "global secondary index g3: in the spec, not in the table (add it with Db::update_table)",
                "durability: the table has Sync, the spec Buffered",
                "billing mode: the table has on demand, the spec provisioned 10 RCU / 20 WCU",
                "on-demand maximum throughput: the table has none read / none write request units, the spec 7 read / none write request units",
            ]
        );
    }

    #[test]
    fn a_removed_gsi_and_a_changed_lsi_sort_key_are_named() {
        let mut want = base();
        want.global_secondary_indexes.truncate(1);
        want.local_secondary_indexes[1] = LsiSpec::new("l2", "b", KeyType::S);
        assert_eq!(
            spec_differences(&base(), &want),
            vec![
                "local secondary index l2 sort key: the table has b (N), the spec b (S)",
                "global secondary index g2: in the table, not in the spec (remove it with Db::update_table)",
            ]
        );
    }
}
