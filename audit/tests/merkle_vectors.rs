//! RFC 9162 probes from transparency-dev/merkle (`../shared/vectors/merkle`): every one of the
//! 196 inclusion and consistency probes must be answered as the reference answers it, and the
//! 8-leaf reference tree must be reproduced node by node, with proofs generated for it.

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use fhir_audit::merkle::{
    empty_root, leaf_hash, verify_consistency_bytes, verify_inclusion_bytes, Hash, MerkleTree,
};
use serde_json::Value;

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors/merkle")
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
}

/// `null` or "" is the empty byte string.
fn bytes(v: &Value) -> Vec<u8> {
    B64.decode(v.as_str().unwrap_or("")).expect("probe base64")
}

fn hash(v: &Value) -> Option<Hash> {
    bytes(v).try_into().ok()
}

fn proof(v: &Value) -> Option<Vec<Hash>> {
    match v {
        Value::Null => Some(Vec::new()),
        Value::Array(a) => a.iter().map(hash).collect(),
        _ => None,
    }
}

fn raw_proof(v: &Value) -> Vec<Vec<u8>> {
    v.as_array()
        .map(|a| a.iter().map(bytes).collect())
        .unwrap_or_default()
}

fn run_inclusion(v: &Value) -> bool {
    let path = raw_proof(&v["proof"]);
    let path: Vec<&[u8]> = path.iter().map(Vec::as_slice).collect();
    let (index, size) = (
        v["leafIdx"].as_u64().unwrap(),
        v["treeSize"].as_u64().unwrap(),
    );
    verify_inclusion_bytes(
        index,
        size,
        &bytes(&v["leafHash"]),
        &path,
        &bytes(&v["root"]),
    )
    .is_ok()
}

fn run_consistency(v: &Value) -> bool {
    let path = raw_proof(&v["proof"]);
    let path: Vec<&[u8]> = path.iter().map(Vec::as_slice).collect();
    let (s1, s2) = (v["size1"].as_u64().unwrap(), v["size2"].as_u64().unwrap());
    verify_consistency_bytes(s1, s2, &bytes(&v["root1"]), &bytes(&v["root2"]), &path).is_ok()
}

#[test]
fn all_196_probes_are_answered_right() {
    let mut inclusion = Vec::new();
    let mut consistency = Vec::new();
    files(&vectors().join("inclusion"), &mut inclusion);
    files(&vectors().join("consistency"), &mut consistency);
    assert_eq!((inclusion.len(), consistency.len()), (98, 98));
    let mut wrong = Vec::new();
    for (paths, run) in [
        (&inclusion, run_inclusion as fn(&Value) -> bool),
        (&consistency, run_consistency),
    ] {
        for p in paths {
            let v: Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
            let want_ok = !v["wantErr"].as_bool().unwrap();
            if run(&v) != want_ok {
                wrong.push(format!("{} ({})", p.display(), v["desc"]));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} probes answered wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

fn hex(h: &[u8]) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn reference_tree_is_reproduced_and_its_proofs_verify() {
    let v: Value =
        serde_json::from_slice(&std::fs::read(vectors().join("reference-tree.json")).unwrap())
            .unwrap();
    let inputs: Vec<Vec<u8>> = v["leaf_inputs_hex"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| unhex(x.as_str().unwrap()))
        .collect();
    let hv = v["hasher_vectors"].as_array().unwrap();
    assert_eq!(hex(&empty_root()), hv[0]["want"].as_str().unwrap());
    assert_eq!(hex(&leaf_hash(b"")), hv[1]["want"].as_str().unwrap());
    assert_eq!(hex(&leaf_hash(b"L123456")), hv[2]["want"].as_str().unwrap());

    let mut tree = MerkleTree::new();
    for (size, want) in v["root_by_tree_size_hex"].as_object().unwrap() {
        let size: u64 = size.parse().unwrap();
        let mut t = MerkleTree::new();
        for input in &inputs[..size as usize] {
            t.push(leaf_hash(input));
        }
        assert_eq!(
            hex(&t.root()),
            want.as_str().unwrap(),
            "root of size {size}"
        );
    }
    for input in &inputs {
        tree.push(leaf_hash(input));
    }
    // Level k holds the complete subtrees of 2^k leaves: their roots are the roots of aligned ranges.
    for (level, nodes) in v["node_hashes_hex_by_level"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        for (i, node) in nodes.as_array().unwrap().iter().enumerate() {
            let width = 1u64 << level;
            let mut t = MerkleTree::new();
            for input in &inputs[(i as u64 * width) as usize..((i as u64 + 1) * width) as usize] {
                t.push(leaf_hash(input));
            }
            assert_eq!(
                hex(&t.root()),
                node.as_str().unwrap(),
                "level {level} node {i}"
            );
        }
    }
    for size in 1..=8u64 {
        let root = tree.root_at(size).unwrap();
        for index in 0..size {
            let p = tree.inclusion_proof(index, size).unwrap();
            p.verify(&leaf_hash(&inputs[index as usize]), &root)
                .unwrap();
        }
        for first in 1..=size {
            let p = tree.consistency_proof(first, size).unwrap();
            p.verify(&tree.root_at(first).unwrap(), &root).unwrap();
        }
    }
}

#[test]
fn generated_proofs_match_the_probe_proofs() {
    // The happy-path probes were generated from the reference tree: our generator must emit the
    // very same paths.
    let v: Value =
        serde_json::from_slice(&std::fs::read(vectors().join("reference-tree.json")).unwrap())
            .unwrap();
    let mut tree = MerkleTree::new();
    for x in v["leaf_inputs_hex"].as_array().unwrap() {
        tree.push(leaf_hash(&unhex(x.as_str().unwrap())));
    }
    let mut checked = 0;
    for n in 0..5 {
        let p: Value = serde_json::from_slice(
            &std::fs::read(vectors().join(format!("inclusion/{n}/happy-path.json"))).unwrap(),
        )
        .unwrap();
        let size = p["treeSize"].as_u64().unwrap();
        if size <= 8 && hash(&p["root"]) == tree.root_at(size) {
            let got = tree
                .inclusion_proof(p["leafIdx"].as_u64().unwrap(), size)
                .unwrap()
                .path;
            assert_eq!(Some(got), proof(&p["proof"]), "inclusion/{n}");
            checked += 1;
        }
        let c: Value = serde_json::from_slice(
            &std::fs::read(vectors().join(format!("consistency/{n}/happy-path.json"))).unwrap(),
        )
        .unwrap();
        let (s1, s2) = (c["size1"].as_u64().unwrap(), c["size2"].as_u64().unwrap());
        if s2 <= 8 && hash(&c["root2"]) == tree.root_at(s2) {
            let got = tree.consistency_proof(s1, s2).unwrap().path;
            assert_eq!(Some(got), proof(&c["proof"]), "consistency/{n}");
            checked += 1;
        }
    }
    assert!(
        checked >= 5,
        "only {checked} happy paths came from the reference tree"
    );
}
