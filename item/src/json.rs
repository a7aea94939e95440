//! DynamoDB's JSON form of attribute values and items (feature `serde`).
//!
//! An attribute value is a JSON object with exactly one member named by its type:
//! `{"S":"x"}`, `{"N":"1.5"}` (the number as a *string*), `{"B":"<base64>"}`,
//! `{"BOOL":true}`, `{"NULL":true}`, `{"L":[…]}`, `{"M":{…}}`, `{"SS":["a"]}`,
//! `{"NS":["1"]}`, `{"BS":["<base64>"]}`. An item is a JSON object mapping attribute names
//! to attribute values. Reading is strict, as DynamoDB is: a number given as a JSON number,
//! `{"NULL":false}`, an empty or duplicated set, bad base64, or an object with zero or two
//! type members is an error that says where (`item.tags.L[2]`).
//!
//! The serde `Serialize`/`Deserialize` impls of [`AttributeValue`] and [`Item`] use this
//! form.
//!
//! ```
//! use strata_item::{item, AttributeValue, Item};
//! use serde_json::json;
//!
//! let it = Item::from_dynamo_json(&json!({
//!     "pk": {"S": "user#1"},
//!     "n": {"N": "42"},
//!     "raw": {"B": "AQI="},
//!     "tags": {"SS": ["a", "b"]}
//! }))?;
//! assert_eq!(it.get("raw"), Some(&AttributeValue::B(vec![1, 2])));
//! assert_eq!(it.to_dynamo_json()["n"], json!({"N": "42"}));
//! assert!(AttributeValue::from_dynamo_json(&json!({"N": 42})).is_err());
//! # Ok::<(), strata_item::json::JsonError>(())
//! ```

use crate::Name;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Deserialize as _;
use serde_json::{Map, Value};

use crate::echo::{self, Bounded};
use crate::serde_item::passthrough;
use crate::{AttributeValue, Item, Number, NumberError};

/// Why JSON is not a valid DynamoDB attribute value or item.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} (at {path})")]
pub struct JsonError {
    /// Where in the input: `item`, `item.a.L[3]`, `value.M.x`, ... (cut to a fixed size,
    /// see [`crate::echo`]).
    pub path: String,
    /// What is wrong.
    pub kind: JsonErrorKind,
}

