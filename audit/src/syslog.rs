//! RFC 5424 syslog messages with RFC 6587 octet-counting framing (as RFC 5425 uses over TLS),
//! for ATNA audit repositories (IHE ITI-20).
//!
//! Octet counting is the only framing offered: with LF framing, a newline inside audited data
//! could forge a second message. Header fields are checked when the formatter is built, so a
//! message it emits always has a valid header.

use std::io::Write;
use std::sync::Mutex;

use chrono::{DateTime, Datelike, SecondsFormat, Timelike, Utc};

use crate::model::AuditRecord;
use crate::store::{Ack, AuditSink, Receipt, StoreError};

/// Facility 10: security/authorization messages (ITI-20).
pub const FACILITY_AUTHPRIV: u8 = 10;

/// Syslog severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyslogSeverity {
    /// 4: warning.
    Warning = 4,
    /// 5: notice (ITI-20's default).
    Notice = 5,
    /// 6: informational.
    Informational = 6,
}

/// A header field that RFC 5424 does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid syslog {field}: must be 1..={max} printable US-ASCII characters")]
pub struct InvalidHeader {
    /// Which field.
    pub field: &'static str,
    /// Its length limit.
    pub max: usize,
}

/// Formats RFC 5424 messages: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - BOM MSG`.
#[derive(Debug, Clone)]
pub struct SyslogFormatter {
    pri: u8,
    hostname: String,
    app_name: String,
    procid: String,
    msgid: String,
}

fn check(field: &'static str, value: &str, max: usize) -> Result<String, InvalidHeader> {
    if value.is_empty() || value.len() > max || !value.bytes().all(|b| (33..=126).contains(&b)) {
        return Err(InvalidHeader { field, max });
    }
    Ok(value.to_owned())
}

impl SyslogFormatter {
    /// A formatter for facility 10, severity notice (`<85>`), MSGID `IHE+RFC-3881`.
    /// Use `"-"` for an unknown field.
    pub fn new(hostname: &str, app_name: &str, procid: &str) -> Result<Self, InvalidHeader> {
        Ok(Self {
            pri: FACILITY_AUTHPRIV * 8 + SyslogSeverity::Notice as u8,
            hostname: check("HOSTNAME", hostname, 255)?,
            app_name: check("APP-NAME", app_name, 48)?,
            procid: check("PROCID", procid, 128)?,
            msgid: "IHE+RFC-3881".to_owned(),
        })
    }

    /// Sets the MSGID (at most 32 characters).
    pub fn msgid(mut self, msgid: &str) -> Result<Self, InvalidHeader> {
        self.msgid = check("MSGID", msgid, 32)?;
        Ok(self)
    }

    /// Sets the severity (facility stays 10).
    pub fn severity(mut self, s: SyslogSeverity) -> Self {
        self.pri = FACILITY_AUTHPRIV * 8 + s as u8;
        self
    }

    /// One RFC 5424 message. A UTF-8 `msg` is preceded by the BOM (RFC 5424 §6.4); other bytes
    /// are sent as they are.
    pub fn format(&self, timestamp: DateTime<Utc>, msg: &[u8]) -> Vec<u8> {
        // TIMESTAMP has a four-digit year and never a leap second (RFC 5424 §6.2.3); any other
        // time is written as the NILVALUE rather than as an invalid header.
        let writable =
            (0..=9999).contains(&timestamp.year()) && timestamp.nanosecond() < 1_000_000_000;
        let ts = if writable {
            timestamp.to_rfc3339_opts(SecondsFormat::Micros, true)
        } else {
            "-".to_owned()
        };
        let mut out = format!(
            "<{}>1 {} {} {} {} {} -",
            self.pri, ts, self.hostname, self.app_name, self.procid, self.msgid
        )
        .into_bytes();
        if !msg.is_empty() {
            out.push(b' ');
            if std::str::from_utf8(msg).is_ok() {
                out.extend_from_slice(&[0xEF, 0xBB, 0xBF]);
            }
            out.extend_from_slice(msg);
        }
        out
    }
}

