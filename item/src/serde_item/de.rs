//! The serde `Deserializer` that reads [`AttributeValue`]s.

use crate::Name;
use std::collections::btree_map;

use serde::de::value::StringDeserializer;
use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};

use super::owned::Owned;
use super::passthrough::{ITEM_NAME, VALUE_NAME, json_form};
use super::{ItemSerdeError, ItemSerdeErrorKind};
use crate::validate::too_deep;
use crate::{AttributeValue, Number};

/// Reads a `T` from `value`; `children` is the nesting count of the elements of `value`
/// (0 for an item's attributes, 1 for a lone attribute value).
pub(super) fn deserialize_top<T: de::DeserializeOwned>(
    value: AttributeValue,
    children: usize,
) -> Result<T, ItemSerdeError> {
    T::deserialize(De { value, children })
}

struct De {
    value: AttributeValue,
    /// Lists and maps around the elements of `value`.
    children: usize,
}

/// The number as an integer, if it is one that fits in an `i128`.
fn to_i128(n: &Number) -> Option<i128> {
    let m = i128::try_from(integer_magnitude(n)?).ok()?;
    Some(if n.is_negative() { -m } else { m })
}

/// The number's magnitude, if it is an integer that fits in a `u128`.
fn integer_magnitude(n: &Number) -> Option<u128> {
    // The mantissa has no trailing zeros, so a negative exponent means a fraction.
    let e = u32::try_from(n.exponent()).ok()?;
    n.mantissa().checked_mul(10u128.checked_pow(e)?)
}

fn out_of_range(target: &'static str, n: &Number) -> ItemSerdeError {
    ItemSerdeError::new(ItemSerdeErrorKind::OutOfRange {
        target,
        value: n.to_string(),
    })
}

macro_rules! de_int {
    ($($f:ident => $t:ty, $visit:ident);* $(;)?) => {$(
        fn $f<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ItemSerdeError> {
            let n = self.number()?;
            let x = to_i128(&n)
                .and_then(|i| <$t>::try_from(i).ok())
                .ok_or_else(|| out_of_range(stringify!($t), &n))?;
            v.$visit(x)
        }
    )*};
}

impl De {
    fn number(&self) -> Result<Number, ItemSerdeError> {
        match &self.value {
            AttributeValue::N(n) => Ok(*n),
            other => Err(ItemSerdeError::wrong_type("a number", other.type_name())),
        }
    }

    fn seq(items: Vec<AttributeValue>, depth: usize) -> SeqDe {
        SeqDe {
            items: items.into_iter(),
            depth,
            index: 0,
        }
    }
}

