//! The protocol fuzz harness (`ide_agentsd::protocol::fuzz::exercise`) as a fast test: the
//! seeds of `fuzz/corpus/protocol`, deterministic mutations of them, and the inputs that once
//! broke an invariant. `cargo fuzz run protocol` explores further (docs/fuzzing.md).

use ide_agentsd::protocol::fuzz::exercise;
use ide_agentsd::protocol::jsonrpc;
use ide_agentsd::tools::Catalog;
use serde_json::{Map, Value, json};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

/// Mutated inputs per run: enough to reach every branch the seeds lead to, fast in debug.
const BYTE_MUTATIONS: usize = 20_000;
const JSON_MUTATIONS: usize = 20_000;

/// The committed seeds (`*.jsonl`), by name; a local fuzzing run's finds sit beside them.
fn seeds() -> Vec<Vec<u8>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus/protocol");
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 5, "seeds missing in {dir}");
    paths.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

/// Runs the harness, naming the input when it fails.
fn check(what: &str, input: &[u8]) {
    if let Err(panic) = catch_unwind(AssertUnwindSafe(|| exercise(input))) {
        eprintln!("{what} failed on {:?}", String::from_utf8_lossy(input));
        eprintln!("as bytes: {input:?}");
        resume_unwind(panic);
    }
}

#[test]
fn every_seed_keeps_the_invariants() {
    for (i, seed) in seeds().iter().enumerate() {
        check(&format!("seed {i}"), seed);
    }
}

#[test]
fn byte_mutations_of_the_seeds_keep_the_invariants() {
    let seeds = seeds();
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    for i in 0..BYTE_MUTATIONS {
        let mut input = seeds[rng.below(seeds.len())].clone();
        for _ in 0..1 + rng.below(4) {
            mutate_bytes(&mut input, &seeds, &mut rng);
        }
        check(&format!("byte mutation {i}"), &input);
    }
}

#[test]
fn json_mutations_of_the_seeds_keep_the_invariants() {
    let lines: Vec<Value> = seeds()
        .iter()
        .flat_map(|s| {
            s.split(|b| *b == b'\n')
                .map(<[u8]>::to_vec)
                .collect::<Vec<_>>()
        })
        .filter_map(|l| serde_json::from_slice(&l).ok())
        .filter(Value::is_object)
        .collect();
    let pool = Pool::from_catalog();
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    for i in 0..JSON_MUTATIONS {
        let mut message = lines[rng.below(lines.len())].clone();
        for _ in 0..1 + rng.below(3) {
            let target = random_node(&mut message, &mut rng);
            *target = pool.value(&mut rng, 3);
        }
        let mut input = message.to_string().into_bytes();
        if rng.below(4) == 0 {
            // A second message on the same connection, sometimes cut short.
            let other = lines[rng.below(lines.len())].to_string();
            input.extend_from_slice(if rng.below(2) == 0 { b"\n" } else { b"\r\n" });
            input.extend_from_slice(&other.as_bytes()[..rng.below(other.len() + 1)]);
        }
        check(&format!("JSON mutation {i}"), &input);
    }
}

#[test]
fn long_and_deep_lines_keep_the_invariants() {
    let big_topic = "t".repeat(200_000);
    let call = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                      "params": {"name": "ide_agents_fetch_doc", "arguments": {"topic": big_topic}}});
    let mut input = call.to_string().into_bytes();
    input.push(b'\n');
    input.extend(std::iter::repeat_n(b'x', 100_000));
    check("a long call and a long partial line", &input);

    let deep = |n| "[".repeat(n) + &"]".repeat(n);
    for n in [100, 127, 128, 129, 1000] {
        let nested = deep(n);
        for line in [
            format!(r#"{{"jsonrpc":"2.0","id":1,"method":"ping","extra":{nested}}}"#),
            format!(
                r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"x","arguments":{{"a":{nested}}}}}}}"#
            ),
            nested,
        ] {
            check(&format!("nesting {n}"), line.as_bytes());
        }
    }
}

