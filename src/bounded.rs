//! Integers with a documented range, checked once at construction.

/// A number outside the range its field allows.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[error("`{value}` is out of range: must be {min}..={max}")]
pub struct RangeError {
    /// The value that was given.
    pub value: i64,
    /// The smallest allowed value.
    pub min: i64,
    /// The largest allowed value.
    pub max: i64,
}

/// Declares a newtype over an unsigned integer whose value is always in `MIN..=MAX`.
///
/// The type deserializes from a JSON integer (anything else, including floats, negative or huge
/// numbers, is an error naming the value) and serializes as the plain integer.
macro_rules! bounded_int {
    ($(#[$doc:meta])* $name:ident: $inner:ty = $min:literal ..= $max:literal) => {
        $crate::bounded::bounded_int!($(#[$doc])* $name: $inner = $min..=$max, default $min);
    };
    ($(#[$doc:meta])* $name:ident: $inner:ty = $min:literal ..= $max:literal, default $default:literal) => {
        $(#[$doc])*
        #[doc = ""]
        #[doc = concat!("Always within `", stringify!($min), "..=", stringify!($max), "`.")]
        #[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "i64", into = "i64")]
        pub struct $name($inner);

        impl $name {
            /// The smallest allowed value.
            pub const MIN: Self = Self($min);
            /// The largest allowed value.
            pub const MAX: Self = Self($max);
            #[doc = concat!("The default: `", stringify!($default), "`.")]
            pub const DEFAULT: Self = {
                assert!($min <= $default && $default <= $max);
                Self($default)
            };

            /// Checks that `value` is in range.
            ///
            /// # Errors
            ///
            /// [`RangeError`](crate::RangeError) naming the value and the range.
            pub fn new(value: i64) -> Result<Self, $crate::bounded::RangeError> {
                let err = || $crate::bounded::RangeError { value, min: $min, max: $max };
                if !($min..=$max).contains(&value) {
                    return Err(err());
                }
                <$inner>::try_from(value).map(Self).map_err(|_| err())
            }

            /// The value.
            #[must_use]
            pub const fn get(self) -> $inner {
                self.0
            }
        }

        impl TryFrom<i64> for $name {
            type Error = $crate::bounded::RangeError;

            fn try_from(value: i64) -> Result<Self, Self::Error> {
                Self::new(value)
            }
        }

        impl From<$name> for i64 {
            fn from(value: $name) -> i64 {
                i64::from(value.0)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Display::fmt(&self.0, f)
            }
        }
    };
}

pub(crate) use bounded_int;
