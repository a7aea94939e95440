//! Per-operation options and results.
//!
//! Options mirror DynamoDB's request parameters. Expressions are given either as
//! strings (parsed with the request's `names` and `values` placeholders, exactly as
//! DynamoDB's `ExpressionAttributeNames` / `ExpressionAttributeValues`) or already
//! parsed / built in Rust (the `strata_item::expr` types). Every options type is
//! `Default` and has chaining setters:
//!
//! ```
//! use strata_engine::{PutOptions, ReturnValues};
//! let opts = PutOptions::default()
//!     .condition("attribute_not_exists(pk) OR #v < :v")
//!     .name("#v", "version")
//!     .value(":v", 3)
//!     .return_values(ReturnValues::AllOld);
//! assert_eq!(opts.values.len(), 1);
//! ```

use std::collections::{BTreeMap, HashMap};

use strata_item::expr::{
    AttributePath, Condition, KeyCondition, Projection, SortKeyCondition, Update,
};
use strata_item::{AttributeValue, Item, PrimaryKey};

use crate::capacity::ConsumedCapacity;

/// A condition or filter: an expression string, or a built [`Condition`].
#[derive(Debug, Clone, PartialEq)]
pub enum ConditionInput {
    /// A `ConditionExpression` / `FilterExpression` using the options' placeholders.
    Expression(String),
    /// A condition built in Rust (or parsed earlier).
    Typed(Condition),
}

impl From<&str> for ConditionInput {
    fn from(s: &str) -> Self {
        ConditionInput::Expression(s.to_owned())
    }
}
impl From<String> for ConditionInput {
    fn from(s: String) -> Self {
        ConditionInput::Expression(s)
    }
}
impl From<Condition> for ConditionInput {
    fn from(c: Condition) -> Self {
        ConditionInput::Typed(c)
    }
}

/// An update: an `UpdateExpression` string, or an [`Update`] parsed earlier.
#[derive(Debug, Clone, PartialEq)]
pub enum UpdateInput {
    /// An `UpdateExpression` using the options' placeholders.
    Expression(String),
    /// An update parsed earlier (`strata_item::expr::parse_update`).
    Parsed(Update),
}

impl From<&str> for UpdateInput {
    fn from(s: &str) -> Self {
        UpdateInput::Expression(s.to_owned())
    }
}
impl From<String> for UpdateInput {
    fn from(s: String) -> Self {
        UpdateInput::Expression(s)
    }
}
impl From<Update> for UpdateInput {
    fn from(u: Update) -> Self {
        UpdateInput::Parsed(u)
    }
}

/// A projection: a `ProjectionExpression` string, or a built [`Projection`].
#[derive(Debug, Clone, PartialEq)]
pub enum ProjectionInput {
    /// A `ProjectionExpression` using the options' name placeholders.
    Expression(String),
    /// A projection built in Rust.
    Typed(Projection),
}

impl ProjectionInput {
    /// A projection of top-level attributes by name (no expression syntax involved, so
    /// reserved words need no placeholders).
    ///
    /// ```
    /// use strata_engine::ProjectionInput;
    /// let p = ProjectionInput::attributes(["name", "count"]);
    /// # let _ = p;
    /// ```
    pub fn attributes<I, S>(names: I) -> ProjectionInput
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        ProjectionInput::Typed(Projection::new(
            names.into_iter().map(|n| AttributePath::new(n)).collect(),
        ))
    }
}

impl From<&str> for ProjectionInput {
    fn from(s: &str) -> Self {
        ProjectionInput::Expression(s.to_owned())
    }
}
impl From<String> for ProjectionInput {
    fn from(s: String) -> Self {
        ProjectionInput::Expression(s)
    }
}
impl From<Projection> for ProjectionInput {
    fn from(p: Projection) -> Self {
        ProjectionInput::Typed(p)
    }
}

/// A query's key condition: a `KeyConditionExpression` string (placeholders from the
/// query options), or a built [`KeyCondition`].
#[derive(Debug, Clone, PartialEq)]
pub enum KeyConditionInput {
    /// A `KeyConditionExpression`.
    Expression(String),
    /// A key condition built in Rust.
    Typed(KeyCondition),
}

