//! A small non-empty set of enum values, written as a JSON array.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

/// A non-empty set of distinct values, kept in the values' natural order.
///
/// Its JSON form is an array. Reading one rejects an empty array and repeated values, so
/// `["api", "api"]` is an error rather than a silently shorter set.
#[derive(Clone, Eq, Hash, PartialEq)]
pub struct NonEmptySet<T>(Vec<T>);

/// Why values do not form a [`NonEmptySet`].
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SetError {
    /// No values were given.
    #[error("must list at least one value")]
    Empty,
    /// A value was given twice.
    #[error("`{value}` is listed more than once")]
    Duplicate {
        /// The repeated value.
        value: String,
    },
}

impl<T: Copy + Ord + fmt::Display> NonEmptySet<T> {
    /// Builds a set from `values`.
    ///
    /// # Errors
    ///
    /// [`SetError::Empty`] for no values, [`SetError::Duplicate`] for a repeated one.
    pub fn new(values: impl IntoIterator<Item = T>) -> Result<Self, SetError> {
        let mut values: Vec<T> = values.into_iter().collect();
        values.sort_unstable();
        if let Some(pair) = values.windows(2).find(|w| w.first() == w.get(1)) {
            let value = pair.first().map(ToString::to_string).unwrap_or_default();
            return Err(SetError::Duplicate { value });
        }
        if values.is_empty() {
            return Err(SetError::Empty);
        }
        Ok(Self(values))
    }

    /// The set holding `value` alone.
    #[must_use]
    pub fn single(value: T) -> Self {
        Self(vec![value])
    }

    /// This set with `value` added.
    #[must_use]
    pub fn with(mut self, value: T) -> Self {
        if let Err(at) = self.0.binary_search(&value) {
            self.0.insert(at, value);
        }
        self
    }

    /// Whether `value` is in the set.
    #[must_use]
    pub fn contains(&self, value: T) -> bool {
        self.0.binary_search(&value).is_ok()
    }

    /// The values in order.
    pub fn iter(&self) -> impl Iterator<Item = T> + '_ {
        self.0.iter().copied()
    }

    /// The values in order, as a slice.
    #[must_use]
    pub fn as_slice(&self) -> &[T] {
        &self.0
    }
}

impl<T: fmt::Debug> fmt::Debug for NonEmptySet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(&self.0).finish()
    }
}

impl<T: Serialize> Serialize for NonEmptySet<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de, T> Deserialize<'de> for NonEmptySet<T>
where
    T: Copy + Ord + fmt::Display + Deserialize<'de>,
{
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let values = Vec::<T>::deserialize(d)?;
        Self::new(values).map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_sorted_and_duplicates_refused() {
        let set = NonEmptySet::new([3, 1, 2]).unwrap();
        assert_eq!(set.as_slice(), &[1, 2, 3]);
        assert_eq!(
            NonEmptySet::new([1, 1]).unwrap_err(),
            SetError::Duplicate { value: "1".into() }
        );
        assert_eq!(NonEmptySet::<u8>::new([]).unwrap_err(), SetError::Empty);
    }
}
