//! Identifiers in the spec's prefixed forms: `store_…`, `user_…`, `ip_…`, `key_…`.
//!
//! An id is its prefix followed by 1 to 64 ASCII letters, digits or underscores. Ids are opaque:
//! two ids are equal when their text is equal.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::quote::shorten;

/// Why a string is not an id of the expected kind.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum IdError {
    /// The text does not start with the kind's prefix.
    #[error("`{text}` must start with `{prefix}`")]
    MissingPrefix {
        /// The text that was given.
        text: String,
        /// The prefix the kind requires.
        prefix: &'static str,
    },
    /// Nothing follows the prefix, or more than 64 characters do.
    #[error("`{text}` must have 1 to {MAX_SUFFIX_LEN} characters after `{prefix}`")]
    Length {
        /// The text that was given.
        text: String,
        /// The prefix the kind requires.
        prefix: &'static str,
    },
    /// A character after the prefix is not an ASCII letter, digit or underscore.
    #[error("`{text}` may only contain ASCII letters, digits and `_` after `{prefix}`")]
    Character {
        /// The text that was given.
        text: String,
        /// The prefix the kind requires.
        prefix: &'static str,
    },
}

/// The longest suffix an id may have after its prefix.
pub const MAX_SUFFIX_LEN: usize = 64;

fn check(text: &str, prefix: &'static str) -> Result<(), IdError> {
    let Some(suffix) = text.strip_prefix(prefix) else {
        return Err(IdError::MissingPrefix {
            text: shorten(text),
            prefix,
        });
    };
    if suffix.is_empty() || suffix.len() > MAX_SUFFIX_LEN {
        return Err(IdError::Length {
            text: shorten(text),
            prefix,
        });
    }
    if !suffix
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Err(IdError::Character {
            text: shorten(text),
            prefix,
        });
    }
    Ok(())
}

macro_rules! prefixed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The prefix every id of this kind starts with.
            pub const PREFIX: &'static str = $prefix;

            /// Checks `text` and wraps it.
            ///
            /// # Errors
            ///
            /// [`IdError`] when the prefix is missing, the suffix is empty or longer than
            /// 64 characters, or it holds anything but ASCII letters, digits and `_`.
            pub fn new(text: impl Into<String>) -> Result<Self, IdError> {
                let text = text.into();
                check(&text, $prefix)?;
                Ok(Self(text))
            }

            /// The id's text, prefix included.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = IdError;

            fn from_str(text: &str) -> Result<Self, IdError> {
                Self::new(text)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;

            fn try_from(text: String) -> Result<Self, IdError> {
                Self::new(text)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

prefixed_id!(
    /// A store's id, such as `store_a1b2c3d4`.
    StoreId,
    "store_"
);
prefixed_id!(
    /// A team member's id, such as `user_d4e5f6a7`.
    UserId,
    "user_"
);
prefixed_id!(
    /// An IP allowlist entry's id, such as `ip_a1b2c3`.
    EntryId,
    "ip_"
);
prefixed_id!(
    /// An API key's id (not the key itself), such as `key_7f3a9c`.
    KeyId,
    "key_"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_ids_parse() {
        assert_eq!(
            StoreId::new("store_a1b2c3d4").unwrap().as_str(),
            "store_a1b2c3d4"
        );
        assert!(UserId::new("user_d4e5f6a7").is_ok());
        assert!(EntryId::new("ip_a7b8c9").is_ok());
    }

    #[test]
    fn wrong_prefix_is_rejected_with_the_expected_prefix() {
        let err = UserId::new("store_a1").unwrap_err();
        assert_eq!(err.to_string(), "`store_a1` must start with `user_`");
    }

    #[test]
    fn empty_suffix_and_odd_characters_are_rejected() {
        assert!(matches!(EntryId::new("ip_"), Err(IdError::Length { .. })));
        assert!(matches!(
            EntryId::new("ip_a b"),
            Err(IdError::Character { .. })
        ));
        assert!(matches!(
            EntryId::new("ip_é"),
            Err(IdError::Character { .. })
        ));
        assert!(matches!(
            EntryId::new(format!("ip_{}", "a".repeat(65))),
            Err(IdError::Length { .. })
        ));
    }

    #[test]
    fn long_input_is_shortened_in_the_message() {
        let err = UserId::new("x".repeat(10_000)).unwrap_err();
        assert!(err.to_string().len() < 200);
    }
}
