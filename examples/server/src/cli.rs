//! The command line. Its flags are a contract scripts rely on (see `--help`).

use std::net::SocketAddr;
use std::path::PathBuf;

/// The phrase `--dangerous-disable-security` must be given, so that it cannot be switched on by
/// accident (a stray flag, a copied command line).
pub const DANGEROUS_PHRASE: &str = "benchmark-only-serves-phi-to-anyone";

/// The usage text.
pub const USAGE: &str = "\
secure-fhir-server: an example secure FHIR R4 server (SMART on FHIR, tamper-evident audit)

USAGE:
    secure-fhir-server [OPTIONS]
    secure-fhir-server audit verify --audit-log FILE [--audit-pubkey KEYFILE]
                                    [--trusted-checkpoint NOTEFILE]
    secure-fhir-server audit checkpoint --audit-log FILE

OPTIONS:
    --listen ADDR          address to listen on (default 127.0.0.1:8080)
    --db FILE              SQLite database file (default: in memory)
    --data FILE            a FHIR Bundle (collection, batch or transaction) to load at start;
                           repeatable
    --issuer URL           trust access tokens from this issuer (turns the built-in
                           development authorization server off); needs --jwks-file
    --jwks-file FILE       the issuer's public keys (a JWKS document)
    --audience URL         the accepted token audience (default: the FHIR base URL)
    --audit-log FILE       the tamper-evident audit log (default: in memory); its signed
                           checkpoints are kept in FILE.checkpoints, its signing key in
                           FILE.key, its public key written to FILE.pub
    --audit-commit-delay MICROS
                           with --audit-log: while at least --audit-commit-siblings
                           requests are in flight, hold each flush of the log up to
                           MICROS (at most 10000) so that more records share it; for
                           many concurrent clients (default 0: off)
    --audit-commit-siblings N
                           requests in flight that turn the commit delay on (default 32)
    --rate-limit N         at most N FHIR requests per second from each caller (a token's
                           issuer, client and subject), in bursts of up to N; more are
                           refused with 429 and Retry-After, and audited (default: off)
    --cors-origin ORIGIN   a browser origin allowed to call the FHIR API; repeatable
                           (the development authorization server's registered origins
                           are always allowed)
    --dangerous-disable-security PHRASE
                           benchmark only: serve every request without authorization or
                           audit; PHRASE must be `benchmark-only-serves-phi-to-anyone`
                           and ADDR a loopback address
    -h, --help             this text

Without --issuer the development authorization server runs in the same process under /auth
and demo data is loaded.

audit verify checks the log's records against its signed checkpoints. Pass --audit-pubkey
with a copy of FILE.pub kept where the server cannot write: without it, verify falls back to
FILE.pub beside the log (and warns), which a log rewritten with a new key would also pass.
Pass --trusted-checkpoint with a signed checkpoint note copied out earlier (`audit checkpoint`
prints the log's latest) and kept where the server cannot write: verify then also fails when
the log no longer holds the records that checkpoint covers, unchanged (a log rolled back or
cut together with its checkpoint file, or records rewritten after the checkpoints it kept).
";

/// What to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Serve.
    Serve(ServeArgs),
    /// `audit verify --audit-log FILE [--audit-pubkey KEYFILE] [--trusted-checkpoint NOTEFILE]`.
    AuditVerify {
        /// The log.
        log: PathBuf,
        /// The trusted public key (`None`: fall back to the key beside the log).
        pubkey: Option<PathBuf>,
        /// A signed checkpoint kept apart from the log, which the log must be consistent with.
        checkpoint: Option<PathBuf>,
    },
    /// `audit checkpoint --audit-log FILE`: print the log's latest signed checkpoint.
    AuditCheckpoint {
        /// The log.
        log: PathBuf,
    },
    /// `--help`.
    Help,
}

/// Options of the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeArgs {
    /// `--listen`.
    pub listen: SocketAddr,
    /// `--db`.
    pub db: Option<PathBuf>,
    /// `--data`, in order.
    pub data: Vec<PathBuf>,
    /// `--issuer`.
    pub issuer: Option<String>,
    /// `--jwks-file`.
    pub jwks_file: Option<PathBuf>,
    /// `--audience`.
    pub audience: Option<String>,
    /// `--audit-log`.
    pub audit_log: Option<PathBuf>,
    /// `--audit-commit-delay` and `--audit-commit-siblings`.
    pub commit_delay: CommitDelay,
    /// `--rate-limit`: requests per second per caller.
    pub rate_limit: Option<u32>,
    /// `--cors-origin`.
    pub cors_origins: Vec<String>,
    /// `--dangerous-disable-security` with the right phrase.
    pub dangerous_disable_security: bool,
}