/// What is wrong with a piece of DynamoDB JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JsonErrorKind {
    /// Expected a JSON object.
    #[error("expected a JSON object, got {got}")]
    NotAnObject {
        /// The JSON type found.
        got: &'static str,
    },
    /// An attribute value object with no members.
    #[error(
        "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"
    )]
    NoType,
    /// An attribute value object with more than one member.
    #[error(
        "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes"
    )]
    SeveralTypes,
    /// An unknown type descriptor.
    #[error(
        "unknown attribute value type {name:?} (expected S, N, B, BOOL, NULL, L, M, SS, NS or BS)"
    )]
    UnknownType {
        /// The member name found.
        name: String,
    },
    /// The member's JSON type is wrong for the descriptor (e.g. `{"N": 1}`).
    #[error("{descriptor} expects {expected}, got {got}")]
    WrongJsonType {
        /// The type descriptor.
        descriptor: &'static str,
        /// The JSON type wanted.
        expected: &'static str,
        /// The JSON type found.
        got: &'static str,
    },
    /// `{"NULL": false}`.
    #[error(
        "One or more parameter values were invalid: Null attribute value types must have the value of true"
    )]
    NullNotTrue,
    /// A number string that is not a valid DynamoDB number.
    #[error(transparent)]
    Number(#[from] NumberError),
    /// Invalid base64 in `B` or `BS`.
    #[error("invalid base64: {reason}")]
    Base64 {
        /// What is wrong.
        reason: &'static str,
    },
    /// An empty `SS`, `NS` or `BS`.
    #[error("One or more parameter values were invalid: An {kind} set may not be empty")]
    EmptySet {
        /// `"string"`, `"number"` or `"binary"`.
        kind: &'static str,
    },
    /// A set with two equal elements (numbers are compared numerically).
    #[error(
        "One or more parameter values were invalid: Input collection {shown} contains duplicates."
    )]
    DuplicateInSet {
        /// The duplicated element as text.
        shown: String,
    },
    /// Lists and maps nested deeper than DynamoDB allows.
    #[error(
        "Nesting Levels have exceeded supported limits: Attributes in the item have nested levels beyond supported limit"
    )]
    TooDeep,
    /// The text is not JSON at all.
    #[error("invalid JSON: {0}")]
    Syntax(String),
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A path built lazily, only when an error is reported.
#[derive(Clone, Copy)]
enum Path<'a> {
    Root(&'a str),
    Field(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl Path<'_> {
    /// The path as errors show it (`item.a.L[3]`), at most [`echo::MAX_PATH_SHOWN`] bytes
    /// with each name cut by [`echo::shown`], however long the names are.
    fn text(&self) -> String {
        let mut steps = Vec::new();
        let mut cur = self;
        loop {
            steps.push(cur);
            match cur {
                Path::Root(_) => break,
                Path::Field(p, _) | Path::Index(p, _) => cur = p,
            }
        }
        let mut out = Bounded::new(echo::MAX_PATH_SHOWN);
        for step in steps.iter().rev() {
            match step {
                Path::Root(r) => out.push_str(r),
                Path::Field(_, name) => {
                    out.push_str(".");
                    out.push_name(name);
                }
                Path::Index(_, i) => {
                    // Writing into a `Bounded` never fails.
                    let _ = write!(out, "[{i}]");
                }
            }
        }
        out.finish()
    }
}

fn err(path: &Path<'_>, kind: JsonErrorKind) -> JsonError {
    JsonError {
        path: path.text(),
        kind,
    }
}

impl AttributeValue {
    /// Reads DynamoDB's JSON form of one attribute value.
    ///
    /// # Errors
    /// [`JsonError`] saying what is wrong and where.
    pub fn from_dynamo_json(v: &Value) -> Result<AttributeValue, JsonError> {
        value_from_json(v, &Path::Root("value"), 0)
    }

    /// DynamoDB's JSON form of this value (built without recursion, so any depth works;
    /// note that a `serde_json::Value` itself drops recursively).
    pub fn to_dynamo_json(&self) -> Value {
        /// A list or map being converted: elements still to visit, and the output so far.
        enum Frame<'a> {
            List(std::slice::Iter<'a, AttributeValue>, Vec<Value>),
            Map(
                std::collections::btree_map::Iter<'a, Name, AttributeValue>,
                Map<String, Value>,
                String,
            ),
        }
        let mut stack: Vec<Frame<'_>> = Vec::new();
        let mut next = self;
        loop {
            let mut done = match next {
                AttributeValue::L(l) => {
                    stack.push(Frame::List(l.iter(), Vec::with_capacity(l.len())));
                    None
                }
                AttributeValue::M(m) => {
                    stack.push(Frame::Map(m.iter(), Map::new(), String::new()));
                    None
                }
                leaf => Some(leaf_to_json(leaf)),
            };
            loop {
                let Some(top) = stack.last_mut() else {
                    return done.unwrap_or(Value::Null);
                };
                match top {
                    Frame::List(it, out) => {
                        out.extend(done.take());
                        if let Some(child) = it.next() {
                            next = child;
                            break;
                        }
                    }
                    Frame::Map(it, out, key) => {
                        if let Some(v) = done.take() {
                            out.insert(std::mem::take(key), v);
                        }
                        if let Some((k, child)) = it.next() {
                            key.clear();
                            key.push_str(k);
                            next = child;
                            break;
                        }
                    }
                }
                done = match stack.pop() {
                    Some(Frame::List(_, out)) => Some(typed_json("L", Value::Array(out))),
                    Some(Frame::Map(_, out, _)) => Some(typed_json("M", Value::Object(out))),
                    None => done,
                };
            }
        }
    }
}

/// `{"<descriptor>": v}`.
fn typed_json(descriptor: &str, v: Value) -> Value {
    let mut m = Map::with_capacity(1);
    m.insert(descriptor.to_owned(), v);
    Value::Object(m)
}

/// DynamoDB's JSON form of a value that is not a list or map.
fn leaf_to_json(v: &AttributeValue) -> Value {
    let (k, v) = match v {
        AttributeValue::S(s) => ("S", Value::String(s.clone())),
        AttributeValue::N(n) => ("N", Value::String(n.to_string())),
        AttributeValue::B(b) => ("B", Value::String(base64_encode(b))),
        AttributeValue::Bool(b) => ("BOOL", Value::Bool(*b)),
        AttributeValue::Null => ("NULL", Value::Bool(true)),
        AttributeValue::Ss(s) => (
            "SS",
            Value::Array(s.iter().map(|e| Value::String(e.clone())).collect()),
        ),
        AttributeValue::Ns(s) => (
            "NS",
            Value::Array(s.iter().map(|e| Value::String(e.to_string())).collect()),
        ),
        AttributeValue::Bs(s) => (
            "BS",
            Value::Array(s.iter().map(|e| Value::String(base64_encode(e))).collect()),
        ),
        // Containers are converted by `to_dynamo_json`.
        AttributeValue::L(_) => ("L", Value::Array(Vec::new())),
        AttributeValue::M(_) => ("M", Value::Object(Map::new())),
    };
    typed_json(k, v)
}

pub(crate) fn map_to_json(m: &BTreeMap<Name, AttributeValue>) -> Map<String, Value> {
    m.iter()
        .map(|(k, v)| (k.to_string(), v.to_dynamo_json()))
        .collect()
}

impl Item {
    /// Reads DynamoDB's JSON form of an item: an object of attribute values.
    ///
    /// # Errors
    /// [`JsonError`] saying what is wrong and where.
    pub fn from_dynamo_json(v: &Value) -> Result<Item, JsonError> {
        let root = Path::Root("item");
        let Value::Object(obj) = v else {
            return Err(err(&root, JsonErrorKind::NotAnObject { got: json_type(v) }));
        };
        map_from_json(obj, &root, 0).map(Item::from)
    }

    /// Parses DynamoDB JSON text of an item.
    ///
    /// # Errors
    /// [`JsonErrorKind::Syntax`] for text that is not JSON, else as
    /// [`Item::from_dynamo_json`].
    pub fn from_dynamo_json_str(s: &str) -> Result<Item, JsonError> {
        let v: Value = serde_json::from_str(s).map_err(|e| JsonError {
            path: "item".to_owned(),
            kind: JsonErrorKind::Syntax(echo::display_within(e, echo::MAX_VALUE_SHOWN)),
        })?;
        Item::from_dynamo_json(&v)
    }

    /// DynamoDB's JSON form of this item.
    pub fn to_dynamo_json(&self) -> Value {
        Value::Object(map_to_json(self.attributes()))
    }
}

fn map_from_json(
    obj: &Map<String, Value>,
    path: &Path<'_>,
    depth: usize,
) -> Result<BTreeMap<Name, AttributeValue>, JsonError> {
    let mut out = BTreeMap::new();
    for (k, v) in obj {
        let p = Path::Field(path, k);
        out.insert(Name::new(k), value_from_json(v, &p, depth)?);
    }
    Ok(out)
}

fn str_of<'v>(
    v: &'v Value,
    descriptor: &'static str,
    path: &Path<'_>,
) -> Result<&'v str, JsonError> {
    v.as_str().ok_or_else(|| {
        err(
            path,
            JsonErrorKind::WrongJsonType {
                descriptor,
                expected: "a string",
                got: json_type(v),
            },
        )
    })
}

