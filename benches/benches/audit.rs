//! fhir-audit benches, each against a named baseline in the same run:
//!
//! - `audit_append`: records per second into the durable [`FileStore`] with group commit
//!   (submit a burst, wait for the last to be durable) against the baseline of one `fdatasync`
//!   per record (`max_batch(1)`, each append waited for), the usual naive audit logger.
//! - `audit_proofs`: inclusion and consistency proof generation and verification in a tree of
//!   1,000,000 records, against the baseline of recomputing the root from all leaf hashes
//!   (what a proof costs when subtree hashes are not kept).

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use fhir_audit::checkpoint::NoteSigner;
use fhir_audit::merkle::{leaf_hash, node_hash, Hash, MerkleTree};
use fhir_audit::store::file::{FileStore, FileStoreConfig};
use fhir_audit::store::Ack;
use fhir_audit::{AuditRecord, Client, Interaction, ResourceRef, User};

const MILLION: u64 = 1_000_000;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap()
}

fn record(i: u64) -> AuditRecord {
    AuditRecord::rest(
        t0() + chrono::Duration::milliseconds(i as i64),
        Interaction::Read,
        Some("Observation"),
    )
    .user(User::new("practitioner-17").fhir_user("Practitioner/17"))
    .client(Client::new("growth-chart").address("10.1.2.3"))
    .resource(ResourceRef::new("Observation", format!("obs-{i}")))
    .patient(format!("patient-{}", i % 1000))
    .purpose("TREAT")
    .correlation_id(format!("5f0c7c1e-{i:012}"))
}

fn open(dir: &std::path::Path, name: &str, config: FileStoreConfig) -> FileStore {
    let signer = NoteSigner::from_seed("bench.audit", &[9; 32]).unwrap();
    let clock: Arc<dyn fhir_audit::Clock> = Arc::new(fhir_audit::FixedClock(t0()));
    FileStore::open(dir.join(name), signer, clock, config)
        .unwrap()
        .0
}

fn append(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut g = c.benchmark_group("audit_append");
    g.measurement_time(Duration::from_secs(8)).sample_size(10);

    const BURST: u64 = 5_000;
    g.throughput(Throughput::Elements(BURST));
    let store = open(dir.path(), "group.log", FileStoreConfig::new("bench/group"));
    let mut next = 0u64;
    g.bench_function("group_commit_durable", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                let mut last = None;
                for _ in 0..BURST {
                    last = Some(store.submit(&record(next)).unwrap());
                    next += 1;
                }
                last.unwrap().wait(Ack::Durable).unwrap();
            }
            start.elapsed()
        })
    });
    drop(store);

    const SERIAL: u64 = 100;
    g.throughput(Throughput::Elements(SERIAL));
    let store = open(
        dir.path(),
        "serial.log",
        FileStoreConfig::new("bench/serial").max_batch(1),
    );
    let mut next = 0u64;
    g.bench_function("baseline_fsync_per_record", |b| {
        b.iter(|| {
            for _ in 0..SERIAL {
                store.append(&record(next), Ack::Durable).unwrap();
                next += 1;
            }
        })
    });
    g.finish();
}

fn million_tree() -> (MerkleTree, Vec<Hash>) {
    let mut t = MerkleTree::new();
    let mut leaves = Vec::with_capacity(MILLION as usize);
    for i in 0..MILLION {
        let l = leaf_hash(&record(i).to_log_bytes().unwrap());
        leaves.push(l);
        t.push(l);
    }
    (t, leaves)
}

/// The baseline: MTH over all leaf hashes, by the recursive definition.
fn naive_root(leaves: &[Hash]) -> Hash {
    if leaves.len() == 1 {
        return leaves[0];
    }
    let k = 1usize << (usize::BITS - 1 - (leaves.len() - 1).leading_zeros());
    node_hash(&naive_root(&leaves[..k]), &naive_root(&leaves[k..]))
}

fn proofs(c: &mut Criterion) {
    let (tree, leaves) = million_tree();
    let root = tree.root();
    assert_eq!(naive_root(&leaves), root);
    let mut g = c.benchmark_group("audit_proofs_1M");
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };

    g.bench_function("inclusion_generate", |b| {
        b.iter(|| tree.inclusion_proof(next() % MILLION, MILLION).unwrap())
    });
    g.bench_function("consistency_generate", |b| {
        b.iter(|| {
            tree.consistency_proof(1 + next() % (MILLION - 1), MILLION)
                .unwrap()
        })
    });
    g.bench_function("inclusion_verify", |b| {
        b.iter_batched(
            || {
                let i = next() % MILLION;
                (
                    tree.inclusion_proof(i, MILLION).unwrap(),
                    leaves[i as usize],
                )
            },
            |(p, leaf)| p.verify(black_box(&leaf), &root).unwrap(),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("consistency_verify", |b| {
        b.iter_batched(
            || {
                let m = 1 + next() % (MILLION - 1);
                (
                    tree.consistency_proof(m, MILLION).unwrap(),
                    tree.root_at(m).unwrap(),
                )
            },
            |(p, old)| p.verify(black_box(&old), &root).unwrap(),
            BatchSize::SmallInput,
        )
    });
    g.sample_size(10);
    g.bench_function("baseline_recompute_root_from_leaves", |b| {
        b.iter(|| naive_root(black_box(&leaves)))
    });
    g.finish();
}

criterion_group!(benches, append, proofs);
criterion_main!(benches);