/// The audit log's commit delay (as PostgreSQL's `commit_delay` and `commit_siblings`): how
/// long a flush waits for more records while enough requests are in flight that more are
/// coming. Off by default: with few clients each flush would only wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitDelay {
    /// The longest wait (zero: off).
    pub delay: std::time::Duration,
    /// Requests in flight from which the delay applies.
    pub siblings: usize,
}

/// The highest `--rate-limit`.
pub const MAX_RATE_LIMIT: u32 = 1_000_000;

/// The longest `--audit-commit-delay`: every answer may wait this long for its record.
pub const MAX_COMMIT_DELAY_MICROS: u64 = 10_000;

impl Default for CommitDelay {
    fn default() -> Self {
        CommitDelay {
            delay: std::time::Duration::ZERO,
            siblings: 32,
        }
    }
}

/// Parses the arguments (without the program name).
pub fn parse(args: &[String]) -> Result<Command, String> {
    if args.first().map(String::as_str) == Some("audit") {
        return match args.get(1).map(String::as_str) {
            Some(sub @ ("verify" | "checkpoint")) => {
                let mut log = None;
                let mut pubkey = None;
                let mut checkpoint = None;
                let mut it = args[2..].iter();
                while let Some(a) = it.next() {
                    match a.as_str() {
                        "--audit-log" => log = Some(PathBuf::from(value(&mut it, a)?)),
                        "--audit-pubkey" if sub == "verify" => {
                            pubkey = Some(PathBuf::from(value(&mut it, a)?))
                        }
                        "--trusted-checkpoint" if sub == "verify" => {
                            checkpoint = Some(PathBuf::from(value(&mut it, a)?))
                        }
                        other => return Err(format!("unknown argument `{other}`")),
                    }
                }
                let log = log.ok_or_else(|| format!("audit {sub} needs --audit-log FILE"))?;
                Ok(if sub == "verify" {
                    Command::AuditVerify {
                        log,
                        pubkey,
                        checkpoint,
                    }
                } else {
                    Command::AuditCheckpoint { log }
                })
            }
            _ => Err("usage: secure-fhir-server audit verify --audit-log FILE \
                 [--audit-pubkey KEYFILE] [--trusted-checkpoint NOTEFILE], or \
                 secure-fhir-server audit checkpoint --audit-log FILE"
                .to_owned()),
        };
    }
    let mut s = ServeArgs {
        listen: "127.0.0.1:8080".parse().map_err(|_| "bad default")?,
        db: None,
        data: Vec::new(),
        issuer: None,
        jwks_file: None,
        audience: None,
        audit_log: None,
        commit_delay: CommitDelay::default(),
        rate_limit: None,
        cors_origins: Vec::new(),
        dangerous_disable_security: false,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_owned())),
            _ => (a.as_str(), None),
        };
        let mut val = || match &inline {
            Some(v) => Ok(v.clone()),
            None => value(&mut it, flag),
        };
        match flag {
            "-h" | "--help" => return Ok(Command::Help),
            "--listen" => {
                let v = val()?;
                s.listen = v
                    .parse()
                    .map_err(|_| format!("--listen: not an address: `{v}`"))?;
            }
            "--db" => s.db = Some(val()?.into()),
            "--data" => s.data.push(val()?.into()),
            "--issuer" => s.issuer = Some(val()?),
            "--jwks-file" => s.jwks_file = Some(val()?.into()),
            "--audience" => s.audience = Some(val()?),
            "--audit-log" => s.audit_log = Some(val()?.into()),
            "--audit-commit-delay" => {
                let v = val()?;
                let micros = v
                    .parse::<u64>()
                    .ok()
                    .filter(|m| *m <= MAX_COMMIT_DELAY_MICROS)
                    .ok_or_else(|| {
                        format!("--audit-commit-delay: not 0..={MAX_COMMIT_DELAY_MICROS} microseconds: `{v}`")
                    })?;
                s.commit_delay.delay = std::time::Duration::from_micros(micros);
            }
            "--audit-commit-siblings" => {
                let v = val()?;
                s.commit_delay.siblings =
                    v.parse::<usize>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                        format!("--audit-commit-siblings: not a count of 1 or more: `{v}`")
                    })?;
            }
            "--rate-limit" => {
                let v = val()?;
                let n = v
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=MAX_RATE_LIMIT).contains(n))
                    .ok_or_else(|| {
                        format!("--rate-limit: not 1..={MAX_RATE_LIMIT} requests per second: `{v}`")
                    })?;
                s.rate_limit = Some(n);
            }
            "--cors-origin" => s.cors_origins.push(val()?),
            "--dangerous-disable-security" => {
                if val()? != DANGEROUS_PHRASE {
                    return Err(format!(
                        "--dangerous-disable-security needs the phrase `{DANGEROUS_PHRASE}`"
                    ));
                }
                s.dangerous_disable_security = true;
            }
            other => return Err(format!("unknown argument `{other}` (see --help)")),
        }
    }
    if s.issuer.is_some() != s.jwks_file.is_some() {
        return Err("--issuer and --jwks-file go together".to_owned());
    }
    if !s.commit_delay.delay.is_zero() && s.audit_log.is_none() {
        return Err(
            "--audit-commit-delay needs --audit-log (an in-memory log is never flushed)".to_owned(),
        );
    }
    if s.dangerous_disable_security && !s.listen.ip().is_loopback() {
        return Err("--dangerous-disable-security only listens on a loopback address".to_owned());
    }
    Ok(Command::Serve(s))
}