fn array_of<'v>(
    v: &'v Value,
    descriptor: &'static str,
    path: &Path<'_>,
) -> Result<&'v Vec<Value>, JsonError> {
    v.as_array().ok_or_else(|| {
        err(
            path,
            JsonErrorKind::WrongJsonType {
                descriptor,
                expected: "an array",
                got: json_type(v),
            },
        )
    })
}

/// `depth` counts the lists and maps enclosing the value.
fn value_from_json(v: &Value, path: &Path<'_>, depth: usize) -> Result<AttributeValue, JsonError> {
    // Checked before anything else: recursion stops at DynamoDB's 32 levels.
    if crate::validate::too_deep(depth) {
        return Err(err(path, JsonErrorKind::TooDeep));
    }
    let Value::Object(obj) = v else {
        return Err(err(path, JsonErrorKind::NotAnObject { got: json_type(v) }));
    };
    let mut members = obj.iter();
    let Some((ty, inner)) = members.next() else {
        return Err(err(path, JsonErrorKind::NoType));
    };
    if members.next().is_some() {
        return Err(err(path, JsonErrorKind::SeveralTypes));
    }
    let p = Path::Field(path, ty);
    let path = &p;
    Ok(match ty.as_str() {
        "S" => AttributeValue::S(str_of(inner, "S", path)?.to_owned()),
        "N" => AttributeValue::N(
            Number::parse(str_of(inner, "N", path)?).map_err(|e| err(path, e.into()))?,
        ),
        "B" => AttributeValue::B(
            base64_decode(str_of(inner, "B", path)?)
                .map_err(|reason| err(path, JsonErrorKind::Base64 { reason }))?,
        ),
        "BOOL" => AttributeValue::Bool(inner.as_bool().ok_or_else(|| {
            err(
                path,
                JsonErrorKind::WrongJsonType {
                    descriptor: "BOOL",
                    expected: "a boolean",
                    got: json_type(inner),
                },
            )
        })?),
        "NULL" => match inner {
            Value::Bool(true) => AttributeValue::Null,
            Value::Bool(false) => return Err(err(path, JsonErrorKind::NullNotTrue)),
            other => {
                return Err(err(
                    path,
                    JsonErrorKind::WrongJsonType {
                        descriptor: "NULL",
                        expected: "true",
                        got: json_type(other),
                    },
                ));
            }
        },
        "L" => {
            let arr = array_of(inner, "L", path)?;
            let mut l = Vec::with_capacity(arr.len());
            for (i, e) in arr.iter().enumerate() {
                l.push(value_from_json(e, &Path::Index(path, i), depth + 1)?);
            }
            AttributeValue::L(l)
        }
        "M" => {
            let Value::Object(m) = inner else {
                return Err(err(
                    path,
                    JsonErrorKind::WrongJsonType {
                        descriptor: "M",
                        expected: "an object",
                        got: json_type(inner),
                    },
                ));
            };
            AttributeValue::M(map_from_json(m, path, depth + 1)?)
        }
        "SS" => {
            let arr = array_of(inner, "SS", path)?;
            let set = set_from(
                arr,
                "string",
                path,
                |e, p| Ok(str_of(e, "SS", p)?.to_owned()),
                |s| format!("[{}]", echo::shown(s)),
            )?;
            AttributeValue::Ss(set)
        }
        "NS" => {
            let arr = array_of(inner, "NS", path)?;
            let set = set_from(
                arr,
                "number",
                path,
                |e, p| Number::parse(str_of(e, "NS", p)?).map_err(|x| err(p, x.into())),
                |n| format!("[{n}]"),
            )?;
            AttributeValue::Ns(set)
        }
        "BS" => {
            let arr = array_of(inner, "BS", path)?;
            let set = set_from(
                arr,
                "binary",
                path,
                |e, p| {
                    base64_decode(str_of(e, "BS", p)?)
                        .map_err(|reason| err(p, JsonErrorKind::Base64 { reason }))
                },
                |b| {
                    let text = base64_encode(b);
                    format!("[{}]", echo::shown_within(&text, echo::MAX_VALUE_SHOWN))
                },
            )?;
            AttributeValue::Bs(set)
        }
        other => {
            return Err(err(
                path,
                JsonErrorKind::UnknownType {
                    name: echo::owned(other),
                },
            ));
        }
    })
}