impl KeyConditionInput {
    /// All items with this partition key value.
    pub fn partition(value: impl Into<AttributeValue>) -> KeyConditionInput {
        KeyConditionInput::Typed(KeyCondition {
            partition: value.into(),
            sort: None,
        })
    }

    /// Items with this partition key value whose sort key satisfies `sort`.
    ///
    /// ```
    /// use strata_engine::KeyConditionInput;
    /// use strata_item::expr::SortKeyCondition;
    /// let kc = KeyConditionInput::with_sort("user#1", SortKeyCondition::BeginsWith("2024-".into()));
    /// # let _ = kc;
    /// ```
    pub fn with_sort(
        value: impl Into<AttributeValue>,
        sort: SortKeyCondition,
    ) -> KeyConditionInput {
        KeyConditionInput::Typed(KeyCondition {
            partition: value.into(),
            sort: Some(sort),
        })
    }
}

impl From<&str> for KeyConditionInput {
    fn from(s: &str) -> Self {
        KeyConditionInput::Expression(s.to_owned())
    }
}
impl From<String> for KeyConditionInput {
    fn from(s: String) -> Self {
        KeyConditionInput::Expression(s)
    }
}
impl From<KeyCondition> for KeyConditionInput {
    fn from(k: KeyCondition) -> Self {
        KeyConditionInput::Typed(k)
    }
}

/// An item's primary key: DynamoDB's `Key` map (an item holding exactly the key
/// attributes) or a [`PrimaryKey`].
#[derive(Debug, Clone, PartialEq)]
pub enum KeyInput {
    /// A map of the key attributes.
    Map(Item),
    /// Key values (names come from the table's schema).
    Key(PrimaryKey),
}

impl From<Item> for KeyInput {
    fn from(i: Item) -> Self {
        KeyInput::Map(i)
    }
}
impl From<&Item> for KeyInput {
    fn from(i: &Item) -> Self {
        KeyInput::Map(i.clone())
    }
}
impl From<PrimaryKey> for KeyInput {
    fn from(k: PrimaryKey) -> Self {
        KeyInput::Key(k)
    }
}

/// What a write returns of the item (DynamoDB's `ReturnValues`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum ReturnValues {
    /// Nothing.
    #[default]
    None,
    /// The whole item as it was before (put, update, delete).
    AllOld,
    /// The updated attributes as they were before (update only).
    UpdatedOld,
    /// The whole item as it is after (update only).
    AllNew,
    /// The updated attributes as they are after (update only).
    UpdatedNew,
}

impl ReturnValues {
    /// DynamoDB's name (`NONE`, `ALL_OLD`, ...).
    pub fn name(self) -> &'static str {
        match self {
            ReturnValues::None => "NONE",
            ReturnValues::AllOld => "ALL_OLD",
            ReturnValues::UpdatedOld => "UPDATED_OLD",
            ReturnValues::AllNew => "ALL_NEW",
            ReturnValues::UpdatedNew => "UPDATED_NEW",
        }
    }
}

/// What a write whose condition failed returns in its
/// [`DbError::ConditionalCheckFailed`](crate::DbError::ConditionalCheckFailed)
/// (DynamoDB's `ReturnValuesOnConditionCheckFailure`), set with
/// `return_values_on_condition_check_failure` on [`PutOptions`], [`UpdateOptions`]
/// and [`DeleteOptions`].
///
/// ```
/// use strata_engine::{Db, DbError, PutOptions, ReturnValuesOnConditionCheckFailure, TableSpec};
/// use strata_item::{item, KeySchema, KeyType};
///
/// let db = Db::open_in_memory()?;
/// db.create_table(TableSpec::new("requests", KeySchema::simple("pk", KeyType::S)))?;
/// let requests = db.table("requests")?;
/// let create = || PutOptions::default()
///     .condition("attribute_not_exists(pk)")
///     .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
/// requests.put_item(item! { "pk" => "req-42", "result" => "ok" }, create())?;
/// // The retry learns the first attempt's result without reading it again.
/// match requests.put_item(item! { "pk" => "req-42", "result" => "ok" }, create()) {
///     Err(DbError::ConditionalCheckFailed { item: Some(first), .. }) => {
///         assert_eq!(first.get("result"), Some(&"ok".into()));
///     }
///     other => panic!("{other:?}"),
/// }
/// # Ok::<(), strata_engine::DbError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum ReturnValuesOnConditionCheckFailure {
    /// Nothing (`NONE`).
    #[default]
    None,
    /// The item as it is, if there is one (`ALL_OLD`): an idempotent create learns
    /// what is already there without a second read.
    AllOld,
}

