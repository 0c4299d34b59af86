//! The FHIR REST API on the store.

pub mod access;
pub mod bundle;
pub mod capability;
pub mod conditional;
pub mod cursor;
pub mod json;
pub mod model;
pub mod not_modified;
pub mod outcome;
pub mod patch;
pub mod rest;
pub mod route;
pub mod search;
pub mod searching;
pub mod spliced;