fn set_from<T: Ord>(
    arr: &[Value],
    kind: &'static str,
    path: &Path<'_>,
    read: impl Fn(&Value, &Path<'_>) -> Result<T, JsonError>,
    show: impl Fn(&T) -> String,
) -> Result<BTreeSet<T>, JsonError> {
    if arr.is_empty() {
        return Err(err(path, JsonErrorKind::EmptySet { kind }));
    }
    let mut set = BTreeSet::new();
    for (i, e) in arr.iter().enumerate() {
        let p = Path::Index(path, i);
        let x = read(e, &p)?;
        if set.contains(&x) {
            return Err(err(&p, JsonErrorKind::DuplicateInSet { shown: show(&x) }));
        }
        set.insert(x);
    }
    Ok(set)
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 (RFC 4648 §4, with `=` padding), as DynamoDB's JSON uses for binaries.
pub fn base64_encode(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len().div_ceil(3) * 4);
    for chunk in b.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(chunk.get(1).copied().unwrap_or(0)) << 8)
            | u32::from(chunk.get(2).copied().unwrap_or(0));
        let idx = [(n >> 18) & 63, (n >> 12) & 63, (n >> 6) & 63, n & 63];
        for (i, &k) in idx.iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(B64[k as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes standard base64. Padding is optional; whitespace, the URL-safe alphabet,
/// misplaced padding and non-zero leftover bits are errors.
///
/// # Errors
/// A short description of what is wrong.
pub fn base64_decode(s: &str) -> Result<Vec<u8>, &'static str> {
    fn val(c: u8) -> Option<u32> {
        Some(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    }
    let bytes = s.as_bytes();
    let trimmed = match bytes {
        [rest @ .., b'=', b'='] => rest,
        [rest @ .., b'='] => rest,
        _ => bytes,
    };
    if trimmed.len() != bytes.len() && !bytes.len().is_multiple_of(4) {
        return Err("padding in the wrong place");
    }
    if trimmed.len() % 4 == 1 {
        return Err("length is not a valid base64 length");
    }
    let mut out = Vec::with_capacity(trimmed.len() / 4 * 3 + 2);
    for chunk in trimmed.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            let v = val(c).ok_or("character outside the base64 alphabet")?;
            n |= v << (18 - 6 * i);
        }
        let [_, a, b, c] = n.to_be_bytes();
        match chunk.len() {
            4 => out.extend_from_slice(&[a, b, c]),
            3 => {
                if c != 0 {
                    return Err("non-zero trailing bits");
                }
                out.extend_from_slice(&[a, b]);
            }
            _ => {
                if b != 0 || c != 0 {
                    return Err("non-zero trailing bits");
                }
                out.push(a);
            }
        }
    }
    Ok(out)
}

/// Deepest level [`serde::Serialize`] writes (the value itself is level 1): twice
/// DynamoDB's 32, so every storable value serializes, while recursion stays bounded.
pub const MAX_SERIALIZE_DEPTH: usize = 64;

/// A value at nesting level `.1`, serialized with its level checked first.
struct SerializeAt<'a>(&'a AttributeValue, usize);

