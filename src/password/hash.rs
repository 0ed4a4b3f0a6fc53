//! Argon2id password hashes in PHC form, with the stored cost bounded before verifying.

use std::fmt;

use argon2::password_hash::phc;
use argon2::{Algorithm, Argon2, Params, Version};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::password::{NormalizedPassword, PasswordError};

/// Argon2id cost parameters for new hashes.
///
/// The default is OWASP's (m = 19456 KiB, t = 2, p = 1): 20 to 35 ms per hash in a release build
/// here (`cargo bench --bench password`).
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub struct HashParams {
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
}

impl HashParams {
    /// OWASP's Argon2id recommendation: m = 19456 KiB (19 MiB), t = 2, p = 1.
    pub const OWASP: Self = Self {
        memory_kib: 19_456,
        iterations: 2,
        parallelism: 1,
    };

    /// Cost parameters for new hashes.
    ///
    /// Ranges: `memory_kib` in `8 × parallelism..=4_194_304` (4 GiB), `iterations` in
    /// `1..=1024`, `parallelism` in `1..=64`. Hashes made with parameters over the
    /// [`HashLimits`] used at verification cannot be verified later.
    ///
    /// # Errors
    ///
    /// [`PasswordError::InvalidHashParams`] naming the first parameter out of range.
    ///
    /// # Examples
    ///
    /// ```
    /// use whale_security::password::HashParams;
    ///
    /// let cheap = HashParams::new(64, 1, 1)?;
    /// assert_eq!(cheap.memory_kib(), 64);
    /// assert!(HashParams::new(7, 1, 1).is_err());
    /// assert!(HashParams::new(64, 0, 1).is_err());
    /// # Ok::<(), whale_security::password::PasswordError>(())
    /// ```
    pub fn new(memory_kib: u32, iterations: u32, parallelism: u32) -> Result<Self, PasswordError> {
        let check = |param, value: u32, min: u32, max: u32| {
            if (min..=max).contains(&value) {
                Ok(())
            } else {
                Err(PasswordError::InvalidHashParams {
                    param,
                    value: value.into(),
                    min: min.into(),
                    max: max.into(),
                })
            }
        };
        check("p", parallelism, 1, 64)?;
        check("t", iterations, 1, 1024)?;
        check("m", memory_kib, parallelism.saturating_mul(8), 4_194_304)?;
        Ok(Self {
            memory_kib,
            iterations,
            parallelism,
        })
    }

    /// Memory in KiB (`m`).
    #[must_use]
    pub const fn memory_kib(self) -> u32 {
        self.memory_kib
    }

    /// Passes over memory (`t`).
    #[must_use]
    pub const fn iterations(self) -> u32 {
        self.iterations
    }

    /// Lanes (`p`).
    #[must_use]
    pub const fn parallelism(self) -> u32 {
        self.parallelism
    }

    fn argon2(self, output_len: usize) -> Result<Argon2<'static>, PasswordError> {
        let params = Params::new(
            self.memory_kib,
            self.iterations,
            self.parallelism,
            Some(output_len),
        )
        .map_err(|e| PasswordError::Argon2(e.to_string()))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

impl Default for HashParams {
    fn default() -> Self {
        Self::OWASP
    }
}

/// The most work a stored hash may demand before it is verified.
///
/// A PHC string carries its own cost and Argon2 obeys it, so a tampered `t=4294967295` or
/// `m=4294967295` would burn CPU or memory for as long as the attacker likes. Every stored hash
/// is checked against these limits when it is parsed, before any hashing.
///
/// Defaults: `m ≤ 262_144` KiB (256 MiB), `t ≤ 16`, `p ≤ 16`, and `m × t ≤ 262_144` KiB-passes
/// (about 6.7 times the OWASP default's work, so room for RFC 9106's 64 MiB, t = 3 profile).
/// Always enforced on top: algorithm `argon2id`, version 19, salt 8..=48 bytes, output
/// 16..=64 bytes.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct HashLimits {
    max_memory_kib: u32,
    max_iterations: u32,
    max_parallelism: u32,
    max_work: u64,
}

