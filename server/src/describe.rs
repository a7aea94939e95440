//! Tables in DynamoDB's shapes: a [`TableDescription`] as a `TableDescription` JSON
//! object, and `CreateTable`'s key schemas, attribute definitions, indexes and billing
//! settings read into a [`TableSpec`].

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use strata_engine::{
    CapacityMode, GsiDescription, GsiSpec, IndexProjection, IndexStatus, ItemStats, LsiSpec,
    OnDemandThroughput, ProvisionedThroughput, TableDescription, TableSpec,
};
use strata_item::{KeyAttribute, KeySchema, KeyType};

use crate::error::ApiError;
use crate::params::Params;

/// Where a table lives, for ARNs.
#[derive(Debug, Clone)]
pub struct Location {
    /// The region in ARNs (`ddblocal` by default, as DynamoDB Local).
    pub region: String,
    /// The account id in ARNs.
    pub account: String,
}

impl Location {
    /// The table's ARN.
    pub fn table_arn(&self, table: &str) -> String {
        format!(
            "arn:aws:dynamodb:{}:{}:table/{table}",
            self.region, self.account
        )
    }

    /// The table name an ARN names, if it is one of this server's table ARNs.
    pub fn table_of_arn<'a>(&self, arn: &'a str) -> Option<&'a str> {
        let prefix = format!("arn:aws:dynamodb:{}:{}:table/", self.region, self.account);
        arn.strip_prefix(&prefix).filter(|t| !t.contains('/'))
    }
}

/// A table's status as `DescribeTable` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableStatus {
    /// Usable.
    Active,
    /// Returned by `DeleteTable`.
    Deleting,
    /// An index is being added (or the table being changed).
    Updating,
}

impl TableStatus {
    fn name(self) -> &'static str {
        match self {
            TableStatus::Active => "ACTIVE",
            TableStatus::Deleting => "DELETING",
            TableStatus::Updating => "UPDATING",
        }
    }
}

fn key_schema_json(k: &KeySchema) -> Value {
    let mut out = vec![json!({"AttributeName": k.partition_key.name, "KeyType": "HASH"})];
    if let Some(s) = &k.sort_key {
        out.push(json!({"AttributeName": s.name, "KeyType": "RANGE"}));
    }
    Value::Array(out)
}

fn projection_json(p: &IndexProjection) -> Value {
    match p {
        IndexProjection::Include(attrs) => {
            json!({"ProjectionType": "INCLUDE", "NonKeyAttributes": attrs})
        }
        other => json!({"ProjectionType": other.type_name()}),
    }
}

fn throughput_json(read: u64, write: u64) -> Value {
    json!({"NumberOfDecreasesToday": 0, "ReadCapacityUnits": read, "WriteCapacityUnits": write})
}

fn on_demand_json(t: &OnDemandThroughput) -> Value {
    let units = |u: Option<u64>| u.map_or(-1, |u| i64::try_from(u).unwrap_or(i64::MAX));
    json!({
        "MaxReadRequestUnits": units(t.max_read_request_units),
        "MaxWriteRequestUnits": units(t.max_write_request_units),
    })
}