impl ReturnValuesOnConditionCheckFailure {
    /// DynamoDB's name (`NONE` or `ALL_OLD`).
    pub fn name(self) -> &'static str {
        match self {
            ReturnValuesOnConditionCheckFailure::None => "NONE",
            ReturnValuesOnConditionCheckFailure::AllOld => "ALL_OLD",
        }
    }
}

/// Which attributes a query or scan returns (DynamoDB's `Select`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Select {
    /// Whole items (for an index whose projection is not `ALL`, fetched from the table,
    /// which costs extra reads).
    AllAttributes,
    /// What the index holds (index queries only).
    AllProjectedAttributes,
    /// The attributes named by the projection.
    SpecificAttributes,
    /// Only the count of matching items.
    Count,
}

/// Shared by every options type: the placeholders of the request's expressions.
macro_rules! placeholder_setters {
    () => {
        /// Adds an `ExpressionAttributeNames` entry (`#name` -> attribute name).
        #[must_use]
        pub fn name(
            mut self,
            placeholder: impl Into<String>,
            attribute: impl Into<String>,
        ) -> Self {
            self.names.insert(placeholder.into(), attribute.into());
            self
        }

        /// Adds an `ExpressionAttributeValues` entry (`:value` -> value).
        #[must_use]
        pub fn value(
            mut self,
            placeholder: impl Into<String>,
            value: impl Into<AttributeValue>,
        ) -> Self {
            self.values.insert(placeholder.into(), value.into());
            self
        }
    };
}

/// Options of [`crate::Table::put_item`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PutOptions {
    /// Write only if this holds for the existing item (an absent item is empty).
    pub condition: Option<ConditionInput>,
    /// `ExpressionAttributeNames`.
    pub names: HashMap<String, String>,
    /// `ExpressionAttributeValues`.
    pub values: HashMap<String, AttributeValue>,
    /// `NONE` or `ALL_OLD`.
    pub return_values: ReturnValues,
    /// What a failed condition returns in its error (default `NONE`).
    pub return_values_on_condition_check_failure: ReturnValuesOnConditionCheckFailure,
}

impl PutOptions {
    placeholder_setters!();

    /// Sets the condition.
    #[must_use]
    pub fn condition(mut self, c: impl Into<ConditionInput>) -> Self {
        self.condition = Some(c.into());
        self
    }

    /// Sets what is returned.
    #[must_use]
    pub fn return_values(mut self, r: ReturnValues) -> Self {
        self.return_values = r;
        self
    }

    /// Sets what a failed condition returns in its error: with
    /// [`ReturnValuesOnConditionCheckFailure::AllOld`], the item as it is.
    #[must_use]
    pub fn return_values_on_condition_check_failure(
        mut self,
        r: ReturnValuesOnConditionCheckFailure,
    ) -> Self {
        self.return_values_on_condition_check_failure = r;
        self
    }
}

/// Options of [`crate::Table::delete_item`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeleteOptions {
    /// Delete only if this holds for the existing item.
    pub condition: Option<ConditionInput>,
    /// `ExpressionAttributeNames`.
    pub names: HashMap<String, String>,
    /// `ExpressionAttributeValues`.
    pub values: HashMap<String, AttributeValue>,
    /// `NONE` or `ALL_OLD`.
    pub return_values: ReturnValues,
    /// What a failed condition returns in its error (default `NONE`).
    pub return_values_on_condition_check_failure: ReturnValuesOnConditionCheckFailure,
}

impl DeleteOptions {
    placeholder_setters!();

