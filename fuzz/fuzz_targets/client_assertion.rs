#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| secure_fhir_fuzz::client_assertion(data));
