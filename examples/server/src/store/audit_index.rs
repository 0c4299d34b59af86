//! The in-memory index of the store's AuditEvents: per event its record and part, per record
//! its sequence number and time, posting lists from each searched reference to the events
//! that make it, and from each patient to the records concerning them that may be in their
//! accounting of disclosures (`fhir_audit::disclosure::may_be_accounted`: disclosures, and
//! data returned for a stated purpose; not every read of the chart). The records themselves (their log bytes) are the only audit rows in SQLite;
//! the index is built from them when the store opens and then kept up to date by the audit
//! trail's writer, which had written seven rows per record into three more tables (a tenth of
//! the secure server's CPU on reads).
//!
//! Event numbers (the AuditEvents' ids) count events in record order, a record's events in
//! rendering order: the numbering the former `audit_event` table's row numbers had, so ids
//! survive a restart, also over a database written by the former layout.
//!
//! Memory: 32 bytes per record and 8 per event, plus 4 bytes per (event, searched reference)
//! — an event has 4 to 6 of them (the server and the user as agents, the patient as entity
//! and patient) plus one per resource it touched — and 4 per (accountable record, patient); about 60
//! bytes for a read's event, before vector slack (up to twice that). Each distinct reference
//! target costs once its strings and a hash entry (about 150 bytes). Measured: 82k read
//! events took 7 MB of resident memory, and rebuilding their index at start 0.5 s.

use std::collections::HashMap;

use fhir_audit::disclosure::may_be_accounted;
use fhir_audit::render::{event_references, EventReferences, RenderConfig};
use fhir_audit::AuditRecord;

use super::index::resolve_reference;
use super::params::Kind;
use super::query::{Clause, Match, Prefix};

/// The reference parameters the view indexes (with `date`, `_id` and `_lastUpdated`).
pub(super) const REFERENCE_PARAMS: [&str; 3] = ["patient", "agent", "entity"];