    /// Sets the condition.
    #[must_use]
    pub fn condition(mut self, c: impl Into<ConditionInput>) -> Self {
        self.condition = Some(c.into());
        self
    }

    /// Sets what is returned.
    #[must_use]
    pub fn return_values(mut self, r: ReturnValues) -> Self {
        self.return_values = r;
        self
    }

    /// Sets what a failed condition returns in its error: with
    /// [`ReturnValuesOnConditionCheckFailure::AllOld`], the item as it is.
    #[must_use]
    pub fn return_values_on_condition_check_failure(
        mut self,
        r: ReturnValuesOnConditionCheckFailure,
    ) -> Self {
        self.return_values_on_condition_check_failure = r;
        self
    }
}

/// Options of [`crate::Table::update_item`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UpdateOptions {
    /// The update (without one, `update_item` only makes sure the item exists).
    pub update: Option<UpdateInput>,
    /// Update only if this holds for the existing item.
    pub condition: Option<ConditionInput>,
    /// `ExpressionAttributeNames`.
    pub names: HashMap<String, String>,
    /// `ExpressionAttributeValues`.
    pub values: HashMap<String, AttributeValue>,
    /// Any of the five.
    pub return_values: ReturnValues,
    /// What a failed condition returns in its error (default `NONE`).
    pub return_values_on_condition_check_failure: ReturnValuesOnConditionCheckFailure,
}

impl UpdateOptions {
    placeholder_setters!();

    /// Sets the update.
    #[must_use]
    pub fn update(mut self, u: impl Into<UpdateInput>) -> Self {
        self.update = Some(u.into());
        self
    }

    /// Sets the condition.
    #[must_use]
    pub fn condition(mut self, c: impl Into<ConditionInput>) -> Self {
        self.condition = Some(c.into());
        self
    }

    /// Sets what is returned.
    #[must_use]
    pub fn return_values(mut self, r: ReturnValues) -> Self {
        self.return_values = r;
        self
    }

    /// Sets what a failed condition returns in its error: with
    /// [`ReturnValuesOnConditionCheckFailure::AllOld`], the item as it is.
    #[must_use]
    pub fn return_values_on_condition_check_failure(
        mut self,
        r: ReturnValuesOnConditionCheckFailure,
    ) -> Self {
        self.return_values_on_condition_check_failure = r;
        self
    }
}

/// Options of [`crate::Table::get_item`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GetOptions {
    /// Which attributes to return (all when `None`).
    pub projection: Option<ProjectionInput>,
    /// `ExpressionAttributeNames` (projections take no values).
    pub names: HashMap<String, String>,
    /// Strongly consistent read. Every read of this engine is strongly consistent;
    /// `false` (DynamoDB's default) only halves the capacity charged.
    pub consistent_read: bool,
}

impl GetOptions {
    /// Adds an `ExpressionAttributeNames` entry.
    #[must_use]
    pub fn name(mut self, placeholder: impl Into<String>, attribute: impl Into<String>) -> Self {
        self.names.insert(placeholder.into(), attribute.into());
        self
    }

    /// Sets the projection.
    #[must_use]
    pub fn projection(mut self, p: impl Into<ProjectionInput>) -> Self {
        self.projection = Some(p.into());
        self
    }

    /// Sets `consistent_read`.
    #[must_use]
    pub fn consistent_read(mut self, yes: bool) -> Self {
        self.consistent_read = yes;
        self
    }
}

/// Options of [`crate::Table::query`].
#[derive(Debug, Clone, PartialEq)]
pub struct QueryOptions {
    /// Query this local secondary index instead of the table.
    pub index_name: Option<String>,
    /// Applied after items are read (and after `limit` and the 1 MB page cap).
    pub filter: Option<ConditionInput>,
    /// Which attributes to return.
    pub projection: Option<ProjectionInput>,
    /// What to return; by default whole items for the table, projected items for an
    /// index, or the projection's attributes when there is one.
    pub select: Option<Select>,
    /// `ExpressionAttributeNames`.
    pub names: HashMap<String, String>,
    /// `ExpressionAttributeValues`.
    pub values: HashMap<String, AttributeValue>,
    /// Ascending sort-key order (`true`, the default) or descending.
    pub scan_index_forward: bool,
    /// Most items to *evaluate* (read) in this page, before the filter.
    pub limit: Option<usize>,
    /// Continue after this key (a previous page's `last_evaluated_key`).
    pub exclusive_start_key: Option<Item>,
    /// Strongly consistent read (always true here; `false` halves the charge).
    pub consistent_read: bool,
}

