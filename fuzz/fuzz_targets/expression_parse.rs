//! Feeds arbitrary text to all expression parsers (condition, filter, key condition,
//! update, projection). Nothing may panic; whatever parses is evaluated or applied to
//! a sample item, which must not panic either. The work runs on a thread with a 256 KiB
//! stack, so recursion that input can deepen overflows it and is a finding.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use strata_item::expr::Substitutions;
use strata_item::{AttributeValue, Item};

fn sample() -> Item {
    Item::builder()
        .attr("a", 1)
        .attr("b", "S")
        .attr(
            "l",
            AttributeValue::L(vec![AttributeValue::from(1), AttributeValue::from("x")]),
        )
        .attr(
            "m",
            AttributeValue::M(
                [
                    ("a".into(), AttributeValue::from(3)),
                    ("l".into(), AttributeValue::L(vec![])),
                ]
                .into(),
            ),
        )
        .attr("s", AttributeValue::string_set(["x", "y"]))
        .build()
}

/// The stack every expression entry point must fit in, whatever the input.
const SMALL_STACK: usize = 256 * 1024;

fuzz_target!(|data: &[u8]| {
    let src = String::from_utf8_lossy(data).into_owned();
    let worker = std::thread::Builder::new()
        .stack_size(SMALL_STACK)
        .spawn(move || parse_all(&src))
        .expect("spawn the small-stack worker");
    if let Err(panic) = worker.join() {
        std::panic::resume_unwind(panic);
    }
});

fn parse_all(src: &str) {
    let src = src.to_string();
    let names = HashMap::from([
        ("#n".to_string(), "n".to_string()),
        ("#m".to_string(), "m".to_string()),
    ]);
    let values = HashMap::from([
        (":v".to_string(), AttributeValue::from(1)),
        (":w".to_string(), AttributeValue::from("S")),
        (
            ":l".to_string(),
            AttributeValue::L(vec![AttributeValue::from(2)]),
        ),
        (":ss".to_string(), AttributeValue::string_set(["x"])),
    ]);
    let item = sample();
    let mut subs = Substitutions::new(&names, &values);
    if let Ok(c) = subs.parse_condition(&src) {
        let _ = c.evaluate(&item);
        let _ = c.evaluate(&Item::new());
    }
    if let Ok(c) = subs.parse_filter(&src) {
        let _ = c.evaluate(&item);
    }
    if let Ok(k) = subs.parse_key_condition(&src, "a", Some("b")) {
        let _ = k.matches(&item, "a", Some("b"));
    }
    if let Ok(u) = subs.parse_update(&src) {
        let _ = u.apply(&item);
        let _ = u.apply(&Item::new());
    }
    if let Ok(p) = subs.parse_projection(&src) {
        let _ = p.apply(&item);
    }
    let _ = subs.check_all_used();
}