/// RFC 6587 §3.4.1 / RFC 5425 §4.3 octet counting: `MSG-LEN SP SYSLOG-MSG`.
pub fn octet_frame(message: &[u8]) -> Vec<u8> {
    let mut out = format!("{} ", message.len()).into_bytes();
    out.extend_from_slice(message);
    out
}

/// How a record becomes the syslog MSG.
pub type Render = dyn Fn(&AuditRecord) -> Vec<u8> + Send + Sync;

/// A sink writing octet-counted RFC 5424 messages to a stream the host opened (typically TLS
/// to port 6514). Written and flushed is all it can promise: receipts say [`Ack::Buffered`].
/// After a failed write it refuses every record (the stream may end in part of a frame).
pub struct SyslogSink<W: Write + Send> {
    out: Mutex<Stream<W>>,
    formatter: SyslogFormatter,
    message: Message,
}

/// The stream, and whether a failed write may have left part of a frame on it.
struct Stream<W> {
    out: W,
    broken: bool,
}

/// What a sink sends as each record's MSG.
enum Message {
    /// The record's canonical JSON; a record that has none is refused, not sent empty.
    Canonical,
    /// What the host's function makes of it.
    Rendered(Box<Render>),
}

impl<W: Write + Send> SyslogSink<W> {
    /// A sink sending each record's canonical JSON (a record too large to have one is refused
    /// with [`StoreError::Record`]).
    pub fn new(out: W, formatter: SyslogFormatter) -> Self {
        Self {
            out: Mutex::new(Stream { out, broken: false }),
            formatter,
            message: Message::Canonical,
        }
    }

    /// A sink sending `render(record)`, e.g. the record's FHIR AuditEvent JSON.
    pub fn with_render(out: W, formatter: SyslogFormatter, render: Box<Render>) -> Self {
        Self {
            out: Mutex::new(Stream { out, broken: false }),
            formatter,
            message: Message::Rendered(render),
        }
    }

    /// Gives back the stream.
    pub fn into_inner(self) -> W {
        self.out.into_inner().unwrap_or_else(|e| e.into_inner()).out
    }
}