impl serde::Serialize for SerializeAt<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeMap};
        struct B64<'a>(&'a [u8]);
        impl serde::Serialize for B64<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&base64_encode(self.0))
            }
        }
        struct Seq<I>(I);
        impl<I, T> serde::Serialize for Seq<I>
        where
            I: Iterator<Item = T> + Clone,
            T: serde::Serialize,
        {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_seq(self.0.clone())
            }
        }
        struct Entries<'a>(&'a BTreeMap<Name, AttributeValue>, usize);
        impl serde::Serialize for Entries<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_map(self.0.iter().map(|(k, v)| (k, SerializeAt(v, self.1))))
            }
        }
        let (v, level) = (self.0, self.1);
        if level > MAX_SERIALIZE_DEPTH {
            return Err(S::Error::custom(format!(
                "attribute value nested deeper than {MAX_SERIALIZE_DEPTH} levels"
            )));
        }
        let mut m = s.serialize_map(Some(1))?;
        match v {
            AttributeValue::S(v) => m.serialize_entry("S", v)?,
            AttributeValue::N(v) => m.serialize_entry("N", v)?,
            AttributeValue::B(v) => m.serialize_entry("B", &B64(v))?,
            AttributeValue::Bool(v) => m.serialize_entry("BOOL", v)?,
            AttributeValue::Null => m.serialize_entry("NULL", &true)?,
            AttributeValue::L(v) => {
                m.serialize_entry("L", &Seq(v.iter().map(|e| SerializeAt(e, level + 1))))?;
            }
            AttributeValue::M(v) => m.serialize_entry("M", &Entries(v, level + 1))?,
            AttributeValue::Ss(v) => m.serialize_entry("SS", v)?,
            AttributeValue::Ns(v) => m.serialize_entry("NS", v)?,
            AttributeValue::Bs(v) => m.serialize_entry("BS", &Seq(v.iter().map(|b| B64(b))))?,
        }
        m.end()
    }
}

