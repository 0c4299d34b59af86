//! Test helpers for hosts (feature `testing`): mint tokens and key sets, and state authorization
//! rules in one line, so a host can unit-test its authorization wiring in a few lines. Never
//! enable this feature in production builds: the signing keys are public.

pub mod mint;
pub mod policy;
pub mod strategy;

pub use mint::{TestIssuer, TestKey, TokenBuilder};