/// `TableDescription` for `d`, under the table name `shown` (the caller's).
/// `counts`: the table's (and its LSIs') item counts and sizes, zero when not known.
pub fn table_description(
    d: &TableDescription,
    shown: &str,
    status: TableStatus,
    loc: &Location,
    counts: &ItemStats,
) -> Value {
    let spec = &d.spec;
    let arn = loc.table_arn(shown);
    let created = d.created_at_ms as f64 / 1000.0;
    // Every key attribute of the table and its indexes, once, in order of appearance.
    let mut defs: Vec<&KeyAttribute> = Vec::new();
    let all = spec
        .key_schema
        .attributes()
        .chain(spec.local_secondary_indexes.iter().map(|l| &l.sort_key))
        .chain(
            spec.global_secondary_indexes
                .iter()
                .flat_map(|g| g.key_schema.attributes()),
        );
    for a in all {
        if !defs.iter().any(|d| d.name == a.name) {
            defs.push(a);
        }
    }
    let attribute_definitions: Vec<Value> = defs
        .iter()
        .map(|a| json!({"AttributeName": a.name, "AttributeType": a.key_type.name()}))
        .collect();
    let (read, write) = match spec.capacity {
        CapacityMode::Provisioned {
            read_capacity_units,
            write_capacity_units,
        } => (read_capacity_units, write_capacity_units),
        CapacityMode::OnDemand => (0, 0),
    };
    let mut m = Map::new();
    m.insert(
        "AttributeDefinitions".into(),
        Value::Array(attribute_definitions),
    );
    m.insert("TableName".into(), json!(shown));
    m.insert("KeySchema".into(), key_schema_json(&spec.key_schema));
    m.insert("TableStatus".into(), json!(status.name()));
    m.insert("CreationDateTime".into(), json!(created));
    m.insert("ProvisionedThroughput".into(), throughput_json(read, write));
    m.insert("TableSizeBytes".into(), json!(counts.bytes));
    m.insert("ItemCount".into(), json!(counts.items));
    m.insert("TableArn".into(), json!(arn));
    m.insert(
        "TableId".into(),
        json!(format!("00000000-0000-4000-8000-{:012x}", d.table_id)),
    );
    let mut billing = Map::new();
    billing.insert(
        "BillingMode".into(),
        json!(spec.capacity.billing_mode_name()),
    );
    if spec.capacity == CapacityMode::OnDemand {
        billing.insert("LastUpdateToPayPerRequestDateTime".into(), json!(created));
        m.insert(
            "OnDemandThroughput".into(),
            on_demand_json(&spec.on_demand_throughput),
        );
    }
    m.insert("BillingModeSummary".into(), Value::Object(billing));
    m.insert("DeletionProtectionEnabled".into(), json!(false));
    if !spec.local_secondary_indexes.is_empty() {
        let lsis: Vec<Value> = spec
            .local_secondary_indexes
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let (items, bytes) = counts
                    .local_secondary_indexes
                    .get(i)
                    .copied()
                    .unwrap_or_default();
                let ks = KeySchema {
                    partition_key: spec.key_schema.partition_key.clone(),
                    sort_key: Some(l.sort_key.clone()),
                };
                json!({
                    "IndexName": l.name,
                    "KeySchema": key_schema_json(&ks),
                    "Projection": projection_json(&l.projection),
                    "IndexSizeBytes": bytes,
                    "ItemCount": items,
                    "IndexArn": format!("{arn}/index/{}", l.name),
                })
            })
            .collect();
        m.insert("LocalSecondaryIndexes".into(), Value::Array(lsis));
    }
    if !spec.global_secondary_indexes.is_empty() {
        let described: BTreeMap<&str, &GsiDescription> = d
            .global_secondary_indexes
            .iter()
            .map(|g| (g.name.as_str(), g))
            .collect();
        let gsis: Vec<Value> = spec
            .global_secondary_indexes
            .iter()
            .map(|g| {
                gsi_json(
                    g,
                    described.get(g.name.as_str()).copied(),
                    &spec.capacity,
                    &arn,
                )
            })
            .collect();
        m.insert("GlobalSecondaryIndexes".into(), Value::Array(gsis));
    }
    Value::Object(m)
}

fn gsi_json(
    g: &GsiSpec,
    described: Option<&GsiDescription>,
    mode: &CapacityMode,
    table_arn: &str,
) -> Value {
    let (read, write) = match (mode, g.provisioned_throughput) {
        (CapacityMode::OnDemand, _) => (0, 0),
        (_, Some(t)) => (t.read_capacity_units, t.write_capacity_units),
        (
            CapacityMode::Provisioned {
                read_capacity_units,
                write_capacity_units,
            },
            None,
        ) => (*read_capacity_units, *write_capacity_units),
    };
    let creating = described.is_some_and(|d| d.status == IndexStatus::Creating);
    let mut m = Map::new();
    m.insert("IndexName".into(), json!(g.name));
    m.insert("KeySchema".into(), key_schema_json(&g.key_schema));
    m.insert("Projection".into(), projection_json(&g.projection));
    m.insert(
        "IndexStatus".into(),
        json!(if creating { "CREATING" } else { "ACTIVE" }),
    );
    if creating {
        m.insert("Backfilling".into(), json!(true));
    }
    m.insert("ProvisionedThroughput".into(), throughput_json(read, write));
    m.insert(
        "IndexSizeBytes".into(),
        json!(described.map_or(0, |d| d.size_bytes)),
    );
    m.insert(
        "ItemCount".into(),
        json!(described.map_or(0, |d| d.item_count)),
    );
    m.insert(
        "IndexArn".into(),
        json!(format!("{table_arn}/index/{}", g.name)),
    );
    Value::Object(m)
}

