//! Where the service's randomness comes from: the OS by default, a seeded source in tests.

use std::fmt;

/// A source of cryptographically secure random bytes for new keys, salts and secrets.
///
/// The core never draws randomness; the service, at the edge, asks this source. The default is
/// [`OsEntropy`]. Any `Fn(&mut [u8]) -> Result<(), EntropyError> + Send + Sync` is a source
/// too, which is how tests plug in a seeded generator.
///
/// # Examples
///
/// ```
/// use std::sync::Mutex;
/// use rand::{Rng, SeedableRng, rngs::StdRng};
/// use whale_security::service::{Entropy, EntropyError, OsEntropy};
///
/// let mut bytes = [0_u8; 32];
/// OsEntropy.fill(&mut bytes)?;
///
/// // A deterministic source for tests (never in production).
/// let rng = Mutex::new(StdRng::seed_from_u64(7));
/// let seeded = move |dest: &mut [u8]| -> Result<(), EntropyError> {
///     rng.lock().map_err(|_| EntropyError::new("poisoned"))?.fill_bytes(dest);
///     Ok(())
/// };
/// seeded.fill(&mut bytes)?;
/// # Ok::<(), EntropyError>(())
/// ```
pub trait Entropy: Send + Sync {
    /// Fills `dest` with random bytes.
    ///
    /// # Errors
    ///
    /// [`EntropyError`] when the source cannot deliver; the caller must then fail, never fall
    /// back to weaker randomness.
    fn fill(&self, dest: &mut [u8]) -> Result<(), EntropyError>;
}

/// The operating system's random generator (`getrandom`).
#[derive(Clone, Copy, Debug, Default)]
pub struct OsEntropy;

impl Entropy for OsEntropy {
    fn fill(&self, dest: &mut [u8]) -> Result<(), EntropyError> {
        getrandom::fill(dest).map_err(|e| EntropyError::new(e.to_string()))
    }
}

impl<F: Fn(&mut [u8]) -> Result<(), EntropyError> + Send + Sync> Entropy for F {
    fn fill(&self, dest: &mut [u8]) -> Result<(), EntropyError> {
        self(dest)
    }
}

/// The random source failed.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[error("the random source failed: {detail}")]
pub struct EntropyError {
    detail: String,
}

impl EntropyError {
    /// An error saying what the source reported.
    #[must_use]
    pub fn new(detail: impl Into<String>) -> Self {
        Self {
            detail: detail.into(),
        }
    }
}

/// The boxed source a service holds.
pub(super) struct Source(pub(super) Box<dyn Entropy>);

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Entropy(..)")
    }
}
