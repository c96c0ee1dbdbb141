//! A serde deserializer over one string: URI template variables and prompt arguments are
//! strings on the wire, and become typed parameters (`u32`, `bool`, unit enums, `Option<T>`, …).

use serde::de::value::Error;
use serde::de::{Error as _, IntoDeserializer, Visitor};
use serde::{Deserializer, forward_to_deserialize_any};

/// One string, read as whatever the target type asks for.
pub(crate) struct StrArg<'a>(pub(crate) &'a str);

macro_rules! parse_as {
    ($($method:ident => $visit:ident: $t:ty,)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            match self.0.trim().parse::<$t>() {
                Ok(v) => visitor.$visit(v),
                Err(_) => Err(Error::custom(format!("expected {}, got {:?}", stringify!($t), self.0))),
            }
        }
    )*};
}

impl<'de> Deserializer<'de> for StrArg<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_str(self.0)
    }

    parse_as! {
        deserialize_bool => visit_bool: bool,
        deserialize_i8 => visit_i8: i8,
        deserialize_i16 => visit_i16: i16,
        deserialize_i32 => visit_i32: i32,
        deserialize_i64 => visit_i64: i64,
        deserialize_u8 => visit_u8: u8,
        deserialize_u16 => visit_u16: u16,
        deserialize_u32 => visit_u32: u32,
        deserialize_u64 => visit_u64: u64,
        deserialize_f32 => visit_f32: f32,
        deserialize_f64 => visit_f64: f64,
        deserialize_char => visit_char: char,
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_enum(self.0.into_deserializer())
    }

    forward_to_deserialize_any! {
        i128 u128 str string bytes byte_buf unit unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Debug, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum Lang {
        Rust,
        Go,
    }

    #[test]
    fn strings_become_typed_values() {
        assert_eq!(u32::deserialize(StrArg("42")).unwrap(), 42);
        assert!(
            u32::deserialize(StrArg("-1"))
                .unwrap_err()
                .to_string()
                .contains("expected u32")
        );
        assert!(bool::deserialize(StrArg("true")).unwrap());
        assert_eq!(String::deserialize(StrArg("hi")).unwrap(), "hi");
        assert_eq!(Option::<u8>::deserialize(StrArg("7")).unwrap(), Some(7));
        assert_eq!(Lang::deserialize(StrArg("go")).unwrap(), Lang::Go);
        assert!(Lang::deserialize(StrArg("cobol")).is_err());
    }
}