fn value<'a>(it: &mut impl Iterator<Item = &'a String>, flag: &str) -> Result<String, String> {
    it.next()
        .cloned()
        .ok_or_else(|| format!("{flag} needs a value"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn flags() {
        let Command::Serve(s) = parse(&args(
            "--listen 127.0.0.1:9999 --data a.json --data=b.json --issuer http://i --jwks-file k.json",
        ))
        .unwrap() else {
            panic!("serve expected")
        };
        assert_eq!(s.listen.port(), 9999);
        assert_eq!(
            s.data,
            vec![PathBuf::from("a.json"), PathBuf::from("b.json")]
        );
        assert_eq!(s.issuer.as_deref(), Some("http://i"));
        assert!(!s.dangerous_disable_security);
        assert_eq!(
            parse(&args("audit verify --audit-log x.log")).unwrap(),
            Command::AuditVerify {
                log: "x.log".into(),
                pubkey: None,
                checkpoint: None
            }
        );
        assert_eq!(
            parse(&args("audit verify --audit-pubkey k.pub --audit-log x.log")).unwrap(),
            Command::AuditVerify {
                log: "x.log".into(),
                pubkey: Some("k.pub".into()),
                checkpoint: None
            }
        );
        assert_eq!(
            parse(&args(
                "audit verify --audit-log x.log --trusted-checkpoint c.note"
            ))
            .unwrap(),
            Command::AuditVerify {
                log: "x.log".into(),
                pubkey: None,
                checkpoint: Some("c.note".into())
            }
        );
        assert_eq!(
            parse(&args("audit checkpoint --audit-log x.log")).unwrap(),
            Command::AuditCheckpoint {
                log: "x.log".into()
            }
        );
        assert!(parse(&args("audit checkpoint --audit-log x.log --audit-pubkey k")).is_err());
    }

    #[test]
    fn rate_limit() {
        let serve = |a: &str| match parse(&args(a)) {
            Ok(Command::Serve(s)) => Ok(s.rate_limit),
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(e),
        };
        assert_eq!(serve("").unwrap(), None, "off by default");
        assert_eq!(serve("--rate-limit 50").unwrap(), Some(50));
        for bad in [
            "--rate-limit 0",
            "--rate-limit -3",
            "--rate-limit 1.5",
            "--rate-limit 1000001",
        ] {
            assert!(serve(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn commit_delay() {
        let serve = |a: &str| match parse(&args(a)) {
            Ok(Command::Serve(s)) => Ok(s.commit_delay),
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(e),
        };
        assert_eq!(serve("").unwrap(), CommitDelay::default());
        assert_eq!(
            serve("--audit-log a.log --audit-commit-delay 1500 --audit-commit-siblings 8").unwrap(),
            CommitDelay {
                delay: std::time::Duration::from_micros(1500),
                siblings: 8
            }
        );
        for bad in [
            "--audit-commit-delay 1500",
            "--audit-log a.log --audit-commit-delay 10001",
            "--audit-log a.log --audit-commit-delay -1",
            "--audit-log a.log --audit-commit-siblings 0",
            "--audit-log a.log --audit-commit-siblings x",
        ] {
            assert!(serve(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn refusals() {
        assert!(parse(&args("--issuer http://i")).is_err());
        assert!(parse(&args("--bogus")).is_err());
        assert!(parse(&args("--listen")).is_err());
        assert!(parse(&args("--dangerous-disable-security yes")).is_err());
        assert!(parse(&args(
            "--dangerous-disable-security benchmark-only-serves-phi-to-anyone --listen 0.0.0.0:1"
        ))
        .is_err());
        assert!(parse(&args("audit verify")).is_err());
        assert!(parse(&args("audit verify --audit-log x.log --audit-pubkey")).is_err());
    }
}