/// One searched reference of an event: parameter code, target type, target id.
pub(super) type Ref = (&'static str, String, String);

/// What the index keeps of one audit record, taken from the record (not its bytes).
pub struct Entry {
    pub(super) recorded_ms: i64,
    /// `[lo, hi)` of `recorded`, as the generic index ranges a date.
    range: (i64, i64),
    /// The record's patients, when an accounting of disclosures may list it (else none).
    accountable: Vec<String>,
    /// The references of each AuditEvent the record renders to, in rendering order.
    events: Vec<Vec<Ref>>,
}

impl Entry {
    /// The index entry of `record`, with references resolved against `base`.
    pub fn new(record: &AuditRecord, config: &RenderConfig, base: &str) -> Entry {
        let recorded_ms = record.recorded.timestamp_millis();
        let range = recorded_range(recorded_ms);
        // Told by the renderer without rendering each event (rendering was most of this).
        let events = event_references(record, config)
            .iter()
            .map(|e| references(e, base))
            .collect();
        Entry {
            recorded_ms,
            range,
            accountable: if may_be_accounted(record) {
                record.patients.clone()
            } else {
                Vec::new()
            },
            events,
        }
    }
}

/// `[lo, hi)` of a `recorded` instant: as the generic index ranges its text (an instant with
/// seconds, to the end of its second), without formatting and parsing it.
fn recorded_range(ms: i64) -> (i64, i64) {
    (ms, ms - ms.rem_euclid(1000) + 1000)
}

/// The `patient`, `agent` and `entity` references of an event (R4: `agent.who`,
/// `entity.what`, and those of them that are Patients), resolved like the generic index
/// resolves them; sorted, without duplicates.
pub(super) fn references(event: &EventReferences, base: &str) -> Vec<Ref> {
    // Each distinct (code, reference) is resolved once: a read's event names its patient as
    // the resource and again as the patient.
    let agents = event.agents.iter().map(|a| ("agent", a.as_str()));
    let mut told: Vec<(&'static str, &str)> = agents
        .chain(event.entities.iter().map(|e| ("entity", e.as_str())))
        .collect();
    told.sort_unstable();
    told.dedup();
    let mut out = Vec::with_capacity(2 * told.len());
    for (code, r) in told {
        if let Some((rtype, id)) = resolve_reference(r, base) {
            if rtype == "Patient" {
                out.push(("patient", rtype.clone(), id.clone()));
            }
            out.push((code, rtype, id));
        }
    }
    out.sort();
    out.dedup();
    out
}

struct Record {
    seq: i64,
    recorded_ms: i64,
    lo: i64,
    hi: i64,
}

struct Event {
    /// Position in `records`.
    record: u32,
    part: u32,
}

/// The events whose `code` references one target type (the target id is the map's key).
struct Target {
    rtype: Box<str>,
    /// Event numbers, ascending.
    events: Vec<u32>,
}

/// An event the index found: its number and what rendering it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    /// The event number (its id).
    pub number: u32,
    /// The `audit_record` row holding its record.
    pub seq: i64,
    /// Which of the record's events it is.
    pub part: u32,
    /// `recorded` (ms), its `meta.lastUpdated`.
    pub lo: i64,
}

/// The index (see the module documentation).
#[derive(Default)]
pub struct AuditIndex {
    records: Vec<Record>,
    /// Event `n` is `events[n - 1]`.
    events: Vec<Event>,
    /// Per code of [`REFERENCE_PARAMS`]: target id -> its targets by type.
    refs: [HashMap<Box<str>, Vec<Target>>; 3],
    /// Patient id -> positions in `records` of those an accounting of the patient's
    /// disclosures may list, ascending.
    accountable: HashMap<Box<str>, Vec<u32>>,
}

/// A clause compiled against the index.
enum Cond<'a> {
    /// One of these event numbers (sorted).
    Ids(Vec<u32>),
    /// `recorded` matches one of these (`_lastUpdated` compares `[lo, lo + 1)`).
    Dates {
        values: Vec<(Prefix, i64, i64)>,
        last_updated: bool,
    },
    /// In one of these posting lists.
    Refs(Vec<&'a [u32]>),
    /// One of these AND-groups holds.
    Any(Vec<Vec<Cond<'a>>>),
    /// Nothing matches.
    Nothing,
}

/// Whether a value ranging over `[lo, hi)` matches `prefix` against `[a, b)`: the generic
/// search's date comparison (`query::date_sql`).
pub(super) fn date_matches(prefix: Prefix, lo: i64, hi: i64, a: i64, b: i64) -> bool {
    let within = lo >= a && hi <= b;
    match prefix {
        Prefix::Eq => within,
        Prefix::Ne => !within,
        Prefix::Gt => hi > b,
        Prefix::Lt => lo < a,
        Prefix::Ge => hi > b || within,
        Prefix::Le => lo < a || within,
        Prefix::Sa => lo >= b,
        Prefix::Eb => hi <= a,
        Prefix::Ap => lo < b && hi > a,
    }
}

/// The event number an AuditEvent id names (ids are canonical decimals).
pub(super) fn event_number(id: &str) -> Option<u32> {
    id.parse::<u32>()
        .ok()
        .filter(|n| *n > 0 && n.to_string() == id)
}

/// The sorted union of posting lists.
fn union(lists: impl IntoIterator<Item = Vec<u32>>) -> Vec<u32> {
    let mut all: Vec<u32> = lists.into_iter().flatten().collect();
    all.sort_unstable();
    all.dedup();
    all
}

impl Cond<'_> {
    /// A sorted superset of the events this condition holds for, when one is at hand without
    /// looking at every event.
    fn driver(&self) -> Option<Vec<u32>> {
        match self {
            Cond::Ids(ids) => Some(ids.clone()),
            Cond::Refs(lists) => Some(union(lists.iter().map(|l| l.to_vec()))),
            Cond::Nothing => Some(Vec::new()),
            Cond::Dates { .. } => None,
            Cond::Any(groups) => groups
                .iter()
                .map(|g| smallest_driver(g))
                .collect::<Option<Vec<_>>>()
                .map(union),
        }
    }
}

/// The smallest driver of ANDed conditions.
fn smallest_driver(conds: &[Cond<'_>]) -> Option<Vec<u32>> {
    conds.iter().filter_map(Cond::driver).min_by_key(Vec::len)
}

impl AuditIndex {
    /// Adds the record stored as row `seq`; its events take the next numbers. Refused (and
    /// nothing added) past `u32::MAX` events.
    pub fn add(&mut self, seq: i64, entry: &Entry) -> Result<(), String> {
        let full = || format!("the AuditEvent index is full; record {seq} not indexed");
        let record = u32::try_from(self.records.len()).map_err(|_| full())?;
        let last = self.events.len() + entry.events.len();
        if u32::try_from(last).is_err() {
            return Err(full());
        }
        self.records.push(Record {
            seq,
            recorded_ms: entry.recorded_ms,
            lo: entry.range.0,
            hi: entry.range.1,
        });
        for p in &entry.accountable {
            let records = self.accountable.entry(p.as_str().into()).or_default();
            if records.last() != Some(&record) {
                records.push(record);
            }
        }
        for (part, refs) in entry.events.iter().enumerate() {
            self.events.push(Event {
                record,
                part: part as u32,
            });
            // Fits: checked above.
            let number = self.events.len() as u32;
            for (code, rtype, id) in refs {
                let Some(c) = REFERENCE_PARAMS.iter().position(|p| p == code) else {
                    continue;
                };
                let targets = match self.refs[c].get_mut(id.as_str()) {
                    Some(t) => t,
                    None => self.refs[c].entry(id.as_str().into()).or_default(),
                };
                match targets.iter_mut().find(|t| *t.rtype == **rtype) {
                    Some(t) => t.events.push(number),
                    None => targets.push(Target {
                        rtype: rtype.as_str().into(),
                        events: vec![number],
                    }),
                }
            }
        }
        Ok(())
    }

    /// Event `number`.
    pub fn event(&self, number: u32) -> Option<Found> {
        let e = self.events.get((number as usize).checked_sub(1)?)?;
        let r = &self.records[e.record as usize];
        Some(Found {
            number,
            seq: r.seq,
            part: e.part,
            lo: r.lo,
        })
    }

    fn record_of(&self, number: u32) -> Option<&Record> {
        let e = self.events.get((number as usize).checked_sub(1)?)?;
        self.records.get(e.record as usize)
    }

    /// The posting lists of `code` references to `[rtype/]id`.
    fn postings(&self, code: &str, rtype: Option<&str>, id: &str) -> Vec<&[u32]> {
        let Some(c) = REFERENCE_PARAMS.iter().position(|p| *p == code) else {
            return Vec::new();
        };
        self.refs[c]
            .get(id)
            .map(|targets| {
                targets
                    .iter()
                    .filter(|t| rtype.is_none_or(|r| *t.rtype == *r))
                    .map(|t| t.events.as_slice())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `clause` against the index. A clause the view cannot evaluate matches nothing (a
    /// narrowing it cannot apply grants nothing).
    fn compile(&self, clause: &Clause) -> Cond<'_> {
        let dates = |values: &[Match], last_updated| Cond::Dates {
            values: values
                .iter()
                .filter_map(|m| match m {
                    Match::Date { prefix, lo, hi } => Some((*prefix, *lo, *hi)),
                    _ => None,
                })
                .collect(),
            last_updated,
        };
        match clause {
            Clause::Id(ids) => {
                let mut numbers: Vec<u32> = ids.iter().filter_map(|i| event_number(i)).collect();
                numbers.sort_unstable();
                numbers.dedup();
                Cond::Ids(numbers)
            }
            Clause::LastUpdated(values) => dates(values, true),
            Clause::Param {
                code: "date",
                values,
                ..
            } => dates(values, false),
            Clause::Param {
                code,
                kind: Kind::Reference,
                values,
            } if REFERENCE_PARAMS.contains(code) => Cond::Refs(
                values
                    .iter()
                    .flat_map(|m| match m {
                        Match::Reference { rtype, id } => self.postings(code, rtype.as_deref(), id),
                        _ => Vec::new(),
                    })
                    .collect(),
            ),
            Clause::InCompartment { ctype, id } if ctype == "Patient" => {
                Cond::Refs(self.postings("patient", Some("Patient"), id))
            }
            Clause::AnyOf(groups) => Cond::Any(
                groups
                    .iter()
                    .map(|g| g.iter().map(|c| self.compile(c)).collect())
                    .collect(),
            ),
            _ => Cond::Nothing,
        }
    }

    fn holds(&self, cond: &Cond<'_>, n: u32) -> bool {
        match cond {
            Cond::Ids(ids) => ids.binary_search(&n).is_ok(),
            Cond::Refs(lists) => lists.iter().any(|l| l.binary_search(&n).is_ok()),
            Cond::Dates {
                values,
                last_updated,
            } => self.record_of(n).is_some_and(|r| {
                let hi = if *last_updated {
                    r.lo.saturating_add(1)
                } else {
                    r.hi
                };
                values
                    .iter()
                    .any(|(p, a, b)| date_matches(*p, r.lo, hi, *a, *b))
            }),
            Cond::Any(groups) => groups.iter().any(|g| g.iter().all(|c| self.holds(c, n))),
            Cond::Nothing => false,
        }
    }

    /// Events matching every clause: how many, and `count` of them from `offset`, oldest (or
    /// newest) first. The work is bounded by the smallest posting list (or id list) a clause
    /// names, or by the number of events when none does (a search by date only).
    pub fn search(
        &self,
        clauses: &[Clause],
        offset: usize,
        count: usize,
        newest_first: bool,
    ) -> (usize, Vec<Found>) {
        self.search_up_to(clauses, u32::MAX, offset, count, newest_first)
    }

    /// How many events there are: the number of the newest.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether there are no events.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// [`AuditIndex::search`] among the events numbered at most `last` (a history's pages run
    /// over the events there were at its first page).
    pub fn search_up_to(
        &self,
        clauses: &[Clause],
        last: u32,
        offset: usize,
        count: usize,
        newest_first: bool,
    ) -> (usize, Vec<Found>) {
        let conds: Vec<Cond<'_>> = clauses.iter().map(|c| self.compile(c)).collect();
        let mut total = 0;
        let mut page = Vec::new();
        let mut visit = |n: u32| {
            if n <= last && conds.iter().all(|c| self.holds(c, n)) {
                if total >= offset && page.len() < count {
                    page.push(n);
                }
                total += 1;
            }
        };
        // Fits: `add` keeps the number of events within u32.
        let len = self.events.len().min(last as usize);
        let all = 1..=len as u32;
        match smallest_driver(&conds) {
            Some(d) if newest_first => d.into_iter().rev().for_each(&mut visit),
            Some(d) => d.into_iter().for_each(&mut visit),
            None if conds.is_empty() => {
                total = len;
                page = (offset..len.min(offset.saturating_add(count)))
                    .map(|k| (if newest_first { len - k } else { k + 1 }) as u32)
                    .collect();
            }
            None if newest_first => all.rev().for_each(&mut visit),
            None => all.for_each(&mut visit),
        }
        let found = page.into_iter().filter_map(|n| self.event(n)).collect();
        (total, found)
    }

    /// Events whose `code` references `rtype/id`, ascending, at most `limit`.
    pub fn referrers(&self, code: &str, rtype: &str, id: &str, limit: usize) -> Vec<u32> {
        union(
            self.postings(code, Some(rtype), id)
                .into_iter()
                .map(<[u32]>::to_vec),
        )
        .into_iter()
        .take(limit)
        .collect()
    }

    /// The `audit_record` rows recorded in `[from_ms, to_ms]` that an accounting of
    /// `patient`'s disclosures may list, oldest first; `None` when there are more than
    /// `limit` (a part of an accounting would look like all of it).
    pub fn records_for(
        &self,
        patient: &str,
        from_ms: i64,
        to_ms: i64,
        limit: usize,
    ) -> Option<Vec<i64>> {
        let seqs: Vec<i64> = self
            .accountable
            .get(patient)
            .into_iter()
            .flatten()
            .filter_map(|r| self.records.get(*r as usize))
            .filter(|r| (from_ms..=to_ms).contains(&r.recorded_ms))
            .map(|r| r.seq)
            .take(limit.saturating_add(1))
            .collect();
        (seqs.len() <= limit).then_some(seqs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{SecondsFormat, TimeZone, Utc};

    #[test]
    fn recorded_ranges_agree_with_the_generic_index() {
        for (secs, nanos) in [
            (1_796_575_000, 0),
            (1_796_575_000, 56_771_873),
            (0, 999_999_999),
        ] {
            let t = Utc.timestamp_opt(secs, nanos).unwrap();
            let text = t.to_rfc3339_opts(SecondsFormat::AutoSi, true);
            assert_eq!(
                Some(recorded_range(t.timestamp_millis())),
                super::super::time::instant_range(&text),
                "{text}"
            );
        }
    }
}
