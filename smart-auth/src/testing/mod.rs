//! Test support for hosts (feature `testing`): never enable it in production builds.

pub mod policy;