impl<W: Write + Send> AuditSink for SyslogSink<W> {
    fn record(&self, record: &AuditRecord, _ack: Ack) -> Result<Receipt, StoreError> {
        let msg = match &self.message {
            Message::Canonical => record.to_log_bytes()?,
            Message::Rendered(render) => render(record),
        };
        let framed = octet_frame(&self.formatter.format(record.recorded, &msg));
        let mut stream = self.out.lock().unwrap_or_else(|e| e.into_inner());
        // Octet counting cannot resynchronise: after part of a frame, the receiver would
        // read the next record as the rest of it. The host opens a new stream and sink.
        if stream.broken {
            return Err(StoreError::Io(
                "syslog stream failed earlier and may hold part of a frame".into(),
            ));
        }
        stream.broken = true;
        stream.out.write_all(&framed)?;
        stream.out.flush()?;
        stream.broken = false;
        Ok(Receipt {
            index: None,
            leaf: None,
            level: Ack::Buffered,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn message_and_frame_follow_rfc5424_and_rfc6587() {
        let f = SyslogFormatter::new("fhir.example.org", "secure-fhir", "42").unwrap();
        let t = Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap()
            + chrono::Duration::nanoseconds(123_456_789);
        let m = f.format(t, "{\"a\":\"line1\nline2\"}".as_bytes());
        let head = b"<85>1 2026-11-28T12:00:00.123456Z fhir.example.org secure-fhir 42 IHE+RFC-3881 - \xEF\xBB\xBF";
        assert!(m.starts_with(head), "{}", String::from_utf8_lossy(&m));
        let framed = octet_frame(&m);
        let (len, rest) = framed.split_at(framed.iter().position(|&b| b == b' ').unwrap());
        assert_eq!(
            std::str::from_utf8(len).unwrap().parse::<usize>().unwrap(),
            rest.len() - 1
        );
        assert_eq!(&rest[1..], &m[..]);
    }

    #[test]
    fn a_time_rfc5424_cannot_write_is_the_nil_value() {
        // TIMESTAMP has a four-digit year and no leap second (RFC 5424 §6.2.3); a record's
        // time is the host's, or read back from storage.
        let f = SyslogFormatter::new("h", "a", "-").unwrap();
        let leap = chrono::NaiveDate::from_ymd_opt(2016, 12, 31)
            .unwrap()
            .and_hms_nano_opt(23, 59, 59, 1_500_000_000)
            .unwrap()
            .and_utc();
        for t in [
            Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(-1, 1, 1, 0, 0, 0).unwrap(),
            leap,
        ] {
            let m = f.format(t, b"x");
            assert!(
                m.starts_with(b"<85>1 - h a - IHE+RFC-3881 - "),
                "{t:?}: {}",
                String::from_utf8_lossy(&m)
            );
        }
    }

    #[test]
    fn invalid_header_fields_are_refused() {
        assert!(SyslogFormatter::new("host name", "a", "-").is_err());
        assert!(SyslogFormatter::new("h", &"a".repeat(49), "-").is_err());
        assert!(SyslogFormatter::new("h", "a", "").is_err());
        assert!(SyslogFormatter::new("h", "a", "-")
            .unwrap()
            .msgid(&"m".repeat(33))
            .is_err());
        assert!(SyslogFormatter::new("h\u{e9}", "a", "-").is_err());
    }

    #[test]
    fn a_record_the_sink_cannot_encode_is_refused_not_sent_empty() {
        let sink = SyslogSink::new(Vec::new(), SyslogFormatter::new("h", "a", "-").unwrap());
        let t = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let huge = AuditRecord::new(t, crate::Event::Login)
            .query_description("x".repeat(crate::model::MAX_RECORD_LEN));
        assert!(matches!(
            sink.record(&huge, Ack::Buffered),
            Err(StoreError::Record(crate::model::RecordError::TooLarge))
        ));
        assert!(sink.into_inner().is_empty(), "nothing sent in its place");
    }

    /// A stream that takes `room` bytes, then fails one write, then takes everything.
    struct Hiccup {
        written: Vec<u8>,
        room: usize,
        failed: bool,
    }

    impl Write for Hiccup {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if !self.failed && self.written.len() + buf.len() > self.room {
                let n = self.room - self.written.len();
                if n == 0 {
                    self.failed = true;
                    return Err(std::io::ErrorKind::WouldBlock.into());
                }
                self.written.extend_from_slice(&buf[..n]);
                return Ok(n);
            }
            self.written.extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn after_a_frame_is_cut_short_no_record_is_taken() {
        // Half a frame is on the wire: the receiver would read the next record's bytes as
        // the rest of it, so a record written after it would be lost though acknowledged.
        let hiccup = Hiccup {
            written: Vec::new(),
            room: 10,
            failed: false,
        };
        let sink = SyslogSink::new(hiccup, SyslogFormatter::new("h", "a", "-").unwrap());
        let t = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let r = AuditRecord::new(t, crate::Event::Login);
        assert!(matches!(
            sink.record(&r, Ack::Buffered),
            Err(StoreError::Io(_))
        ));
        assert!(matches!(
            sink.record(&r, Ack::Buffered),
            Err(StoreError::Io(_))
        ));
        assert_eq!(
            sink.into_inner().written.len(),
            10,
            "nothing after the cut frame"
        );
    }

    #[test]
    fn sink_writes_one_frame_per_record() {
        let f = SyslogFormatter::new("h", "a", "-")
            .unwrap()
            .severity(SyslogSeverity::Warning);
        let sink = SyslogSink::new(Vec::new(), f);
        let t = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let r = AuditRecord::new(t, crate::Event::Login);
        sink.record(&r, Ack::Durable).unwrap();
        sink.record(&r, Ack::Durable).unwrap();
        let out = sink.into_inner();
        let mut rest = &out[..];
        let mut n = 0;
        while !rest.is_empty() {
            let sp = rest.iter().position(|&b| b == b' ').unwrap();
            let len: usize = std::str::from_utf8(&rest[..sp]).unwrap().parse().unwrap();
            assert!(rest[sp + 1..]
                .starts_with(b"<84>1 2026-01-01T00:00:00.000000Z h a - IHE+RFC-3881 - "));
            rest = &rest[sp + 1 + len..];
            n += 1;
        }
        assert_eq!(n, 2);
    }
}