impl serde::Serialize for AttributeValue {
    /// DynamoDB's JSON form. Values nested deeper than [`MAX_SERIALIZE_DEPTH`] levels are
    /// an error of the serializer (recursion stays bounded). The form is wrapped in a
    /// newtype with a reserved name, which formats such as `serde_json` ignore and
    /// [`crate::to_item`] uses to keep the value's type.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_newtype_struct(passthrough::VALUE_NAME, &SerializeAt(self, 1))
    }
}

/// Reads DynamoDB's JSON form through a newtype with a reserved name (see the
/// `Serialize` impls), with `read` turning the form into the value.
struct JsonFormVisitor<T>(fn(&Value) -> Result<T, JsonError>);

impl<'de, T> serde::de::Visitor<'de> for JsonFormVisitor<T> {
    type Value = T;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DynamoDB JSON")
    }
    fn visit_newtype_struct<D: serde::Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        let v = Value::deserialize(d)?;
        (self.0)(&v).map_err(serde::de::Error::custom)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        let v = Value::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
        (self.0)(&v).map_err(serde::de::Error::custom)
    }
}

impl<'de> serde::Deserialize<'de> for AttributeValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_newtype_struct(
            passthrough::VALUE_NAME,
            JsonFormVisitor(AttributeValue::from_dynamo_json),
        )
    }
}

impl serde::Serialize for Item {
    /// DynamoDB's JSON form, wrapped like [`AttributeValue`]'s.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Attributes<'a>(&'a Item);
        impl serde::Serialize for Attributes<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_map(self.0.iter().map(|(k, v)| (k, SerializeAt(v, 1))))
            }
        }
        s.serialize_newtype_struct(passthrough::ITEM_NAME, &Attributes(self))
    }
}

