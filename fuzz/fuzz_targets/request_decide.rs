#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| secure_fhir_fuzz::request_decide(data));
