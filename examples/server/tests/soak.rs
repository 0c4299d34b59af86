//! Soak: sustained concurrent mixed traffic against the real server binary — valid reads and
//! searches, invalid credentials, hostile cross-patient requests — for a bounded time
//! (`SOAK_SECS`, default 10 s; `SOAK_WORKERS`, default 8). It shows:
//!
//! - no error on any valid request and no hostile request accepted (every answer is the exact
//!   expected status, and no answer carries the victim's data);
//! - flat memory: the server's resident set (sampled from `/proc`) does not grow between the
//!   first and the last third of the run beyond a small allowance;
//! - the audit log verifies afterwards (`secure-fhir-server audit verify`) and holds one record
//!   per request sent.
//!
//! Longer run: `SOAK_SECS=600 cargo test --release -p secure-fhir-server --test soak -- --nocapture`.

mod hostile_support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hostile_support::server::{exchange, read_audit_log, Server};
use hostile_support::{CANARY, VICTIM_ID};

/// One kind of request in the mix: method, path, which credential, the exact expected status,
/// and how many audit records it leaves: one, or for a refusal naming another patient than
/// the caller's one per patient (each without the query) and the whole request for auditors.
struct Kind {
    name: &'static str,
    path: &'static str,
    cred: Cred,
    status: u16,
    records: u64,
}

#[derive(Clone, Copy)]
enum Cred {
    Valid,
    None,
    Forged,
}

const MIX: &[Kind] = &[
    Kind {
        name: "valid read",
        path: "/Patient/alice",
        cred: Cred::Valid,
        status: 200,
        records: 1,
    },
    Kind {
        name: "valid read",
        path: "/Observation/a-obs-1",
        cred: Cred::Valid,
        status: 200,
        records: 1,
    },
    Kind {
        name: "valid search",
        path: "/Observation?patient=alice",
        cred: Cred::Valid,
        status: 200,
        records: 1,
    },
    Kind {
        name: "valid search",
        path: "/Observation?code=http://loinc.org|8867-4",
        cred: Cred::Valid,
        status: 200,
        records: 1,
    },
    Kind {
        name: "valid search",
        path: "/Condition",
        cred: Cred::Valid,
        status: 200,
        records: 1,
    },
    Kind {
        name: "invalid: no token",
        path: "/Patient/alice",
        cred: Cred::None,
        status: 401,
        records: 1,
    },
    Kind {
        name: "invalid: forged token",
        path: "/Observation/a-obs-1",
        cred: Cred::Forged,
        status: 401,
        records: 1,
    },
    Kind {
        name: "hostile: victim read",
        path: "/Observation/zz-b-obs-1",
        cred: Cred::Valid,
        status: 404,
        records: 1,
    },
    Kind {
        name: "hostile: victim search",
        path: "/Observation?patient=zz-b-bob",
        cred: Cred::Valid,
        status: 403,
        records: 3,
    },
    Kind {
        name: "hostile: victim compartment",
        path: "/Patient/zz-b-bob/Observation",
        cred: Cred::Valid,
        status: 403,
        records: 3,
    },
];

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn soak_mixed_traffic() {
    let secs = env_u64("SOAK_SECS", 10);
    let workers = env_u64("SOAK_WORKERS", 8);
    let mut server = Server::start_on_disk("soak");
    let token = server.alice("patient/*.rs");
    let forged = {
        let mut t = token.clone();
        t.truncate(t.len() - 4);
        t.push_str("AAAA");
        t
    };
    let sent = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let errors: Arc<Mutex<Vec<String>>> = Arc::default();
    let per_kind: Arc<Vec<AtomicU64>> = Arc::new(MIX.iter().map(|_| AtomicU64::new(0)).collect());

    let start = Instant::now();
    let mut handles = Vec::new();
    for w in 0..workers {
        let (addr, token, forged) = (server.addr.clone(), token.clone(), forged.clone());
        let (sent, stop, errors, per_kind) =
            (sent.clone(), stop.clone(), errors.clone(), per_kind.clone());
        handles.push(std::thread::spawn(move || {
            let mut i = w as usize;
            while !stop.load(Ordering::Relaxed) {
                let k = &MIX[i % MIX.len()];
                i += 1;
                let mut headers = Vec::new();
                match k.cred {
                    Cred::Valid => {
                        headers.push(("Authorization".to_owned(), format!("Bearer {token}")))
                    }
                    Cred::Forged => {
                        headers.push(("Authorization".to_owned(), format!("Bearer {forged}")))
                    }
                    Cred::None => {}
                }
                sent.fetch_add(1, Ordering::Relaxed);
                per_kind[(i - 1) % MIX.len()].fetch_add(1, Ordering::Relaxed);
                let problem =
                    match exchange(&addr, "GET", &format!("/fhir{}", k.path), &headers, None) {
                        Err(e) => Some(format!("{}: {} no answer: {e}", k.name, k.path)),
                        Ok(r) if r.status != k.status => Some(format!(
                            "{}: {} answered {} (want {})",
                            k.name, k.path, r.status, k.status
                        )),
                        Ok(r) if r.text().contains(CANARY) || r.text().contains(VICTIM_ID) => {
                            Some(format!("{}: {} leaked the victim's data", k.name, k.path))
                        }
                        Ok(_) => None,
                    };
                if let Some(p) = problem {
                    let mut e = errors.lock().unwrap_or_else(|e| e.into_inner());
                    if e.len() < 20 {
                        e.push(p);
                    }
                }
            }
        }));
    }

    // Sample the server's memory once a second while the traffic runs.
    let mut samples = Vec::new();
    let pid = server.pid();
    while start.elapsed() < Duration::from_secs(secs) {
        std::thread::sleep(Duration::from_secs(1));
        if let Some(r) = rss_kib(pid) {
            samples.push(r);
        }
    }
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().expect("worker");
    }
    let elapsed = start.elapsed();
    let total = sent.load(Ordering::Relaxed);
    let expected: u64 = MIX
        .iter()
        .zip(per_kind.iter())
        .map(|(k, n)| k.records * n.load(Ordering::Relaxed))
        .sum();
    assert!(server.is_running(), "the server died under load");

    let errors = errors.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert!(
        errors.is_empty(),
        "wrong answers under load:\n{}",
        errors.join("\n")
    );

    // Flat memory: the last third's peak within 25 % + 32 MiB of the first third's peak.
    let third = (samples.len() / 3).max(1);
    let early = samples.iter().take(third).max().copied().unwrap_or(0);
    let late = samples.iter().rev().take(third).max().copied().unwrap_or(0);
    assert!(
        late <= early + early / 4 + 32 * 1024,
        "resident memory grew from {early} KiB to {late} KiB (samples {samples:?})"
    );

    // One audit record per request, and the log verifies.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut records = read_audit_log(&server.audit_log()).len() as u64;
    while records < expected && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        records = read_audit_log(&server.audit_log()).len() as u64;
    }
    let out = std::process::Command::new(hostile_support::server::binary())
        .args(["audit", "verify", "--audit-log"])
        .arg(server.audit_log())
        .output()
        .expect("audit verify runs");
    assert!(
        out.status.success(),
        "the audit log does not verify: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(records, expected, "audit records vs requests sent");

    println!(
        "soak: {total} requests in {:.1} s ({:.0}/s) by {workers} workers, 0 errors; RSS {early} -> {late} KiB; {records} audit records verified",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64()
    );
    for (k, n) in MIX.iter().zip(per_kind.iter()) {
        println!(
            "  {:<28} {:<45} {}",
            k.name,
            k.path,
            n.load(Ordering::Relaxed)
        );
    }
}
