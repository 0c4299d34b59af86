#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| secure_fhir_fuzz::fhir_resource(data));