impl<'de> serde::Deserialize<'de> for Item {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_newtype_struct(
            passthrough::ITEM_NAME,
            JsonFormVisitor(Item::from_dynamo_json),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::item;
    use serde_json::json;

    #[test]
    fn base64_round_trip_and_errors() {
        let cases: [(&[u8], &str); 7] = [
            (b"", ""),
            (b"f", "Zg=="),
            (b"fo", "Zm8="),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg=="),
            (b"fooba", "Zm9vYmE="),
            (&[0xFF, 0xFE, 0x00, 0x01], "//4AAQ=="),
        ];
        for (raw, text) in cases {
            assert_eq!(base64_encode(raw), text);
            assert_eq!(base64_decode(text).unwrap(), raw);
        }
        assert_eq!(base64_decode("Zg").unwrap(), b"f");
        for bad in [
            "Z", "Zg=", "Z===", "Zh==", "Zm9v!", "Zm 9v", "Zg==Zg==", "-_8=",
        ] {
            assert!(base64_decode(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn all_types_round_trip() {
        let it = item! {
            "s" => "x", "n" => Number::parse("-1.5e3").unwrap(), "b" => vec![1u8, 2, 3],
            "t" => true, "z" => AttributeValue::Null,
            "l" => vec![AttributeValue::from(1), AttributeValue::from("a")],
            "m" => AttributeValue::from(BTreeMap::from([("k".to_string(), AttributeValue::from(false))])),
            "ss" => AttributeValue::string_set(["a", "b"]),
            "ns" => AttributeValue::number_set([1, 2]),
            "bs" => AttributeValue::binary_set([vec![0u8], vec![1u8]]),
        };
        let j = it.to_dynamo_json();
        assert_eq!(j["n"], json!({"N": "-1500"}));
        assert_eq!(j["b"], json!({"B": "AQID"}));
        assert_eq!(j["z"], json!({"NULL": true}));
        assert_eq!(j["m"], json!({"M": {"k": {"BOOL": false}}}));
        assert_eq!(Item::from_dynamo_json(&j).unwrap(), it);
        // serde impls agree with the Value form.
        let text = serde_json::to_string(&it).unwrap();
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), j);
        assert_eq!(serde_json::from_str::<Item>(&text).unwrap(), it);
        assert_eq!(Item::from_dynamo_json_str(&text).unwrap(), it);
    }

    #[test]
    fn errors_with_paths() {
        let cases = [
            (json!({"a": {}}), "item.a", "is empty"),
            (
                json!({"a": {"S": "x", "N": "1"}}),
                "item.a",
                "more than one datatypes",
            ),
            (
                json!({"a": {"X": "x"}}),
                "item.a.X",
                "unknown attribute value type",
            ),
            (
                json!({"a": {"N": 1}}),
                "item.a.N",
                "N expects a string, got a number",
            ),
            (
                json!({"a": {"N": "abc"}}),
                "item.a.N",
                "cannot be converted to a numeric value",
            ),
            (json!({"a": {"N": "1e126"}}), "item.a.N", "Number overflow"),
            (
                json!({"a": {"NULL": false}}),
                "item.a.NULL",
                "must have the value of true",
            ),
            (json!({"a": {"B": "!!"}}), "item.a.B", "invalid base64"),
            (
                json!({"a": {"SS": []}}),
                "item.a.SS",
                "An string set may not be empty",
            ),
            (
                json!({"a": {"SS": ["x", "x"]}}),
                "item.a.SS[1]",
                "Input collection [x] contains duplicates",
            ),
            (
                json!({"a": {"NS": ["1", "1.0"]}}),
                "item.a.NS[1]",
                "contains duplicates",
            ),
            (
                json!({"a": {"L": [{"S": "ok"}, {"S": 5}]}}),
                "item.a.L[1].S",
                "S expects a string",
            ),
            (
                json!({"a": {"M": {"k": {"BOOL": "yes"}}}}),
                "item.a.M.k.BOOL",
                "BOOL expects a boolean",
            ),
            (json!({"a": "plain"}), "item.a", "expected a JSON object"),
            (json!([1]), "item", "expected a JSON object, got an array"),
        ];
        for (j, want_path, want) in cases {
            let e = Item::from_dynamo_json(&j).unwrap_err();
            assert_eq!(e.path, want_path, "{j}");
            assert!(e.to_string().contains(want), "{e} should contain {want}");
        }
        // DynamoDB's count: the value is level 1, so 31 wrappers around a scalar are
        // accepted and 32 are not.
        let mut deep = json!({"NULL": true});
        for _ in 0..31 {
            deep = json!({"L": [deep]});
        }
        assert!(AttributeValue::from_dynamo_json(&deep).is_ok());
        deep = json!({"M": {"k": deep}});
        assert_eq!(
            AttributeValue::from_dynamo_json(&deep).unwrap_err().kind,
            JsonErrorKind::TooDeep
        );
        assert!(matches!(
            Item::from_dynamo_json_str("{").unwrap_err().kind,
            JsonErrorKind::Syntax(_)
        ));
    }
}
