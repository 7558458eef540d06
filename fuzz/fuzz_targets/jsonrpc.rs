#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    mcpkey::fuzzing::jsonrpc(data);
});
