//! Small out-of-line helpers the generated `read` functions call for each field.
//!
//! Each reads one value into its place and returns `Result<()>`, so the value's temporaries live
//! in the helper's short-lived stack frame rather than in the (large) generated function's frame.
//! That keeps deep documents within the stack even in unoptimised builds.

use super::error::ParseError;
use super::parser::Parser;
use crate::primitive::{Primitive, PrimitiveElement};

type Result<T> = std::result::Result<T, ParseError>;
type Read<T> = fn(&mut Parser<'_>) -> Result<T>;

/// `name: T` (required, single).
#[inline(never)]
pub(crate) fn one<T>(p: &mut Parser<'_>, slot: &mut T, read: Read<T>) -> Result<()> {
    *slot = read(p)?;
    Ok(())
}

/// `name: Option<T>`.
#[inline(never)]
pub(crate) fn opt<T>(p: &mut Parser<'_>, slot: &mut Option<T>, read: Read<T>) -> Result<()> {
    *slot = Some(read(p)?);
    Ok(())
}

/// `name: Option<Box<T>>`.
#[inline(never)]
pub(crate) fn opt_box<T>(
    p: &mut Parser<'_>,
    slot: &mut Option<Box<T>>,
    read: Read<T>,
) -> Result<()> {
    p.charge(std::mem::size_of::<T>())?;
    *slot = Some(Box::new(read(p)?));
    Ok(())
}

/// `name: Vec<T>` (a non-empty JSON array).
#[inline(never)]
pub(crate) fn many<T>(p: &mut Parser<'_>, slot: &mut Vec<T>, read: Read<T>) -> Result<()> {
    p.begin_array()?;
    while p.next_item()? {
        p.charge(std::mem::size_of::<T>())?;
        slot.push(read(p)?);
    }
    Ok(())
}

/// The value half of a single primitive.
#[inline(never)]
pub(crate) fn prim_value<T>(
    p: &mut Parser<'_>,
    slot: &mut Primitive<T>,
    read: Read<T>,
) -> Result<()> {
    slot.value = Some(read(p)?);
    Ok(())
}

/// The value half of an optional primitive.
#[inline(never)]
pub(crate) fn opt_prim_value<T>(
    p: &mut Parser<'_>,
    slot: &mut Option<Primitive<T>>,
    read: Read<T>,
) -> Result<()> {
    slot.get_or_insert_with(Primitive::default).value = Some(read(p)?);
    Ok(())
}

/// The `_name` half of a single primitive.
#[inline(never)]
pub(crate) fn prim_element<T>(p: &mut Parser<'_>, slot: &mut Primitive<T>) -> Result<()> {
    slot.set_element(crate::primitive::read::element(p)?);
    Ok(())
}

/// The `_name` half of an optional primitive.
#[inline(never)]
pub(crate) fn opt_prim_element<T>(
    p: &mut Parser<'_>,
    slot: &mut Option<Primitive<T>>,
) -> Result<()> {
    slot.get_or_insert_with(Primitive::default)
        .set_element(crate::primitive::read::element(p)?);
    Ok(())
}

/// A complex variant of an optional choice element.
#[inline(never)]
pub(crate) fn choice_box<T, E>(
    p: &mut Parser<'_>,
    slot: &mut Option<E>,
    read: Read<T>,
    wrap: fn(Box<T>) -> E,
) -> Result<()> {
    *slot = Some(wrap(Box::new(read(p)?)));
    Ok(())
}

/// A complex variant of a required choice element.
#[inline(never)]
pub(crate) fn choice_box_one<T, E>(
    p: &mut Parser<'_>,
    slot: &mut E,
    read: Read<T>,
    wrap: fn(Box<T>) -> E,
) -> Result<()> {
    *slot = wrap(Box::new(read(p)?));
    Ok(())
}

/// The value half of a primitive variant of an optional choice element.
#[inline(never)]
pub(crate) fn choice_value<T, E>(
    p: &mut Parser<'_>,
    slot: &mut Option<E>,
    read: Read<T>,
    wrap: fn(Primitive<T>) -> E,
    project: fn(&mut E) -> Option<&mut Primitive<T>>,
) -> Result<()> {
    let v = read(p)?;
    match slot.as_mut().and_then(project) {
        Some(x) => x.value = Some(v),
        None => *slot = Some(wrap(Primitive::new(v))),
    }
    Ok(())
}

/// The value half of a primitive variant of a required choice element.
#[inline(never)]
pub(crate) fn choice_value_one<T, E>(
    p: &mut Parser<'_>,
    slot: &mut E,
    read: Read<T>,
    wrap: fn(Primitive<T>) -> E,
    project: fn(&mut E) -> Option<&mut Primitive<T>>,
) -> Result<()> {
    let v = read(p)?;
    match project(slot) {
        Some(x) => x.value = Some(v),
        None => *slot = wrap(Primitive::new(v)),
    }
    Ok(())
}

fn element(p: &mut Parser<'_>) -> Result<PrimitiveElement> {
    crate::primitive::read::element(p)
}

/// The `_name` half of a primitive variant of an optional choice element.
#[inline(never)]
pub(crate) fn choice_element<T, E>(
    p: &mut Parser<'_>,
    slot: &mut Option<E>,
    wrap: fn(Primitive<T>) -> E,
    project: fn(&mut E) -> Option<&mut Primitive<T>>,
) -> Result<()> {
    let e = element(p)?;
    match slot.as_mut().and_then(project) {
        Some(x) => x.set_element(e),
        None => *slot = Some(wrap(Primitive::from_element(e))),
    }
    Ok(())
}

/// The `_name` half of a primitive variant of a required choice element.
#[inline(never)]
pub(crate) fn choice_element_one<T, E>(
    p: &mut Parser<'_>,
    slot: &mut E,
    wrap: fn(Primitive<T>) -> E,
    project: fn(&mut E) -> Option<&mut Primitive<T>>,
) -> Result<()> {
    let e = element(p)?;
    match project(slot) {
        Some(x) => x.set_element(e),
        None => *slot = wrap(Primitive::from_element(e)),
    }
    Ok(())
}

/// One resource, boxed. Out of line so that `Resource::read`, which dispatches to all 146 types,
/// does not hold a stack slot for each of them. Also where the rules on contained resources
/// (dom-2, dom-4, dom-5) are checked, since every resource, wherever it sits, is read here.
#[inline(never)]
pub(crate) fn read_boxed<T>(
    p: &mut Parser<'_>,
    read: Read<T>,
    wrap: fn(Box<T>) -> crate::Resource,
) -> Result<crate::Resource> {
    let contained = p.enter_resource()?;
    p.charge(std::mem::size_of::<T>())?;
    let resource = wrap(Box::new(read(p)?));
    if contained {
        p.leave_contained(&resource)?;
    }
    Ok(resource)
}
