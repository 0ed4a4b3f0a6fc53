//! Reading JSON strictly: a key repeated within one object is an error naming its path.
//!
//! serde_json keeps the last of two equal keys (`{"a": true, "a": false}` reads as
//! `{"a": false}`), and other readers keep the first. For a security policy that ambiguity is
//! itself the fault: a proxy, a linter or a reviewer may see one value while this crate enforces
//! the other. Every settings document and update is therefore read through [`parse`], which
//! builds the same [`Value`] but refuses a repeated key.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use super::SettingsError;
use crate::quote::shorten;

/// Parses `text` as JSON, refusing a key repeated within one object.
///
/// # Errors
///
/// [`SettingsError::DuplicateField`] with the repeated key's path, or
/// [`SettingsError::Syntax`] with the line and column of malformed JSON.
pub(crate) fn parse(text: &str) -> Result<Value, SettingsError> {
    if text.trim_start().is_empty() {
        return Err(SettingsError::Syntax {
            line: 1,
            column: 1,
            message: "the document is empty; expected a JSON object".into(),
        });
    }
    let duplicate = RefCell::new(None);
    let mut reader = serde_json::Deserializer::from_str(text);
    let parsed = StrictValue {
        path: String::new(),
        duplicate: &duplicate,
    }
    .deserialize(&mut reader)
    .and_then(|value| reader.end().map(|()| value));
    parsed.map_err(|e| match duplicate.into_inner() {
        Some(path) => SettingsError::DuplicateField {
            path,
            line: e.line(),
            column: e.column(),
        },
        None => SettingsError::syntax(&e),
    })
}

/// Reads any serde input into a [`Value`], refusing a key repeated within one object; the
/// error message names the key's path.
pub(crate) fn deserialize_strict<'de, D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
    let duplicate = RefCell::new(None);
    StrictValue {
        path: String::new(),
        duplicate: &duplicate,
    }
    .deserialize(d)
}

/// A [`Value`] being read at `path`; the first repeated key's path goes to `duplicate`.
struct StrictValue<'a> {
    path: String,
    duplicate: &'a RefCell<Option<String>>,
}

impl StrictValue<'_> {
    fn child(&self, segment: fmt::Arguments<'_>) -> Self {
        Self {
            path: format!("{}{segment}", self.path),
            duplicate: self.duplicate,
        }
    }

    fn key_path(&self, key: &str) -> String {
        let key = shorten(key);
        if self.path.is_empty() {
            key
        } else {
            format!("{}.{key}", self.path)
        }
    }
}

impl<'de> DeserializeSeed<'de> for StrictValue<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictValue<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom(format_args!("`{v}` is not a finite number")))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        self.deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) =
            seq.next_element_seed(self.child(format_args!("[{}]", items.len())))?
        {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = self.key_path(&key);
            if object.contains_key(&key) {
                let message = format!("duplicate field `{path}`");
                self.duplicate.replace(Some(path));
                return Err(de::Error::custom(message));
            }
            let value = map.next_value_seed(StrictValue {
                path,
                duplicate: self.duplicate,
            })?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_value_as_serde_json_without_duplicates() {
        let text = r#"{"a": [1, -2, 3.5, "x", null, true, {"b": {}}], "c": 18446744073709551615}"#;
        let strict = parse(text).unwrap();
        let loose: Value = serde_json::from_str(text).unwrap();
        assert_eq!(strict, loose);
    }

    #[test]
    fn a_duplicate_inside_a_list_item_is_named_with_its_index() {
        let err = parse(r#"{"a": [{}, {"b": 1, "b": 1}]}"#).unwrap_err();
        assert_eq!(err.path(), "a[1].b");
        assert!(
            matches!(err, SettingsError::DuplicateField { line: 1, .. }),
            "{err}"
        );
    }

    #[test]
    fn equal_keys_in_different_objects_are_not_duplicates() {
        assert!(parse(r#"{"a": {"x": 1}, "b": {"x": 1}}"#).is_ok());
    }

    /// serde_json puts an end of input just after a newline in column 0; positions here are
    /// 1-based, as the variant says.
    #[test]
    fn an_unexpected_end_after_a_newline_is_in_column_one() {
        assert!(matches!(
            parse("{\n"),
            Err(SettingsError::Syntax {
                line: 2,
                column: 1,
                ..
            })
        ));
    }

    #[test]
    fn trailing_text_and_deep_nesting_are_syntax_errors() {
        assert!(matches!(parse("{} {}"), Err(SettingsError::Syntax { .. })));
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(matches!(parse(&deep), Err(SettingsError::Syntax { .. })));
    }
}
