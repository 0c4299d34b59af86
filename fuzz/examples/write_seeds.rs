//! Writes the generated part of the seed corpora (`fuzz/seeds/<target>/gen-*`): test tokens
//! from the fixture issuers and hostile variants of them, key sets, scope strings and request
//! heads. Reproducible: run `cargo run --example write_seeds` in `fuzz/`; name targets
//! (`-- dpop_proof client_assertion`) to write only theirs (the RSA and ECDSA seeds of the
//! others differ on each run: those signatures are randomised).

fn main() -> std::io::Result<()> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
    let only: Vec<String> = std::env::args().skip(1).collect();
    let mut n = 0;
    for (target, name, bytes) in secure_fhir_fuzz::seeds::generated() {
        if !only.is_empty() && !only.iter().any(|t| t == target) {
            continue;
        }
        let dir = root.join(target);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join(format!("gen-{name}")), bytes)?;
        n += 1;
    }
    println!("wrote {n} seeds under {}", root.display());
    Ok(())
}
