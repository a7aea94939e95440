//! Reading a request's members with DynamoDB's rules: a member of the wrong JSON type
//! is a `SerializationException`, `null` counts as absent, unknown members are
//! ignored.

use std::collections::HashMap;

use serde_json::{Map, Value};
use strata_item::{AttributeValue, Item};

use crate::error::ApiError;

/// How DynamoDB's (Jackson-based) front end names a JSON token in its messages.
fn token(v: &Value) -> &'static str {
    match v {
        Value::Null => "VALUE_NULL",
        Value::Bool(true) => "VALUE_TRUE",
        Value::Bool(false) => "VALUE_FALSE",
        Value::Number(_) => "NUMBER_VALUE",
        Value::String(_) => "STRING_VALUE",
        Value::Array(_) => "START_ARRAY",
        Value::Object(_) => "START_OBJECT",
    }
}

/// `SerializationException` for `v` found where a `wanted` was expected.
fn wrong(v: &Value, wanted: &str) -> ApiError {
    match v {
        Value::Object(_) => {
            ApiError::serialization("Start of structure or map found where not expected.")
        }
        Value::Array(_) => ApiError::serialization(format!(
            "Start of list found where not expected (expected {wanted})"
        )),
        _ => ApiError::serialization(format!("{} can not be converted to {wanted}", token(v))),
    }
}

/// One request object (the body, or a nested structure).
#[derive(Debug, Clone, Copy)]
pub struct Params<'a> {
    map: &'a Map<String, Value>,
}

impl<'a> Params<'a> {
    /// The body: it must be a JSON object.
    pub fn root(v: &'a Value) -> Result<Params<'a>, ApiError> {
        match v {
            Value::Object(map) => Ok(Params { map }),
            other => Err(wrong(other, "a structure")),
        }
    }

    /// A request object given as a map.
    pub fn from_map(map: &'a Map<String, Value>) -> Params<'a> {
        Params { map }
    }

    /// The raw member, `None` when absent or `null`.
    pub fn raw(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    /// Whether the member is present (and not `null`).
    pub fn has(&self, name: &str) -> bool {
        self.raw(name).is_some()
    }

    /// A string member.
    pub fn str(&self, name: &str) -> Result<Option<&'a str>, ApiError> {
        match self.raw(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(wrong(v, "String")),
        }
    }

    /// A required string member (`member` is DynamoDB's lower-camel name for the
    /// message).
    pub fn req_str(&self, name: &str, member: &str) -> Result<&'a str, ApiError> {
        self.str(name)?.ok_or_else(|| ApiError::missing(member))
    }

    /// A boolean member.
    pub fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.raw(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => Err(wrong(v, "Boolean")),
        }
    }

    /// An integer member (DynamoDB's `Integer` and `Long`).
    pub fn int(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.raw(name) {
            None => Ok(None),
            Some(Value::Number(n)) => match n.as_i64() {
                Some(i) => Ok(Some(i)),
                None => Err(ApiError::serialization(format!(
                    "NUMBER_VALUE {n} can not be converted to an Integer"
                ))),
            },
            Some(v) => Err(wrong(v, "Integer")),
        }
    }

    /// A structure member.
    pub fn obj(&self, name: &str) -> Result<Option<Params<'a>>, ApiError> {
        match self.raw(name) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Params { map })),
            Some(v) => Err(wrong(v, "a structure")),
        }
    }

    /// A map member: its entries.
    pub fn map(&self, name: &str) -> Result<Option<&'a Map<String, Value>>, ApiError> {
        match self.raw(name) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(map)),
            Some(v) => Err(wrong(v, "a map")),
        }
    }

    /// A list member.
    pub fn list(&self, name: &str) -> Result<Option<&'a Vec<Value>>, ApiError> {
        match self.raw(name) {
            None => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a)),
            Some(v) => Err(ApiError::serialization(format!(
                "Unexpected {} where a list was expected",
                token(v)
            ))),
        }
    }

    /// A list of structures.
    pub fn obj_list(&self, name: &str) -> Result<Option<Vec<Params<'a>>>, ApiError> {
        let Some(list) = self.list(name)? else {
            return Ok(None);
        };
        list.iter()
            .map(|v| match v {
                Value::Object(map) => Ok(Params { map }),
                other => Err(wrong(other, "a structure")),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// A list of strings.
    pub fn str_list(&self, name: &str) -> Result<Option<Vec<&'a str>>, ApiError> {
        let Some(list) = self.list(name)? else {
            return Ok(None);
        };
        list.iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.as_str()),
                other => Err(wrong(other, "String")),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// An item member (a map of DynamoDB JSON attribute values).
    pub fn item(&self, name: &str) -> Result<Option<Item>, ApiError> {
        match self.raw(name) {
            None => Ok(None),
            Some(v @ Value::Object(_)) => Item::from_dynamo_json(v)
                .map(Some)
                .map_err(|e| ApiError::from_json(&e)),
            Some(v) => Err(wrong(v, "a map")),
        }
    }

    /// `ExpressionAttributeNames`.
    pub fn names(&self) -> Result<HashMap<String, String>, ApiError> {
        let Some(map) = self.map("ExpressionAttributeNames")? else {
            return Ok(HashMap::new());
        };
        map.iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                other => Err(wrong(other, "String")),
            })
            .collect()
    }

    /// `ExpressionAttributeValues`.
    pub fn values(&self) -> Result<HashMap<String, AttributeValue>, ApiError> {
        let Some(map) = self.map("ExpressionAttributeValues")? else {
            return Ok(HashMap::new());
        };
        map.iter()
            .map(|(k, v)| {
                attribute_value(v)
                    .map(|av| (k.clone(), av))
                    .map_err(|e| match e.name() {
                        "ValidationException" => ApiError::validation(format!(
                            "ExpressionAttributeValues contains invalid value: {} for key {k}",
                            e.message
                        )),
                        _ => e,
                    })
            })
            .collect()
    }

    /// An enum-valued string member checked against DynamoDB's allowed values.
    pub fn enum_str(
        &self,
        name: &str,
        member: &str,
        allowed: &[&str],
    ) -> Result<Option<&'a str>, ApiError> {
        let Some(s) = self.str(name)? else {
            return Ok(None);
        };
        if allowed.contains(&s) {
            Ok(Some(s))
        } else {
            Err(ApiError::validation(format!(
                "1 validation error detected: Value '{s}' at '{member}' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
                allowed.join(", ")
            )))
        }
    }
}

/// One DynamoDB JSON attribute value.
pub fn attribute_value(v: &Value) -> Result<AttributeValue, ApiError> {
    AttributeValue::from_dynamo_json(v).map_err(|e| ApiError::from_json(&e))
}

/// A JSON object of items' attribute values (`Item`, `Key`, ...) as an [`Item`].
pub fn item_of(v: &Value) -> Result<Item, ApiError> {
    Item::from_dynamo_json(v).map_err(|e| ApiError::from_json(&e))
}
