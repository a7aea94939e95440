//! The serde `Serializer` that builds [`AttributeValue`]s.

use crate::Name;
use std::collections::BTreeMap;

use serde::Serialize;
use serde::ser::{self, Impossible};

use super::owned::Owned;
use super::passthrough::{ITEM_NAME, VALUE_NAME, rebuild};
use super::sets::{BS_NAME, NS_NAME, SS_NAME};
use super::{ItemSerdeError, ItemSerdeErrorKind};
use crate::validate::too_deep;
use crate::{AttributeValue, Number};

/// Most newtype/`Some` wrappers followed in a row and in total: they add no nesting level,
/// but each is a stack frame.
const MAX_CALLS: usize = 512;

/// What a value serializes to: a value, or nothing (`None`, an empty set), which a struct
/// field leaves out.
type Out = Option<AttributeValue>;

/// Serializes `value`; `children` is the nesting count of the elements of any list or map
/// it produces (0 for an item's attributes, 1 for a lone attribute value).
pub(super) fn serialize_top<T: Serialize + ?Sized>(
    value: &T,
    children: usize,
) -> Result<Out, ItemSerdeError> {
    value.serialize(Ser { children, calls: 0 })
}

#[derive(Clone, Copy)]
struct Ser {
    /// Lists and maps around the elements of a container this serializer creates.
    children: usize,
    /// Serializer calls nested so far (bounds the stack).
    calls: usize,
}

impl Ser {
    fn wrap(self) -> Result<Ser, ItemSerdeError> {
        if self.calls >= MAX_CALLS {
            return Err(ItemSerdeError::new(ItemSerdeErrorKind::TooDeep));
        }
        Ok(Ser {
            calls: self.calls + 1,
            ..self
        })
    }

    /// The serializer for the elements of a container this one creates (each container
    /// checks the depth of an element before serializing it, so an empty list may sit at
    /// the deepest level, as DynamoDB allows).
    fn elements(self) -> Result<Ser, ItemSerdeError> {
        let w = self.wrap()?;
        Ok(Ser {
            children: w.children + 1,
            calls: w.calls,
        })
    }
}

fn num(n: Number) -> Result<Out, ItemSerdeError> {
    Ok(Some(AttributeValue::N(n)))
}

impl ser::Serializer for Ser {
    type Ok = Out;
    type Error = ItemSerdeError;
    type SerializeSeq = SeqSer;
    type SerializeTuple = SeqSer;
    type SerializeTupleStruct = SeqSer;
    type SerializeTupleVariant = VariantSer<SeqSer>;
    type SerializeMap = MapSer;
    type SerializeStruct = MapSer;
    type SerializeStructVariant = VariantSer<MapSer>;