impl HashLimits {
    /// The documented defaults.
    pub const DEFAULT: Self = Self {
        max_memory_kib: 262_144,
        max_iterations: 16,
        max_parallelism: 16,
        max_work: 262_144,
    };

    /// Custom limits; `max_work` bounds `m × t` in KiB-passes.
    ///
    /// Ranges: `max_memory_kib` `8..=4_194_304`, `max_iterations` `1..=1024`,
    /// `max_parallelism` `1..=64`, `max_work` `8..=4_294_967_296`.
    ///
    /// # Errors
    ///
    /// [`PasswordError::InvalidHashLimits`] naming the first limit out of range.
    pub fn new(
        max_memory_kib: u32,
        max_iterations: u32,
        max_parallelism: u32,
        max_work: u64,
    ) -> Result<Self, PasswordError> {
        let check = |limit, value: u64, min: u64, max: u64| {
            if (min..=max).contains(&value) {
                Ok(())
            } else {
                Err(PasswordError::InvalidHashLimits {
                    limit,
                    value,
                    min,
                    max,
                })
            }
        };
        check("max_memory_kib", max_memory_kib.into(), 8, 4_194_304)?;
        check("max_iterations", max_iterations.into(), 1, 1024)?;
        check("max_parallelism", max_parallelism.into(), 1, 64)?;
        check("max_work", max_work, 8, 1 << 32)?;
        Ok(Self {
            max_memory_kib,
            max_iterations,
            max_parallelism,
            max_work,
        })
    }

    /// Whether hashes made with `params` can be verified under these limits.
    #[must_use]
    pub fn admits(&self, params: HashParams) -> bool {
        self.check(params).is_ok()
    }

    fn check(&self, params: HashParams) -> Result<(), PasswordError> {
        let bound = |param, value: u64, min: u64, max: u64| {
            if (min..=max).contains(&value) {
                Ok(())
            } else {
                Err(PasswordError::HashParamOutOfBounds {
                    param,
                    value,
                    min,
                    max,
                })
            }
        };
        bound(
            "p",
            params.parallelism.into(),
            1,
            self.max_parallelism.into(),
        )?;
        bound("t", params.iterations.into(), 1, self.max_iterations.into())?;
        bound(
            "m",
            params.memory_kib.into(),
            u64::from(params.parallelism).saturating_mul(8),
            self.max_memory_kib.into(),
        )?;
        let work = u64::from(params.memory_kib).saturating_mul(params.iterations.into());
        bound("m*t", work, 1, self.max_work)
    }
}