impl Default for QueryOptions {
    fn default() -> Self {
        QueryOptions {
            index_name: None,
            filter: None,
            projection: None,
            select: None,
            names: HashMap::new(),
            values: HashMap::new(),
            scan_index_forward: true,
            limit: None,
            exclusive_start_key: None,
            consistent_read: false,
        }
    }
}

impl QueryOptions {
    placeholder_setters!();

    /// Queries a local secondary index.
    #[must_use]
    pub fn index(mut self, name: impl Into<String>) -> Self {
        self.index_name = Some(name.into());
        self
    }

    /// Sets the filter.
    #[must_use]
    pub fn filter(mut self, c: impl Into<ConditionInput>) -> Self {
        self.filter = Some(c.into());
        self
    }

    /// Sets the projection.
    #[must_use]
    pub fn projection(mut self, p: impl Into<ProjectionInput>) -> Self {
        self.projection = Some(p.into());
        self
    }

    /// Sets `select`.
    #[must_use]
    pub fn select(mut self, s: Select) -> Self {
        self.select = Some(s);
        self
    }

    /// Descending sort-key order.
    #[must_use]
    pub fn reverse(mut self) -> Self {
        self.scan_index_forward = false;
        self
    }

    /// Sets `limit`.
    #[must_use]
    pub fn limit(mut self, n: usize) -> Self {
        self.limit = Some(n);
        self
    }

    /// Sets `exclusive_start_key`.
    #[must_use]
    pub fn start_after(mut self, key: Option<Item>) -> Self {
        self.exclusive_start_key = key;
        self
    }

    /// Sets `consistent_read`.
    #[must_use]
    pub fn consistent_read(mut self, yes: bool) -> Self {
        self.consistent_read = yes;
        self
    }
}

/// Options of [`crate::Table::scan`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScanOptions {
    /// Scan this local secondary index instead of the table.
    pub index_name: Option<String>,
    /// Applied after items are read.
    pub filter: Option<ConditionInput>,
    /// Which attributes to return.
    pub projection: Option<ProjectionInput>,
    /// What to return (see [`QueryOptions::select`]).
    pub select: Option<Select>,
    /// `ExpressionAttributeNames`.
    pub names: HashMap<String, String>,
    /// `ExpressionAttributeValues`.
    pub values: HashMap<String, AttributeValue>,
    /// Most items to evaluate in this page.
    pub limit: Option<usize>,
    /// Continue after this key.
    pub exclusive_start_key: Option<Item>,
    /// This worker's segment, `0..total_segments` (set both or neither).
    pub segment: Option<u32>,
    /// Number of parallel segments, 1 to 1,000,000.
    pub total_segments: Option<u32>,
    /// Strongly consistent read (always true here; `false` halves the charge).
    pub consistent_read: bool,
}

impl ScanOptions {
    placeholder_setters!();

    /// Scans a local secondary index.
    #[must_use]
    pub fn index(mut self, name: impl Into<String>) -> Self {
        self.index_name = Some(name.into());
        self
    }

    /// Sets the filter.
    #[must_use]
    pub fn filter(mut self, c: impl Into<ConditionInput>) -> Self {
        self.filter = Some(c.into());
        self
    }

    /// Sets the projection.
    #[must_use]
    pub fn projection(mut self, p: impl Into<ProjectionInput>) -> Self {
        self.projection = Some(p.into());
        self
    }

    /// Sets `select`.
    #[must_use]
    pub fn select(mut self, s: Select) -> Self {
        self.select = Some(s);
        self
    }

    /// Sets `limit`.
    #[must_use]
    pub fn limit(mut self, n: usize) -> Self {
        self.limit = Some(n);
        self
    }

    /// Sets `exclusive_start_key`.
    #[must_use]
    pub fn start_after(mut self, key: Option<Item>) -> Self {
        self.exclusive_start_key = key;
        self
    }

