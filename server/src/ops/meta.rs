//! `DescribeLimits`, `DescribeEndpoints`, and tags: `TagResource`, `UntagResource`,
//! `ListTagsOfResource`.

use serde_json::{Value, json};

use super::Cx;
use crate::error::ApiError;
use crate::params::Params;

/// Most tags per table (DynamoDB's quota).
const MAX_TAGS: usize = 50;

pub fn describe_limits() -> Value {
    json!({
        "AccountMaxReadCapacityUnits": 80000,
        "AccountMaxWriteCapacityUnits": 80000,
        "TableMaxReadCapacityUnits": 40000,
        "TableMaxWriteCapacityUnits": 40000,
    })
}

pub fn describe_endpoints(host: &str) -> Value {
    json!({"Endpoints": [{"Address": host, "CachePeriodInMinutes": 1440}]})
}

/// The table (engine name) a `ResourceArn` names.
fn resource(cx: &Cx<'_>, p: &Params<'_>) -> Result<String, ApiError> {
    let arn = p.req_str("ResourceArn", "resourceArn")?;
    let Some(table) = cx.st.loc.table_of_arn(arn) else {
        return Err(ApiError::validation(format!("Invalid TableArn: {arn}")));
    };
    let table = cx
        .ns()
        .to_engine(table)
        .map_err(|_| ApiError::validation(format!("Invalid TableArn: {arn}")))?;
    match cx.st.db.describe_table(&table) {
        Ok(_) => Ok(table),
        Err(strata_engine::DbError::TableNotFound { .. }) => Err(ApiError::not_found(format!(
            "Requested resource not found: ResourcArn: {arn} not found"
        ))),
        Err(e) if e.is_validation() => {
            Err(ApiError::validation(format!("Invalid TableArn: {arn}")))
        }
        Err(e) => Err(ApiError::from_db(e, false)),
    }
}

/// Reads `Tags` (`[{Key, Value}]`) with DynamoDB's length rules.
pub fn read_tags(p: &Params<'_>) -> Result<Vec<(String, String)>, ApiError> {
    let mut out = Vec::new();
    for t in p.obj_list("Tags")?.unwrap_or_default() {
        let key = t.req_str("Key", "tags.member.key")?;
        let value = t.req_str("Value", "tags.member.value")?;
        if key.is_empty() || key.chars().count() > 128 {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{key}' at 'tags.member.key' failed to satisfy constraint: Member must have length less than or equal to 128 and greater than or equal to 1"
            )));
        }
        if value.chars().count() > 256 {
            return Err(ApiError::validation(
                "1 validation error detected: Value at 'tags.member.value' failed to satisfy constraint: Member must have length less than or equal to 256",
            ));
        }
        if key.starts_with("aws:") {
            return Err(ApiError::validation(
                "One or more parameter values were invalid: Tag keys starting with 'aws:' are reserved for system use",
            ));
        }
        out.push((key.to_owned(), value.to_owned()));
    }
    Ok(out)
}

/// Refuses a tag list with more distinct keys than a table may have.
pub fn check_tag_count(tags: &[(String, String)]) -> Result<(), ApiError> {
    let distinct: std::collections::BTreeSet<&str> = tags.iter().map(|(k, _)| k.as_str()).collect();
    if distinct.len() > MAX_TAGS {
        return Err(too_many_tags());
    }
    Ok(())
}

fn too_many_tags() -> ApiError {
    ApiError::validation(format!(
        "One or more parameter values were invalid: The number of tags exceeds the limit of {MAX_TAGS}"
    ))
}

/// Adds `tags` to a table (persisted with it), refusing to go over the limit (nothing
/// is changed then).
pub fn add_tags(
    st: &crate::state::State,
    table: &str,
    tags: Vec<(String, String)>,
) -> Result<(), ApiError> {
    st.db
        .update_table_tags(table, |existing| {
            let mut next = existing.clone();
            next.extend(tags);
            if next.len() > MAX_TAGS {
                return Err(too_many_tags());
            }
            *existing = next;
            Ok(())
        })
        .map_err(|e| ApiError::from_db(e, false))?
}

pub fn tag_resource(cx: &Cx<'_>, p: &Params<'_>) -> Result<Value, ApiError> {
    let table = resource(cx, p)?;
    let tags = read_tags(p)?;
    if !p.has("Tags") {
        return Err(ApiError::missing("tags"));
    }
    add_tags(cx.st, &table, tags)?;
    Ok(json!({}))
}

pub fn untag_resource(cx: &Cx<'_>, p: &Params<'_>) -> Result<Value, ApiError> {
    let table = resource(cx, p)?;
    let keys = p
        .str_list("TagKeys")?
        .ok_or_else(|| ApiError::missing("tagKeys"))?;
    cx.st
        .db
        .update_table_tags(&table, |tags| {
            for k in keys {
                tags.remove(k);
            }
        })
        .map_err(|e| ApiError::from_db(e, false))?;
    Ok(json!({}))
}

pub fn list_tags(cx: &Cx<'_>, p: &Params<'_>) -> Result<Value, ApiError> {
    let table = resource(cx, p)?;
    // All tags fit one page (at most 50), so NextToken is never returned.
    p.str("NextToken")?;
    let tags: Vec<Value> = cx
        .st
        .db
        .table_tags(&table)
        .map_err(|e| ApiError::from_db(e, false))?
        .iter()
        .map(|(k, v)| json!({"Key": k, "Value": v}))
        .collect();
    Ok(json!({"Tags": tags}))
}
