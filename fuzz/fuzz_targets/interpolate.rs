#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    mcpkey::fuzzing::interpolate(&String::from_utf8_lossy(data));
});