    /// Scans segment `segment` of `total`.
    #[must_use]
    pub fn segment(mut self, segment: u32, total: u32) -> Self {
        self.segment = Some(segment);
        self.total_segments = Some(total);
        self
    }

    /// Sets `consistent_read`.
    #[must_use]
    pub fn consistent_read(mut self, yes: bool) -> Self {
        self.consistent_read = yes;
        self
    }
}

/// Result of `put_item`.
#[derive(Debug, Clone, PartialEq)]
pub struct PutOutput {
    /// The old item, with `ReturnValues::AllOld` (when there was one).
    pub attributes: Option<Item>,
    /// Capacity consumed.
    pub consumed_capacity: ConsumedCapacity,
}

/// Result of `get_item`.
#[derive(Debug, Clone, PartialEq)]
pub struct GetOutput {
    /// The item (projected), if it exists.
    pub item: Option<Item>,
    /// Capacity consumed.
    pub consumed_capacity: ConsumedCapacity,
}

/// Result of `update_item`.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateOutput {
    /// What `return_values` asked for.
    pub attributes: Option<Item>,
    /// Capacity consumed.
    pub consumed_capacity: ConsumedCapacity,
}

/// Result of `delete_item`.
#[derive(Debug, Clone, PartialEq)]
pub struct DeleteOutput {
    /// The deleted item, with `ReturnValues::AllOld` (when there was one).
    pub attributes: Option<Item>,
    /// Capacity consumed.
    pub consumed_capacity: ConsumedCapacity,
}

/// One page of a query or a scan.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryOutput {
    /// The matching items (empty with `Select::Count`).
    pub items: Vec<Item>,
    /// Number of items that passed the filter.
    pub count: usize,
    /// Number of items evaluated (read) before the filter.
    pub scanned_count: usize,
    /// Where the page stopped when it was cut by `limit` or the 1 MB cap; pass it as
    /// the next page's `exclusive_start_key`. `None`: nothing more to read.
    pub last_evaluated_key: Option<Item>,
    /// Capacity consumed.
    pub consumed_capacity: ConsumedCapacity,
}

/// One page of a scan (the same shape as a query's).
pub type ScanOutput = QueryOutput;

/// The keys to read from one table in `Db::batch_get_item`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchGetRequest {
    /// The keys.
    pub keys: Vec<KeyInput>,
    /// Which attributes to return.
    pub projection: Option<ProjectionInput>,
    /// `ExpressionAttributeNames` for the projection.
    pub names: HashMap<String, String>,
    /// Strongly consistent reads.
    pub consistent_read: bool,
}

impl BatchGetRequest {
    /// A request for these keys.
    pub fn keys<I, K>(keys: I) -> BatchGetRequest
    where
        I: IntoIterator<Item = K>,
        K: Into<KeyInput>,
    {
        BatchGetRequest {
            keys: keys.into_iter().map(Into::into).collect(),
            ..Default::default()
        }
    }
}

/// Result of `Db::batch_get_item`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BatchGetOutput {
    /// Found items by table name (missing items are simply absent).
    pub responses: BTreeMap<String, Vec<Item>>,
    /// Keys not read because the response reached 16 MB or their table's or
    /// partition's read capacity was exhausted; request them again.
    pub unprocessed_keys: BTreeMap<String, BatchGetRequest>,
    /// Capacity consumed, per table.
    pub consumed_capacity: Vec<ConsumedCapacity>,
}

/// One request of `Db::batch_write_item`.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteRequest {
    /// Put this item (no condition).
    Put(Item),
    /// Delete the item with this key.
    Delete(KeyInput),
}

/// Result of `Db::batch_write_item`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BatchWriteOutput {
    /// Requests not applied because their table's, partition's or an index's write
    /// capacity could not absorb them (nothing was written for them); send them
    /// again later, as with DynamoDB's `UnprocessedItems`.
    pub unprocessed_items: BTreeMap<String, Vec<WriteRequest>>,
    /// Capacity consumed, per table.
    pub consumed_capacity: Vec<ConsumedCapacity>,
}