impl<'de> de::Deserializer<'de> for De {
    type Error = ItemSerdeError;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ItemSerdeError> {
        match Owned::from(self.value) {
            Owned::S(s) => v.visit_string(s),
            Owned::N(n) => {
                if let Some(i) = to_i128(&n) {
                    if let Ok(x) = i64::try_from(i) {
                        return v.visit_i64(x);
                    }
                    if let Ok(x) = u64::try_from(i) {
                        return v.visit_u64(x);
                    }
                    return v.visit_i128(i);
                }
                if let Some(u) = integer_magnitude(&n).filter(|_| !n.is_negative()) {
                    return v.visit_u128(u);
                }
                v.visit_f64(n.to_f64())
            }
            Owned::B(b) => v.visit_byte_buf(b),
            Owned::Bool(b) => v.visit_bool(b),
            Owned::Null => v.visit_unit(),
            seq @ (Owned::L(_) | Owned::Ss(_) | Owned::Ns(_) | Owned::Bs(_)) => {
                visit_seq(seq, self.children, v)
            }
            map @ Owned::M(_) => visit_map(map, self.children, v),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ItemSerdeError> {
        match Owned::from(self.value) {
            Owned::Bool(b) => v.visit_bool(b),
            other => Err(ItemSerdeError::wrong_type("a boolean", other.type_name())),
        }
    }

    de_int! {
        deserialize_i8 => i8, visit_i8;
        deserialize_i16 => i16, visit_i16;
        deserialize_i32 => i32, visit_i32;
        deserialize_i64 => i64, visit_i64;
        deserialize_i128 => i128, visit_i128;
        deserialize_u8 => u8, visit_u8;
        deserialize_u16 => u16, visit_u16;
        deserialize_u32 => u32, visit_u32;
        deserialize_u64 => u64, visit_u64;
    }

    fn deserialize_u128<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ItemSerdeError> {
        let n = self.number()?;
        match integer_magnitude(&n) {
            Some(u) if !n.is_negative() || u == 0 => v.visit_u128(u),
            _ => Err(out_of_range("u128", &n)),
        }
    }

    fn deserialize_f32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ItemSerdeError> {
        let n = self.number()?;
        // Parsed from the decimal text, so rounded once (not through an f64).
        let x: f32 = format!("{}e{}", n.mantissa(), n.exponent())
            .parse()
            .map_err(|_| out_of_range("f32", &n))?;
        if !x.is_finite() {
            return Err(out_of_range("f32", &n));
        }
        v.visit_f32(if n.is_negative() { -x } else { x })
    }

    fn deserialize_f64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ItemSerdeError> {
        let n = self.number()?;
        v.visit_f64(n.to_f64())
    }

    fn deserialize_char<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ItemSerdeError> {
        match Owned::from(self.value) {
            Owned::S(s) => {
                let mut chars = s.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => v.visit_char(c),
                    _ => Err(ItemSerdeError::wrong_type("a single character", "S")),
                }
            }
            other => Err(ItemSerdeError::wrong_type(
                "a single character",
                other.type_name(),
            )),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ItemSerdeError> {
        self.deserialize_string(v)
    }

    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ItemSerdeError> {
        match Owned::from(self.value) {
            Owned::S(s) => v.visit_string(s),
            other => Err(ItemSerdeError::wrong_type("a string", other.type_name())),
        }
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ItemSerdeError> {
        self.deserialize_byte_buf(v)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ItemSerdeError> {
        if matches!(self.value, AttributeValue::L(_)) {
            return self.deserialize_seq(v);
        }
        match Owned::from(self.value) {
            Owned::B(b) => v.visit_byte_buf(b),
            other => Err(ItemSerdeError::wrong_type("binary", other.type_name())),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ItemSerdeError> {
        match &self.value {
            AttributeValue::Null => v.visit_none(),
            _ => v.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ItemSerdeError> {
        match Owned::from(self.value) {
            Owned::Null => v.visit_unit(),
            other => Err(ItemSerdeError::wrong_type("NULL", other.type_name())),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, ItemSerdeError> {
        self.deserialize_unit(v)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        v: V,
    ) -> Result<V::Value, ItemSerdeError> {
        if name == crate::number::SERDE_NAME {
            // A `Number` reads its canonical text.
            let n = self.number()?;
            return v.visit_string(n.to_string());
        }
        if name == VALUE_NAME || name == ITEM_NAME {
            let json = json_form(name, &self.value, self.children)?;
            return v
                .visit_newtype_struct(json)
                .map_err(|e| ItemSerdeError::new(ItemSerdeErrorKind::Custom(e.to_string())));
        }
        v.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ItemSerdeError> {
        visit_seq(Owned::from(self.value), self.children, v)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        v: V,
    ) -> Result<V::Value, ItemSerdeError> {
        self.deserialize_seq(v)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        v: V,
    ) -> Result<V::Value, ItemSerdeError> {
        self.deserialize_seq(v)
    }

    fn deserialize_map<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ItemSerdeError> {
        visit_map(Owned::from(self.value), self.children, v)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, ItemSerdeError> {
        self.deserialize_map(v)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, ItemSerdeError> {
        const EXPECTED: &str = "an enum (a string, or a map with one key)";
        match Owned::from(self.value) {
            Owned::S(s) => v.visit_enum(IntoDeserializer::<ItemSerdeError>::into_deserializer(s)),
            Owned::M(mut m) if m.len() == 1 => match m.pop_first() {
                Some((variant, value)) => {
                    if too_deep(self.children) {
                        return Err(
                            ItemSerdeError::new(ItemSerdeErrorKind::TooDeep).at_field(&variant)
                        );
                    }
                    v.visit_enum(EnumDe {
                        variant: variant.into_string(),
                        value,
                        children: self.children + 1,
                    })
                }
                None => Err(ItemSerdeError::wrong_type(EXPECTED, "M")),
            },
            other => Err(ItemSerdeError::wrong_type(EXPECTED, other.type_name())),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ItemSerdeError> {
        self.deserialize_string(v)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ItemSerdeError> {
        v.visit_unit()
    }
}

/// Visits a list (or a set or binary, read as a sequence) whose elements sit inside
/// `depth` lists and maps.
fn visit_seq<'de, V: Visitor<'de>>(
    value: Owned,
    depth: usize,
    v: V,
) -> Result<V::Value, ItemSerdeError> {
    match value {
        Owned::L(items) => v.visit_seq(De::seq(items, depth)),
        // A set's elements are no nesting level of their own.
        Owned::Ss(s) => v.visit_seq(De::seq(s.into_iter().map(Into::into).collect(), 0)),
        Owned::Ns(s) => v.visit_seq(De::seq(s.into_iter().map(Into::into).collect(), 0)),
        Owned::Bs(s) => v.visit_seq(De::seq(s.into_iter().map(Into::into).collect(), 0)),
        // So that a plain `Vec<u8>` reads a `B`.
        Owned::B(b) => v.visit_seq(De::seq(b.into_iter().map(Into::into).collect(), 0)),
        other => Err(ItemSerdeError::wrong_type("a list", other.type_name())),
    }
}

/// Visits a map whose values sit inside `depth` lists and maps.
fn visit_map<'de, V: Visitor<'de>>(
    value: Owned,
    depth: usize,
    v: V,
) -> Result<V::Value, ItemSerdeError> {
    match value {
        Owned::M(m) => v.visit_map(MapDe {
            entries: m.into_iter(),
            depth,
            current: None,
        }),
        other => Err(ItemSerdeError::wrong_type("a map", other.type_name())),
    }
}

/// The elements of an `L` (or of a set or binary, read as a sequence).
struct SeqDe {
    items: std::vec::IntoIter<AttributeValue>,
    /// Lists and maps around each element.
    depth: usize,
    index: usize,
}

impl<'de> de::SeqAccess<'de> for SeqDe {
    type Error = ItemSerdeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, ItemSerdeError> {
        let Some(value) = self.items.next() else {
            return Ok(None);
        };
        let i = self.index;
        self.index += 1;
        if too_deep(self.depth) {
            return Err(ItemSerdeError::new(ItemSerdeErrorKind::TooDeep).at_index(i));
        }
        seed.deserialize(De {
            value,
            children: self.depth + 1,
        })
        .map(Some)
        .map_err(|e| e.at_index(i))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

/// The entries of an `M`.
struct MapDe {
    entries: btree_map::IntoIter<Name, AttributeValue>,
    /// Lists and maps around each value.
    depth: usize,
    /// The entry whose key was read and whose value is next.
    current: Option<(Name, AttributeValue)>,
}

impl<'de> de::MapAccess<'de> for MapDe {
    type Error = ItemSerdeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ItemSerdeError> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        let k: StringDeserializer<ItemSerdeError> = key.to_string().into_deserializer();
        let out = seed.deserialize(k).map_err(|e| e.at_field(&key))?;
        self.current = Some((key, value));
        Ok(Some(out))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, ItemSerdeError> {
        let (key, value) = self.current.take().ok_or_else(|| {
            <ItemSerdeError as de::Error>::custom("next_value called before next_key")
        })?;
        if too_deep(self.depth) {
            return Err(ItemSerdeError::new(ItemSerdeErrorKind::TooDeep).at_field(&key));
        }
        seed.deserialize(De {
            value,
            children: self.depth + 1,
        })
        .map_err(|e| e.at_field(&key))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// An enum stored as a map with one key: the variant name and its data.
struct EnumDe {
    variant: String,
    value: AttributeValue,
    /// Lists and maps around the elements of `value`.
    children: usize,
}

impl<'de> de::EnumAccess<'de> for EnumDe {
    type Error = ItemSerdeError;
    type Variant = VariantDe;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, VariantDe), ItemSerdeError> {
        let k: StringDeserializer<ItemSerdeError> = self.variant.clone().into_deserializer();
        let v = seed.deserialize(k)?;
        Ok((
            v,
            VariantDe {
                variant: self.variant,
                de: De {
                    value: self.value,
                    children: self.children,
                },
            },
        ))
    }
}

struct VariantDe {
    variant: String,
    de: De,
}

impl<'de> de::VariantAccess<'de> for VariantDe {
    type Error = ItemSerdeError;

    fn unit_variant(self) -> Result<(), ItemSerdeError> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<T::Value, ItemSerdeError> {
        seed.deserialize(self.de)
            .map_err(|e| e.at_field(&self.variant))
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, v: V) -> Result<V::Value, ItemSerdeError> {
        de::Deserializer::deserialize_seq(self.de, v).map_err(|e| e.at_field(&self.variant))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, ItemSerdeError> {
        de::Deserializer::deserialize_map(self.de, v).map_err(|e| e.at_field(&self.variant))
    }
}