/// `AttributeDefinitions`: attribute name to type.
pub fn attribute_definitions(p: &Params<'_>) -> Result<BTreeMap<String, KeyType>, ApiError> {
    let mut out = BTreeMap::new();
    for d in p.obj_list("AttributeDefinitions")?.unwrap_or_default() {
        let name = d.req_str("AttributeName", "attributeDefinitions.member.attributeName")?;
        let ty = match d.enum_str(
            "AttributeType",
            "attributeDefinitions.member.attributeType",
            &["B", "N", "S"],
        )? {
            Some("S") => KeyType::S,
            Some("N") => KeyType::N,
            Some(_) => KeyType::B,
            None => {
                return Err(ApiError::missing(
                    "attributeDefinitions.member.attributeType",
                ));
            }
        };
        if out.insert(name.to_owned(), ty).is_some() {
            return Err(ApiError::validation(format!(
                "Cannot have two attributes with the same name: {name}"
            )));
        }
    }
    Ok(out)
}

/// A `KeySchema` member (of the table or an index) with types from `defs`; records
/// the attributes it uses in `used`.
pub fn key_schema(
    p: &Params<'_>,
    member: &str,
    defs: &BTreeMap<String, KeyType>,
    used: &mut Vec<String>,
) -> Result<KeySchema, ApiError> {
    let elems = p
        .obj_list("KeySchema")?
        .ok_or_else(|| ApiError::missing(member))?;
    if elems.is_empty() || elems.len() > 2 {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{}' at '{member}' failed to satisfy constraint: Member must have length less than or equal to 2 and greater than or equal to 1",
            elems.len()
        )));
    }
    let mut attrs = Vec::new();
    for (i, e) in elems.iter().enumerate() {
        let name = e.req_str("AttributeName", &format!("{member}.member.attributeName"))?;
        let kt = e
            .enum_str(
                "KeyType",
                &format!("{member}.member.keyType"),
                &["HASH", "RANGE"],
            )?
            .ok_or_else(|| ApiError::missing(&format!("{member}.member.keyType")))?;
        let want = if i == 0 { "HASH" } else { "RANGE" };
        if kt != want {
            return Err(ApiError::validation(if i == 0 {
                "Invalid KeySchema: The first KeySchemaElement is not a HASH key type"
            } else {
                "Invalid KeySchema: The second KeySchemaElement is not a RANGE key type"
            }));
        }
        let ty = defs.get(name).copied().ok_or_else(|| {
            ApiError::validation(format!(
                "One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: [{name}], AttributeDefinitions: [{}]",
                defs.keys().cloned().collect::<Vec<_>>().join(", ")
            ))
        })?;
        if !used.iter().any(|u| u == name) {
            used.push(name.to_owned());
        }
        attrs.push(KeyAttribute::new(name, ty));
    }
    let mut it = attrs.into_iter();
    let partition_key = it.next().ok_or_else(|| ApiError::missing(member))?;
    let sort_key = it.next();
    if sort_key
        .as_ref()
        .is_some_and(|s| s.name == partition_key.name)
    {
        return Err(ApiError::validation(
            "Invalid KeySchema: Some index key attribute have no definition",
        ));
    }
    Ok(KeySchema {
        partition_key,
        sort_key,
    })
}

/// A `Projection` member.
pub fn projection(p: &Params<'_>, member: &str) -> Result<IndexProjection, ApiError> {
    let proj = p
        .obj("Projection")?
        .ok_or_else(|| ApiError::missing(member))?;
    let ty = proj.enum_str(
        "ProjectionType",
        &format!("{member}.projectionType"),
        &["ALL", "KEYS_ONLY", "INCLUDE"],
    )?;
    let non_key = proj.str_list("NonKeyAttributes")?;
    match (ty, non_key) {
        (Some("INCLUDE"), Some(attrs)) => Ok(IndexProjection::Include(
            attrs.into_iter().map(str::to_owned).collect(),
        )),
        (Some("INCLUDE"), None) => Err(ApiError::validation(
            "One or more parameter values were invalid: NonKeyAttributes must not be empty when ProjectionType is INCLUDE",
        )),
        (Some(t), Some(_)) => Err(ApiError::validation(format!(
            "One or more parameter values were invalid: ProjectionType is {t}, but NonKeyAttributes is specified"
        ))),
        (Some("KEYS_ONLY"), None) => Ok(IndexProjection::KeysOnly),
        (Some(_), None) => Ok(IndexProjection::All),
        (None, _) => Err(ApiError::validation(
            "One or more parameter values were invalid: Unknown ProjectionType: null",
        )),
    }
}