    fn serialize_bool(self, v: bool) -> Result<Out, ItemSerdeError> {
        Ok(Some(AttributeValue::Bool(v)))
    }
    fn serialize_i8(self, v: i8) -> Result<Out, ItemSerdeError> {
        num(v.into())
    }
    fn serialize_i16(self, v: i16) -> Result<Out, ItemSerdeError> {
        num(v.into())
    }
    fn serialize_i32(self, v: i32) -> Result<Out, ItemSerdeError> {
        num(v.into())
    }
    fn serialize_i64(self, v: i64) -> Result<Out, ItemSerdeError> {
        num(v.into())
    }
    fn serialize_i128(self, v: i128) -> Result<Out, ItemSerdeError> {
        num(Number::try_from(v)?)
    }
    fn serialize_u8(self, v: u8) -> Result<Out, ItemSerdeError> {
        num(v.into())
    }
    fn serialize_u16(self, v: u16) -> Result<Out, ItemSerdeError> {
        num(v.into())
    }
    fn serialize_u32(self, v: u32) -> Result<Out, ItemSerdeError> {
        num(v.into())
    }
    fn serialize_u64(self, v: u64) -> Result<Out, ItemSerdeError> {
        num(v.into())
    }
    fn serialize_u128(self, v: u128) -> Result<Out, ItemSerdeError> {
        num(Number::try_from(v)?)
    }
    fn serialize_f32(self, v: f32) -> Result<Out, ItemSerdeError> {
        num(Number::try_from(v)?)
    }
    fn serialize_f64(self, v: f64) -> Result<Out, ItemSerdeError> {
        num(Number::try_from(v)?)
    }
    fn serialize_char(self, v: char) -> Result<Out, ItemSerdeError> {
        Ok(Some(AttributeValue::S(v.to_string())))
    }
    fn serialize_str(self, v: &str) -> Result<Out, ItemSerdeError> {
        Ok(Some(AttributeValue::S(v.to_owned())))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Out, ItemSerdeError> {
        Ok(Some(AttributeValue::B(v.to_vec())))
    }
    fn serialize_none(self) -> Result<Out, ItemSerdeError> {
        Ok(None)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Out, ItemSerdeError> {
        value.serialize(self.wrap()?)
    }
    fn serialize_unit(self) -> Result<Out, ItemSerdeError> {
        Ok(Some(AttributeValue::Null))
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<Out, ItemSerdeError> {
        Ok(Some(AttributeValue::Null))
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Out, ItemSerdeError> {
        Ok(Some(AttributeValue::S(variant.to_owned())))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<Out, ItemSerdeError> {
        let kind = match name {
            SS_NAME => SetKind::S,
            NS_NAME => SetKind::N,
            BS_NAME => SetKind::B,
            crate::number::SERDE_NAME => {
                let text = value.serialize(self.wrap()?)?.map(Owned::from);
                return match text {
                    Some(Owned::S(s)) => num(Number::parse(&s)?),
                    other => Err(ItemSerdeError::wrong_type(
                        "a number",
                        other.as_ref().map_or("nothing", Owned::type_name),
                    )),
                };
            }
            VALUE_NAME | ITEM_NAME => {
                return rebuild(name, value, self.children).map(Some);
            }
            _ => return value.serialize(self.wrap()?),
        };
        // A set is one value: its elements are no nesting level of their own.
        let inner = value.serialize(Ser {
            children: 0,
            calls: self.wrap()?.calls,
        })?;
        to_set(inner, kind)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Out, ItemSerdeError> {
        if too_deep(self.children) {
            return Err(ItemSerdeError::new(ItemSerdeErrorKind::TooDeep).at_field(variant));
        }
        let inner = value
            .serialize(self.elements()?)
            .map_err(|e| e.at_field(variant))?;
        let mut m = BTreeMap::new();
        m.insert(Name::new(variant), inner.unwrap_or(AttributeValue::Null));
        Ok(Some(AttributeValue::M(m)))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<SeqSer, ItemSerdeError> {
        Ok(SeqSer {
            depth: self.children,
            elem: self.elements()?,
            items: Vec::with_capacity(len.unwrap_or(0).min(1024)),
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<SeqSer, ItemSerdeError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<SeqSer, ItemSerdeError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<VariantSer<SeqSer>, ItemSerdeError> {
        if too_deep(self.children) {
            return Err(ItemSerdeError::new(ItemSerdeErrorKind::TooDeep).at_field(variant));
        }
        let inner = self
            .elements()?
            .serialize_seq(Some(len))
            .map_err(|e| e.at_field(variant))?;
        Ok(VariantSer { variant, inner })
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<MapSer, ItemSerdeError> {
        Ok(MapSer {
            depth: self.children,
            elem: self.elements()?,
            map: BTreeMap::new(),
            key: None,
            keep_none: true,
        })
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<MapSer, ItemSerdeError> {
        Ok(MapSer {
            keep_none: false,
            ..self.serialize_map(None)?
        })
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<VariantSer<MapSer>, ItemSerdeError> {
        if too_deep(self.children) {
            return Err(ItemSerdeError::new(ItemSerdeErrorKind::TooDeep).at_field(variant));
        }
        let inner = self
            .elements()?
            .serialize_struct(variant, len)
            .map_err(|e| e.at_field(variant))?;
        Ok(VariantSer { variant, inner })
    }
}

#[derive(Clone, Copy)]
enum SetKind {
    S,
    N,
    B,
}

/// Turns the list a set module serialized into an `SS`, `NS` or `BS`; an empty set is
/// nothing (the attribute is left out).
fn to_set(inner: Out, kind: SetKind) -> Result<Out, ItemSerdeError> {
    let items = match inner.map(Owned::from) {
        None => return Ok(None),
        Some(Owned::L(items)) => items,
        Some(other) => return Err(ItemSerdeError::wrong_type("a sequence", other.type_name())),
    };
    if items.is_empty() {
        return Ok(None);
    }
    let (expected, wanted) = match kind {
        SetKind::S => ("a string", "S"),
        SetKind::N => ("a number", "N"),
        SetKind::B => ("binary", "B"),
    };
    if let Some((i, bad)) = items
        .iter()
        .enumerate()
        .find(|(_, v)| v.type_name() != wanted)
    {
        return Err(ItemSerdeError::wrong_type(expected, bad.type_name()).at_index(i));
    }
    let set = match kind {
        SetKind::S => {
            AttributeValue::try_string_set(items.into_iter().filter_map(|v| match Owned::from(v) {
                Owned::S(s) => Some(s),
                _ => None,
            }))
        }
        SetKind::N => {
            AttributeValue::try_number_set(items.iter().filter_map(|v| v.as_n().copied()))
        }
        SetKind::B => {
            AttributeValue::try_binary_set(items.into_iter().filter_map(|v| match Owned::from(v) {
                Owned::B(b) => Some(b),
                _ => None,
            }))
        }
    };
    set.map(Some).map_err(|e| match e {
        crate::ValidationError::DuplicateInSet { shown } => {
            ItemSerdeError::new(ItemSerdeErrorKind::DuplicateInSet { shown })
        }
        other => ItemSerdeError::new(ItemSerdeErrorKind::Custom(other.to_string())),
    })
}

/// Builds an `L`.
pub(super) struct SeqSer {
    /// Lists and maps around each element.
    depth: usize,
    elem: Ser,
    items: Vec<AttributeValue>,
}

impl SeqSer {
    fn push<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ItemSerdeError> {
        if too_deep(self.depth) {
            return Err(ItemSerdeError::new(ItemSerdeErrorKind::TooDeep).at_index(self.items.len()));
        }
        let v = value
            .serialize(self.elem)
            .map_err(|e| e.at_index(self.items.len()))?;
        self.items.push(v.unwrap_or(AttributeValue::Null));
        Ok(())
    }
    fn finish(self) -> AttributeValue {
        AttributeValue::L(self.items)
    }
}

impl ser::SerializeSeq for SeqSer {
    type Ok = Out;
    type Error = ItemSerdeError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), ItemSerdeError> {
        self.push(v)
    }
    fn end(self) -> Result<Out, ItemSerdeError> {
        Ok(Some(self.finish()))
    }
}
impl ser::SerializeTuple for SeqSer {
    type Ok = Out;
    type Error = ItemSerdeError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), ItemSerdeError> {
        self.push(v)
    }
    fn end(self) -> Result<Out, ItemSerdeError> {
        Ok(Some(self.finish()))
    }
}
impl ser::SerializeTupleStruct for SeqSer {
    type Ok = Out;
    type Error = ItemSerdeError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), ItemSerdeError> {
        self.push(v)
    }
    fn end(self) -> Result<Out, ItemSerdeError> {
        Ok(Some(self.finish()))
    }
}

/// Builds an `M` from a map (`None` values kept as `NULL`) or a struct (`None` fields left
/// out).
pub(super) struct MapSer {
    /// Lists and maps around each value.
    depth: usize,
    elem: Ser,
    map: BTreeMap<Name, AttributeValue>,
    key: Option<String>,
    keep_none: bool,
}

impl MapSer {
    fn put<T: Serialize + ?Sized>(&mut self, key: String, value: &T) -> Result<(), ItemSerdeError> {
        if too_deep(self.depth) {
            return Err(ItemSerdeError::new(ItemSerdeErrorKind::TooDeep).at_field(&key));
        }
        match value.serialize(self.elem).map_err(|e| e.at_field(&key))? {
            Some(v) => {
                self.map.insert(key.into(), v);
            }
            None if self.keep_none => {
                self.map.insert(key.into(), AttributeValue::Null);
            }
            None => {}
        }
        Ok(())
    }
    fn finish(self) -> AttributeValue {
        AttributeValue::M(self.map)
    }
}

impl ser::SerializeMap for MapSer {
    type Ok = Out;
    type Error = ItemSerdeError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), ItemSerdeError> {
        self.key = Some(key.serialize(KeySer)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), ItemSerdeError> {
        let key = self.key.take().ok_or_else(|| {
            <ItemSerdeError as ser::Error>::custom("serialize_value called before serialize_key")
        })?;
        self.put(key, v)
    }
    fn end(self) -> Result<Out, ItemSerdeError> {
        Ok(Some(self.finish()))
    }
}
impl ser::SerializeStruct for MapSer {
    type Ok = Out;
    type Error = ItemSerdeError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), ItemSerdeError> {
        self.put(key.to_owned(), v)
    }
    fn end(self) -> Result<Out, ItemSerdeError> {
        Ok(Some(self.finish()))
    }
}

/// A tuple or struct variant: `{variant: L}` or `{variant: M}`.
pub(super) struct VariantSer<I> {
    variant: &'static str,
    inner: I,
}

impl<I> VariantSer<I> {
    fn wrap(variant: &'static str, v: AttributeValue) -> Out {
        let mut m = BTreeMap::new();
        m.insert(Name::new(variant), v);
        Some(AttributeValue::M(m))
    }
}

impl ser::SerializeTupleVariant for VariantSer<SeqSer> {
    type Ok = Out;
    type Error = ItemSerdeError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), ItemSerdeError> {
        self.inner.push(v).map_err(|e| e.at_field(self.variant))
    }
    fn end(self) -> Result<Out, ItemSerdeError> {
        Ok(Self::wrap(self.variant, self.inner.finish()))
    }
}
impl ser::SerializeStructVariant for VariantSer<MapSer> {
    type Ok = Out;
    type Error = ItemSerdeError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), ItemSerdeError> {
        self.inner
            .put(key.to_owned(), v)
            .map_err(|e| e.at_field(self.variant))
    }
    fn end(self) -> Result<Out, ItemSerdeError> {
        Ok(Self::wrap(self.variant, self.inner.finish()))
    }
}

/// Serializes a map key: strings, `char`s and unit variants; anything else is an error.
struct KeySer;

fn key_err(found: &'static str) -> ItemSerdeError {
    ItemSerdeError::new(ItemSerdeErrorKind::KeyNotString { found })
}

macro_rules! reject_key {
    ($($f:ident($t:ty) => $name:expr),* $(,)?) => {$(
        fn $f(self, _v: $t) -> Result<String, ItemSerdeError> {
            Err(key_err($name))
        }
    )*};
}

impl ser::Serializer for KeySer {
    type Ok = String;
    type Error = ItemSerdeError;
    type SerializeSeq = Impossible<String, ItemSerdeError>;
    type SerializeTuple = Impossible<String, ItemSerdeError>;
    type SerializeTupleStruct = Impossible<String, ItemSerdeError>;
    type SerializeTupleVariant = Impossible<String, ItemSerdeError>;
    type SerializeMap = Impossible<String, ItemSerdeError>;
    type SerializeStruct = Impossible<String, ItemSerdeError>;
    type SerializeStructVariant = Impossible<String, ItemSerdeError>;

    reject_key! {
        serialize_bool(bool) => "a boolean",
        serialize_i8(i8) => "a number",
        serialize_i16(i16) => "a number",
        serialize_i32(i32) => "a number",
        serialize_i64(i64) => "a number",
        serialize_i128(i128) => "a number",
        serialize_u8(u8) => "a number",
        serialize_u16(u16) => "a number",
        serialize_u32(u32) => "a number",
        serialize_u64(u64) => "a number",
        serialize_u128(u128) => "a number",
        serialize_f32(f32) => "a number",
        serialize_f64(f64) => "a number",
        serialize_bytes(&[u8]) => "bytes",
    }
    fn serialize_char(self, v: char) -> Result<String, ItemSerdeError> {
        Ok(v.to_string())
    }
    fn serialize_str(self, v: &str) -> Result<String, ItemSerdeError> {
        Ok(v.to_owned())
    }
    fn serialize_none(self) -> Result<String, ItemSerdeError> {
        Err(key_err("None"))
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _v: &T) -> Result<String, ItemSerdeError> {
        Err(key_err("an Option"))
    }
    fn serialize_unit(self) -> Result<String, ItemSerdeError> {
        Err(key_err("()"))
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<String, ItemSerdeError> {
        Err(key_err("a unit struct"))
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<String, ItemSerdeError> {
        Ok(variant.to_owned())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        v: &T,
    ) -> Result<String, ItemSerdeError> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _v: &T,
    ) -> Result<String, ItemSerdeError> {
        Err(key_err("an enum variant with data"))
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, ItemSerdeError> {
        Err(key_err("a sequence"))
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, ItemSerdeError> {
        Err(key_err("a tuple"))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, ItemSerdeError> {
        Err(key_err("a tuple struct"))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, ItemSerdeError> {
        Err(key_err("an enum variant with data"))
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, ItemSerdeError> {
        Err(key_err("a map"))
    }
    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, ItemSerdeError> {
        Err(key_err("a struct"))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, ItemSerdeError> {
        Err(key_err("an enum variant with data"))
    }
}
