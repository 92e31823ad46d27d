//! Client bytes through framing, JSON-RPC decoding, argument envelopes and schema validation;
//! the checks live in `ide_agentsd::protocol::fuzz`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ide_agentsd::protocol::fuzz::exercise(data);
});