/// Inputs that once broke an invariant (docs/fuzzing.md tells how each was found).
#[test]
fn past_failures_stay_fixed() {
    // Invalid UTF-8 in a field the decoder skips was not noticed: -32600 or even a request,
    // where invalid JSON is -32700.
    for line in [
        &b"{\"\":\"\xf8\"}"[..],
        b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"x\":\"\xcf\"}",
    ] {
        check("invalid UTF-8 in an unknown field", line);
        let e = jsonrpc::decode(line).expect_err("not JSON");
        assert_eq!((e.id, e.error.code), (None, jsonrpc::PARSE_ERROR));
    }
    // A six-element array filled the message's fields in order and was served as a request
    // (or its error answered to the second element as an id); only an object is a message.
    for line in [r#"["2.0",1,"ping",null,null,null]"#, "[1,2,3,4,5,6]"] {
        check("an array of six", line.as_bytes());
        let e = jsonrpc::decode(line.as_bytes()).expect_err("not an object");
        assert_eq!((e.id, e.error.code), (None, jsonrpc::INVALID_REQUEST));
    }
    // A leading byte order mark is ignored, so the rest is judged: here a request with a
    // null id (-32600), where the oracle took the whole line for invalid JSON.
    let bom = "\u{feff}{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}";
    check("a BOM before a message", bom.as_bytes());
    let e = jsonrpc::decode(bom.as_bytes()).expect_err("a null id");
    assert_eq!(e.error.code, jsonrpc::INVALID_REQUEST);
    // An id past u64 is a float; its echo read back as another float before serde_json's
    // float_roundtrip.
    let big = "2".to_string() + &"1".repeat(74);
    check(
        "an id past u64",
        format!(r#"{{"jsonrpc":"2.0","id":{big},"method":"tools/list"}}"#).as_bytes(),
    );
}

// ---- mutations ----

/// Bytes and tokens that matter to the framing and the JSON grammar.
const TOKENS: &[&[u8]] = &[
    b"\n",
    b"\r\n",
    b"\r",
    b" ",
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b":",
    b",",
    b"\\",
    b"\\u",
    b"\\ud800",
    b"\xff",
    b"\xc3\xa9",
    b"\x00",
    b"null",
    b"true",
    b"-0",
    b"1.5",
    b"1e999",
    b"18446744073709551616",
    b"\"arguments\":",
    b"\"kwargs\":",
    b"\"id\":",
    b"\"method\":",
    b"\"params\":",
    b"\"jsonrpc\":\"2.0\",",
    b"\"_meta\":",
    b"{\"arguments\":\"{}\"}",
];

fn mutate_bytes(input: &mut Vec<u8>, seeds: &[Vec<u8>], rng: &mut XorShift) {
    let at = rng.below(input.len() + 1);
    match rng.below(7) {
        0 if at < input.len() => input[at] ^= 1 << rng.below(8),
        1 => {
            let token = TOKENS[rng.below(TOKENS.len())];
            input.splice(at..at, token.iter().copied());
        }
        2 => {
            let end = (at + 1 + rng.below(16)).min(input.len());
            input.drain(at.min(end)..end);
        }
        3 => {
            let end = (at + 1 + rng.below(32)).min(input.len());
            let copy = input[at.min(end)..end].to_vec();
            input.splice(at..at, copy);
        }
        4 => {
            // Splice: this input's start with another seed's end.
            let other = &seeds[rng.below(seeds.len())];
            let from = rng.below(other.len() + 1);
            input.truncate(at);
            input.extend_from_slice(&other[from..]);
        }
        5 => input.truncate(at),
        _ => {
            // A long run, past the small framing limits.
            let byte = TOKENS[rng.below(TOKENS.len())][0];
            input.splice(at..at, std::iter::repeat_n(byte, 20 + rng.below(400)));
        }
    }
}

/// Names and values a mutated message is built from: the real tools and their argument names.
struct Pool {
    keys: Vec<String>,
    strings: Vec<String>,
}

impl Pool {
    fn from_catalog() -> Pool {
        let catalog = Catalog::new(|_| true, 100);
        let mut keys: Vec<String> = [
            "arguments",
            "kwargs",
            "name",
            "_meta",
            "cursor",
            "id",
            "method",
            "params",
            "protocolVersion",
            "io.modelcontextprotocol/protocolVersion",
            "progressToken",
        ]
        .map(String::from)
        .to_vec();
        let mut strings: Vec<String> = [
            "",
            "x",
            "2.0",
            "2026-07-28",
            "2025-06-18",
            "2099-01-01",
            "tools/call",
            "tools/list",
            "initialize",
            "tools:0",
            "tools:7",
            "tools:e",
            "tools:+7",
            "prompts:0",
            "{\"topic\":\"x\"}",
            "{\"kwargs\":{\"query\":\"q\"}}",
            "{nope",
            "[1]",
            "list",
            "get",
            "run",
            "dry_run",
            "explain",
        ]
        .map(String::from)
        .to_vec();
        for tool in catalog.tools() {
            strings.push(tool.name.to_string());
            if let Some(props) = tool.input_schema["properties"].as_object() {
                keys.extend(props.keys().cloned());
            }
        }
        keys.sort();
        keys.dedup();
        Pool { keys, strings }
    }

    fn value(&self, rng: &mut XorShift, depth: usize) -> Value {
        let pick = rng.below(if depth == 0 { 6 } else { 9 });
        match pick {
            0 => Value::Null,
            1 => json!(rng.below(2) == 0),
            2 => json!(rng.below(300) as i64 - 100),
            3 => json!([0.5, -1.25, 1e300, 101.0, 0.0][rng.below(5)]),
            4 | 5 => json!(self.strings[rng.below(self.strings.len())]),
            6 => Value::Array(
                (0..rng.below(4))
                    .map(|_| self.value(rng, depth - 1))
                    .collect(),
            ),
            _ => {
                let obj: Map<String, Value> = (0..rng.below(5))
                    .map(|_| {
                        let key = self.keys[rng.below(self.keys.len())].clone();
                        (key, self.value(rng, depth - 1))
                    })
                    .collect();
                Value::Object(obj)
            }
        }
    }
}

/// A random node of `v` (the root included), to be replaced.
fn random_node<'a>(v: &'a mut Value, rng: &mut XorShift) -> &'a mut Value {
    let len = match &*v {
        Value::Object(obj) => obj.len(),
        Value::Array(items) => items.len(),
        _ => 0,
    };
    if len == 0 || rng.below(4) == 0 {
        return v;
    }
    let i = rng.below(len);
    match v {
        Value::Object(obj) => {
            let child = obj.values_mut().nth(i).unwrap();
            random_node(child, rng)
        }
        Value::Array(items) => random_node(&mut items[i], rng),
        _ => unreachable!("only containers have children"),
    }
}

/// xorshift64: deterministic, so a failure here fails the same way everywhere.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: usize) -> usize {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        (x % n.max(1) as u64) as usize
    }
}
