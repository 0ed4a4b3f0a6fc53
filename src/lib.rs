#![doc = include_str!("../README.md")]

pub mod allowlist;
pub mod api_keys;
pub mod audit;
mod bounded;
#[cfg(feature = "http")]
pub mod http;
pub mod id;
pub mod password;
pub mod quote;
pub mod service;
pub mod session;
pub mod set;
pub mod settings;
pub mod store;
pub mod time;
pub mod two_factor;

pub use crate::allowlist::{IpDecision, Surface, check_ip};
pub use crate::bounded::RangeError;
pub use crate::settings::{SecuritySettings, SettingsError, SettingsErrors};

/// The `chrono` this crate's signatures use (`DateTime<Utc>` everywhere time matters), so
/// callers can name its types without matching its version by hand.
pub use chrono;
