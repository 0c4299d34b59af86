#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| secure_fhir_fuzz::checkpoint_note(data));
