//! Everything the generated code refers to, in one glob import.

pub(crate) use crate::codes::{self, UnknownCode};
pub(crate) use crate::datatypes::*;
pub(crate) use crate::json::error::ParseError;
pub(crate) use crate::json::fields::*;
pub(crate) use crate::json::object::*;
pub(crate) use crate::json::parser::Parser;
pub(crate) use crate::json::writer::Writer;
pub(crate) use crate::primitive::read::*;
pub(crate) use crate::primitive::write::*;
pub(crate) use crate::resources::*;
pub(crate) use crate::visit::*;
pub(crate) use crate::Resource;