/// A `ProvisionedThroughput` member, if present.
pub fn provisioned_throughput(
    p: &Params<'_>,
    member: &str,
) -> Result<Option<ProvisionedThroughput>, ApiError> {
    let Some(t) = p.obj("ProvisionedThroughput")? else {
        return Ok(None);
    };
    let units = |name: &str, m: &str| -> Result<u64, ApiError> {
        let v = t
            .int(name)?
            .ok_or_else(|| ApiError::missing(&format!("{member}.{m}")))?;
        u64::try_from(v)
            .ok()
            .filter(|&u| u >= 1)
            .ok_or_else(|| {
                ApiError::validation(format!(
                    "1 validation error detected: Value '{v}' at '{member}.{m}' failed to satisfy constraint: Member must have value greater than or equal to 1"
                ))
            })
    };
    Ok(Some(ProvisionedThroughput::new(
        units("ReadCapacityUnits", "readCapacityUnits")?,
        units("WriteCapacityUnits", "writeCapacityUnits")?,
    )))
}

/// An `OnDemandThroughput` member, if present (`-1` or absent: no maximum).
pub fn on_demand_throughput(p: &Params<'_>) -> Result<Option<OnDemandThroughput>, ApiError> {
    let Some(t) = p.obj("OnDemandThroughput")? else {
        return Ok(None);
    };
    let units = |name: &str| -> Result<Option<u64>, ApiError> {
        match t.int(name)? {
            None | Some(-1) => Ok(None),
            Some(v) => u64::try_from(v).ok().filter(|&u| u >= 1).map(Some).ok_or_else(|| {
                ApiError::validation(format!(
                    "One or more parameter values were invalid: {name} must be -1 or at least 1, got {v}"
                ))
            }),
        }
    };
    Ok(Some(OnDemandThroughput {
        max_read_request_units: units("MaxReadRequestUnits")?,
        max_write_request_units: units("MaxWriteRequestUnits")?,
    }))
}

/// The billing mode of a `CreateTable` / `UpdateTable` request: `BillingMode` with
/// `ProvisionedThroughput`. `default`: the mode when `BillingMode` is absent.
pub fn billing(p: &Params<'_>, default: &str) -> Result<Option<CapacityMode>, ApiError> {
    let mode = p.enum_str(
        "BillingMode",
        "billingMode",
        &["PROVISIONED", "PAY_PER_REQUEST"],
    )?;
    let throughput = provisioned_throughput(p, "provisionedThroughput")?;
    match (mode.unwrap_or(default), throughput) {
        ("PAY_PER_REQUEST", Some(_)) => Err(ApiError::validation(
            "One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
        )),
        ("PAY_PER_REQUEST", None) if mode.is_some() || default == "PAY_PER_REQUEST" => {
            Ok(Some(CapacityMode::OnDemand))
        }
        ("PROVISIONED", Some(t)) => Ok(Some(CapacityMode::provisioned(
            t.read_capacity_units,
            t.write_capacity_units,
        ))),
        ("PROVISIONED", None) if mode.is_some() || default == "PROVISIONED" => {
            Err(ApiError::validation(
                "One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED",
            ))
        }
        _ => Ok(None),
    }
}