impl Default for HashLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A stored Argon2id hash in PHC form (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`), whose cost
/// is known to be within [`HashLimits`].
///
/// The salt and output are secret-adjacent: `Debug` shows only the cost parameters, and the
/// string is zeroized on drop.
///
/// # Examples
///
/// ```
/// use whale_security::password::{
///     HashLimits, HashParams, NormalizedPassword, PasswordError, PasswordHash, PasswordMatch,
///     hash_password, verify_password,
/// };
///
/// let params = HashParams::new(64, 1, 1)?; // cheap, for the example only
/// let password = NormalizedPassword::new("Harbor-Lantern42")?;
/// let stored = hash_password(&password, &[7; 16], params)?;
/// assert!(stored.as_phc().starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
///
/// let reloaded = PasswordHash::parse(stored.as_phc(), &HashLimits::DEFAULT)?;
/// assert_eq!(verify_password(&password, &reloaded)?, PasswordMatch::Match);
///
/// // A tampered cost is refused before any hashing.
/// let tampered = stored.as_phc().replace("t=1", "t=4294967295");
/// assert!(matches!(
///     PasswordHash::parse(&tampered, &HashLimits::DEFAULT),
///     Err(PasswordError::HashParamOutOfBounds { param: "t", value: 4294967295, .. })
/// ));
/// # Ok::<(), PasswordError>(())
/// ```
#[derive(Clone)]
pub struct PasswordHash {
    phc: Zeroizing<String>,
    params: HashParams,
    salt: Zeroizing<Vec<u8>>,
    output: Zeroizing<Vec<u8>>,
}

impl PasswordHash {
    /// Parses a stored PHC string and checks its algorithm, version, cost and sizes.
    ///
    /// No hashing happens here; the cost is O(length of `text`).
    ///
    /// # Errors
    ///
    /// [`PasswordError::MalformedHash`], [`PasswordError::UnsupportedAlgorithm`] (anything but
    /// `argon2id`), [`PasswordError::UnsupportedVersion`] (anything but 19), or
    /// [`PasswordError::HashParamOutOfBounds`] for `m`, `t`, `p`, `m*t`, the salt length or the
    /// output length.
    pub fn parse(text: &str, limits: &HashLimits) -> Result<Self, PasswordError> {
        if text.len() > MAX_PHC_LEN {
            return Err(PasswordError::MalformedHash);
        }
        let parsed = phc::PasswordHash::new(text).map_err(|_| PasswordError::MalformedHash)?;
        if parsed.algorithm.as_str() != "argon2id" {
            return Err(PasswordError::UnsupportedAlgorithm {
                algorithm: parsed.algorithm.as_str().to_owned(),
            });
        }
        let version = parsed.version.unwrap_or(0);
        if version != 0x13 {
            return Err(PasswordError::UnsupportedVersion { version });
        }
        // Our bounds first, so an absurd value is reported as such; then argon2's own checks.
        let mut cost = [None::<u32>; 3];
        for (ident, value) in parsed.params.iter() {
            let slot = match ident.as_str() {
                "m" => cost.get_mut(0),
                "t" => cost.get_mut(1),
                "p" => cost.get_mut(2),
                _ => return Err(PasswordError::MalformedHash),
            };
            let decimal = value.decimal().map_err(|_| PasswordError::MalformedHash)?;
            if let Some(slot) = slot {
                *slot = Some(decimal);
            }
        }
        let [Some(memory_kib), Some(iterations), Some(parallelism)] = cost else {
            return Err(PasswordError::MalformedHash);
        };
        let params = HashParams {
            memory_kib,
            iterations,
            parallelism,
        };
        limits.check(params)?;
        Params::try_from(&parsed).map_err(|_| PasswordError::MalformedHash)?;

        let salt = parsed.salt.ok_or(PasswordError::MalformedHash)?;
        let output = parsed.hash.ok_or(PasswordError::MalformedHash)?;
        let sizes = |param, value: usize, min: usize, max: usize| {
            if (min..=max).contains(&value) {
                Ok(())
            } else {
                Err(PasswordError::HashParamOutOfBounds {
                    param,
                    value: value as u64,
                    min: min as u64,
                    max: max as u64,
                })
            }
        };
        sizes("salt length", salt.len(), 8, 48)?;
        sizes("output length", output.len(), 16, 64)?;
        Ok(Self {
            phc: Zeroizing::new(text.to_owned()),
            params,
            salt: Zeroizing::new(salt.as_ref().to_vec()),
            output: Zeroizing::new(output.as_bytes().to_vec()),
        })
    }

    /// The PHC string, for storage.
    #[must_use]
    pub fn as_phc(&self) -> &str {
        &self.phc
    }

    /// The cost parameters this hash was made with.
    #[must_use]
    pub fn params(&self) -> HashParams {
        self.params
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordHash")
            .field("algorithm", &"argon2id")
            .field("m", &self.params.memory_kib)
            .field("t", &self.params.iterations)
            .field("p", &self.params.parallelism)
            .finish_non_exhaustive()
    }
}

/// Whether a password matches a stored hash.
#[must_use]
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum PasswordMatch {
    /// The password produces the stored hash.
    Match,
    /// It does not.
    Mismatch,
}

/// Whether a stored hash should be replaced at the member's next successful login.
#[must_use]
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum Rehash {
    /// The hash uses exactly the current parameters.
    Current,
    /// The hash uses other parameters (weaker or stronger); rehash with `to`.
    Needed {
        /// The parameters the stored hash uses.
        from: HashParams,
        /// The parameters to use now.
        to: HashParams,
    },
}

/// Hashes a normalized password with Argon2id v19, a 32-byte output and the caller's salt.
///
/// The salt must come from a cryptographically secure RNG, fresh for every hash; the core has
/// no RNG of its own. Cost: one Argon2id run at `params` (20 to 35 ms in release at
/// [`HashParams::OWASP`]).
///
/// # Errors
///
/// [`PasswordError::Argon2`] when Argon2 cannot run (memory allocation failed).
pub fn hash_password(
    password: &NormalizedPassword,
    salt: &[u8; 16],
    params: HashParams,
) -> Result<PasswordHash, PasswordError> {
    let mut output = Zeroizing::new(vec![0_u8; OUTPUT_LEN]);
    params
        .argon2(OUTPUT_LEN)?
        .hash_password_into(password.expose().as_bytes(), salt, &mut output)
        .map_err(|e| PasswordError::Argon2(e.to_string()))?;
    let salt_phc = phc::Salt::new(salt).map_err(|e| PasswordError::Argon2(e.to_string()))?;
    let output_phc = phc::Output::new(&output).map_err(|e| PasswordError::Argon2(e.to_string()))?;
    let phc = Zeroizing::new(format!(
        "$argon2id$v=19$m={},t={},p={}${}${}",
        params.memory_kib,
        params.iterations,
        params.parallelism,
        &*salt_phc.to_salt_string(),
        output_phc
    ));
    Ok(PasswordHash {
        phc,
        params,
        salt: Zeroizing::new(salt.to_vec()),
        output,
    })
}

/// Checks a normalized password against a stored hash, comparing in constant time.
///
/// Cost: one Argon2id run at the hash's own parameters, which [`PasswordHash::parse`] has
/// already bounded.
///
/// # Errors
///
/// [`PasswordError::Argon2`] when Argon2 cannot run.
pub fn verify_password(
    password: &NormalizedPassword,
    hash: &PasswordHash,
) -> Result<PasswordMatch, PasswordError> {
    let mut computed = Zeroizing::new(vec![0_u8; hash.output.len()]);
    hash.params
        .argon2(hash.output.len())?
        .hash_password_into(password.expose().as_bytes(), &hash.salt, &mut computed)
        .map_err(|e| PasswordError::Argon2(e.to_string()))?;
    Ok(if bool::from(computed.ct_eq(&hash.output)) {
        PasswordMatch::Match
    } else {
        PasswordMatch::Mismatch
    })
}

/// Whether `hash` should be recomputed with `current` parameters at the next login.
///
/// # Examples
///
/// ```
/// use whale_security::password::{
///     HashParams, NormalizedPassword, Rehash, hash_password, needs_rehash,
/// };
///
/// let old = HashParams::new(64, 1, 1)?;
/// let stored = hash_password(&NormalizedPassword::new("Harbor-Lantern42")?, &[1; 16], old)?;
/// assert_eq!(needs_rehash(&stored, old), Rehash::Current);
/// assert!(matches!(needs_rehash(&stored, HashParams::OWASP), Rehash::Needed { .. }));
/// # Ok::<(), whale_security::password::PasswordError>(())
/// ```
pub fn needs_rehash(hash: &PasswordHash, current: HashParams) -> Rehash {
    if hash.params == current && hash.output.len() == OUTPUT_LEN {
        Rehash::Current
    } else {
        Rehash::Needed {
            from: hash.params,
            to: current,
        }
    }
}

/// The longest PHC string accepted: far above any argon2id string with the bounded sizes.
const MAX_PHC_LEN: usize = 512;

/// Argon2id output length of new hashes, in bytes.
const OUTPUT_LEN: usize = 32;

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> HashParams {
        HashParams::new(64, 1, 1).unwrap()
    }

    fn pw(text: &str) -> NormalizedPassword {
        NormalizedPassword::new(text).unwrap()
    }

    #[test]
    fn hash_round_trips_through_phc_and_verifies() {
        let h = hash_password(&pw("Harbor-Lantern42"), &[3; 16], cheap()).unwrap();
        let back = PasswordHash::parse(h.as_phc(), &HashLimits::DEFAULT).unwrap();
        assert_eq!(
            verify_password(&pw("Harbor-Lantern42"), &back).unwrap(),
            PasswordMatch::Match
        );
        assert_eq!(
            verify_password(&pw("Harbor-Lantern43"), &back).unwrap(),
            PasswordMatch::Mismatch
        );
    }

    #[test]
    fn our_hash_verifies_with_the_reference_verifier() {
        use argon2::password_hash::PasswordVerifier;
        let h = hash_password(&pw("Harbor-Lantern42"), &[9; 16], cheap()).unwrap();
        let parsed = phc::PasswordHash::new(h.as_phc()).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"Harbor-Lantern42", &parsed)
                .is_ok()
        );
    }

    #[test]
    fn tampered_costs_are_refused_before_hashing() {
        let h = hash_password(&pw("x"), &[3; 16], cheap()).unwrap();
        let phc = h.as_phc();
        for (from, to, param) in [
            ("t=1", "t=4294967295", "t"),
            ("m=64", "m=4294967295", "m"),
            ("p=1", "p=255", "p"),
            ("m=64,t=1", "m=262144,t=2", "m*t"),
        ] {
            let err =
                PasswordHash::parse(&phc.replace(from, to), &HashLimits::DEFAULT).unwrap_err();
            assert!(
                matches!(err, PasswordError::HashParamOutOfBounds { param: p, .. } if p == param),
                "{to}: {err}"
            );
        }
    }

    #[test]
    fn other_algorithms_versions_and_garbage_are_refused() {
        let h = hash_password(&pw("x"), &[3; 16], cheap()).unwrap();
        let phc = h.as_phc();
        assert!(matches!(
            PasswordHash::parse(&phc.replace("argon2id", "argon2i"), &HashLimits::DEFAULT),
            Err(PasswordError::UnsupportedAlgorithm { .. })
        ));
        assert!(matches!(
            PasswordHash::parse(&phc.replace("v=19", "v=16"), &HashLimits::DEFAULT),
            Err(PasswordError::UnsupportedVersion { version: 16 })
        ));
        for bad in [
            "",
            "$",
            "argon2id",
            "$argon2id$v=19$m=64,t=1,p=1",
            "$2b$12$abc",
        ] {
            assert!(
                PasswordHash::parse(bad, &HashLimits::DEFAULT).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn errors_and_debug_never_show_salt_or_output() {
        let h = hash_password(&pw("x"), &[3; 16], cheap()).unwrap();
        let phc = h.as_phc().to_owned();
        let tail = phc.rsplit('$').next().unwrap().to_owned();
        assert!(!format!("{h:?}").contains(&tail));
        let err = PasswordHash::parse(&phc.replace("argon2id", "argon2d"), &HashLimits::DEFAULT)
            .unwrap_err();
        assert!(!err.to_string().contains(&tail));
    }

    #[test]
    fn needs_rehash_when_params_differ() {
        let h = hash_password(&pw("x"), &[3; 16], cheap()).unwrap();
        assert_eq!(needs_rehash(&h, cheap()), Rehash::Current);
        assert_eq!(
            needs_rehash(&h, HashParams::OWASP),
            Rehash::Needed {
                from: cheap(),
                to: HashParams::OWASP
            }
        );
    }

    #[test]
    fn limits_reject_out_of_range_configuration() {
        assert!(HashLimits::new(0, 1, 1, 8).is_err());
        assert!(HashLimits::new(64, 1, 1, 64).is_ok());
        assert!(HashLimits::DEFAULT.admits(HashParams::OWASP));
        assert!(
            !HashLimits::new(64, 1, 1, 64)
                .unwrap()
                .admits(HashParams::OWASP)
        );
    }
}
