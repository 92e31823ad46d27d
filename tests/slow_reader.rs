//! A client that sends requests and never reads its answers: the daemon stops reading from it
//! once a bounded backlog is queued, keeps serving everyone else meanwhile, and disconnects it
//! when it stays stuck, so the daemon's memory does not follow the client's requests.

mod common;

use common::daemon;
use serde_json::{Value, json};
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

const REQUESTS: usize = 20_000;

#[test]
fn a_client_that_never_reads_is_paused_then_dropped_while_others_are_served() {
    let d = daemon()
        // One worker: the stuck client and its neighbour share the thread.
        .env("IDE_AGENTS_WORKERS", "1")
        .env("IDE_AGENTS_WRITE_STALL_SECS", "1")
        .env("IDE_AGENTS_ULTRA_ENABLED", "true")
        .start();
    let mut neighbour = d.initialized_client();
    let page = neighbour.call("tools/list", json!({}));
    let answer_bytes = page.to_string().len();
    assert!(answer_bytes > 10_000, "answers big enough to pile up");
    let before = d.peak_rss_kib();

    // Every answer unread: REQUESTS × answer_bytes would be hundreds of MiB if buffered.
    let request = json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/list",
        "params": {"_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}},
    });
    let mut requests = Vec::new();
    for _ in 0..REQUESTS {
        requests.extend_from_slice(request.to_string().as_bytes());
        requests.push(b'\n');
    }
    let mut slow = UnixStream::connect(&d.socket).unwrap();
    let stuck = Arc::new(AtomicBool::new(true));
    let writer = {
        let stuck = stuck.clone();
        std::thread::spawn(move || {
            let outcome = slow.write_all(&requests);
            stuck.store(false, Ordering::SeqCst);
            (outcome, slow)
        })
    };

    // The neighbour is answered all the while the other client is stuck.
    let mut answered_while_stuck = 0;
    let deadline = std::time::Instant::now() + common::IO_TIMEOUT;
    while stuck.load(Ordering::SeqCst) {
        assert!(
            std::time::Instant::now() < deadline,
            "the stuck client was never dropped"
        );
        assert_eq!(neighbour.call("ping", json!({}))["result"], json!({}));
        answered_while_stuck += 1;
    }
    let (outcome, slow) = writer.join().unwrap();
    let err = outcome.expect_err("the daemon must stop taking requests and then drop the client");
    assert!(
        matches!(
            err.kind(),
            std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
        ),
        "{err}"
    );
    assert!(answered_while_stuck > 10, "{answered_while_stuck}");
    drop(slow);

    let growth = d.peak_rss_kib().saturating_sub(before);
    assert!(
        growth < 24 * 1024,
        "peak RSS grew by {growth} KiB for {REQUESTS} unread answers of {answer_bytes} bytes"
    );
    // Still serving, and the dropped client's connection is gone.
    let status = neighbour.call("ide-agents/status", json!({}));
    assert_eq!(
        status["result"]["connections"]["open"],
        json!(1),
        "{status}"
    );
    let listed: Value = neighbour.call("tools/list", json!({}));
    assert_eq!(listed["result"], page["result"]);
}