/// The [`TableSpec`] a `CreateTable` request describes (`AttributeDefinitions`,
/// `KeySchema`, `LocalSecondaryIndexes`, `GlobalSecondaryIndexes`, `BillingMode`,
/// `ProvisionedThroughput`, `OnDemandThroughput`), for a table named `name`, with
/// DynamoDB's validation messages. Other members (`TableName`, tags, streams) are
/// not read. Used by `CreateTable` and by `strata import --schema`.
///
/// ```
/// use serde_json::json;
/// use strata_server::describe::table_spec;
/// use strata_server::params::Params;
///
/// let req = json!({
///     "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
///     "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
///     "BillingMode": "PAY_PER_REQUEST"
/// });
/// let spec = table_spec(&Params::root(&req)?, "users")?;
/// assert_eq!(spec.key_schema.partition_key.name, "id");
/// # Ok::<(), strata_server::error::ApiError>(())
/// ```
///
/// # Errors
/// A validation error naming the member at fault.
pub fn table_spec(p: &Params<'_>, name: &str) -> Result<TableSpec, ApiError> {
    if !p.has("AttributeDefinitions") {
        return Err(ApiError::missing("attributeDefinitions"));
    }
    let defs = attribute_definitions(p)?;
    let mut used = Vec::new();
    let ks = key_schema(p, "keySchema", &defs, &mut used)?;
    let mut spec = TableSpec::new(name, ks.clone());
    for l in p.obj_list("LocalSecondaryIndexes")?.unwrap_or_default() {
        spec = spec.lsi(lsi_spec(&l, &ks, &defs, &mut used)?);
    }
    for g in p.obj_list("GlobalSecondaryIndexes")?.unwrap_or_default() {
        spec = spec.gsi(gsi_spec(
            &g,
            "globalSecondaryIndexes.member",
            &defs,
            &mut used,
        )?);
    }
    if used.len() != defs.len() {
        return Err(ApiError::validation(
            "One or more parameter values were invalid: Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions",
        ));
    }
    let mode = billing(p, "PROVISIONED")?.unwrap_or(CapacityMode::OnDemand);
    if mode == CapacityMode::OnDemand
        && spec
            .global_secondary_indexes
            .iter()
            .any(|g| g.provisioned_throughput.is_some())
    {
        return Err(ApiError::validation(
            "One or more parameter values were invalid: ProvisionedThroughput should not be specified for index when BillingMode is PAY_PER_REQUEST",
        ));
    }
    if mode != CapacityMode::OnDemand
        && let Some(g) = spec
            .global_secondary_indexes
            .iter()
            .find(|g| g.provisioned_throughput.is_none())
    {
        return Err(ApiError::validation(format!(
            "One or more parameter values were invalid: ProvisionedThroughput must be specified for index: {}",
            g.name
        )));
    }
    spec = spec.capacity(mode);
    if let Some(t) = on_demand_throughput(p)? {
        spec = spec.on_demand_throughput(t);
    }
    Ok(spec)
}

/// A `GlobalSecondaryIndexes` element (or a `Create` of `UpdateTable`).
pub fn gsi_spec(
    g: &Params<'_>,
    member: &str,
    defs: &BTreeMap<String, KeyType>,
    used: &mut Vec<String>,
) -> Result<GsiSpec, ApiError> {
    let name = g.req_str("IndexName", &format!("{member}.indexName"))?;
    let ks = key_schema(g, &format!("{member}.keySchema"), defs, used)?;
    let mut spec =
        GsiSpec::new(name, ks).projection(projection(g, &format!("{member}.projection"))?);
    if let Some(t) = provisioned_throughput(g, &format!("{member}.provisionedThroughput"))? {
        spec = spec.provisioned(t);
    }
    Ok(spec)
}

/// A `LocalSecondaryIndexes` element.
pub fn lsi_spec(
    l: &Params<'_>,
    table_key: &KeySchema,
    defs: &BTreeMap<String, KeyType>,
    used: &mut Vec<String>,
) -> Result<LsiSpec, ApiError> {
    let member = "localSecondaryIndexes.member";
    let name = l.req_str("IndexName", &format!("{member}.indexName"))?;
    let ks = key_schema(l, &format!("{member}.keySchema"), defs, used)?;
    if ks.partition_key.name != table_key.partition_key.name {
        return Err(ApiError::validation(format!(
            "One or more parameter values were invalid: Index KeySchema does not have the same leading hash key as table KeySchema for index: {name}. index hash key: {}, table hash key: {}",
            ks.partition_key.name, table_key.partition_key.name
        )));
    }
    let Some(sort) = ks.sort_key else {
        return Err(ApiError::validation(format!(
            "One or more parameter values were invalid: Index KeySchema does not have a range key for index: {name}"
        )));
    };
    Ok(LsiSpec::new(name, sort.name, sort.key_type)
        .projection(projection(l, &format!("{member}.projection"))?))
}
