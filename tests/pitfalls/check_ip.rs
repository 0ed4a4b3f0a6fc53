//! `check_ip` pitfalls: address forms that have fooled other allowlists.

use serde_json::{Value, json};
use whale_security::allowlist::{
    AllowlistEntry, CompiledAllowlist, IpAllowlist, Label, Surface, check_ip, parse_cidr, parse_ip,
};
use whale_security::id::EntryId;
use whale_security::set::NonEmptySet;
use whale_security::time;

use super::{cases, matches_expectation};

fn run(input: &Value) -> Value {
    let now = time::parse("2026-03-10T12:00:00Z").unwrap();
    let mut entries = Vec::new();
    for (i, text) in input["allowlist"].as_array().unwrap().iter().enumerate() {
        match parse_cidr(text.as_str().unwrap()) {
            Ok(cidr) => entries.push(AllowlistEntry {
                id: EntryId::new(format!("ip_{i}")).unwrap(),
                cidr,
                label: Label::default(),
                added_at: now,
                expires_at: None,
            }),
            Err(e) => return json!({"error": e.to_string()}),
        }
    }
    let surfaces: Vec<Surface> = match input.get("applies_to") {
        Some(list) => serde_json::from_value(list.clone()).unwrap(),
        None => vec![Surface::Api, Surface::Dashboard],
    };
    let list = IpAllowlist {
        enabled: input
            .get("enabled")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        applies_to: NonEmptySet::new(surfaces).unwrap(),
        entries,
    };
    let surface: Surface = input["surface"].as_str().unwrap().parse().unwrap();
    match parse_ip(input["ip"].as_str().unwrap()) {
        Ok(ip) => {
            // The compiled matcher must give the reference scan's answer on every case.
            let reference = check_ip(&list, ip, surface, now);
            let compiled = CompiledAllowlist::new(&list);
            assert_eq!(compiled.check_ip(ip, surface, now), reference);
            assert_eq!(
                compiled.check(ip, surface, now).permits(),
                reference.permits()
            );
            json!({"allowed": reference.permits()})
        }
        Err(e) => json!({"error": e.to_string()}),
    }
}

#[test]
fn every_check_ip_pitfall_gets_the_expected_answer() {
    let mut failures = Vec::new();
    for case in cases("check_ip") {
        let outcome = run(&case["input"]);
        if !matches_expectation(&case, &outcome) {
            failures.push(format!(
                "{}: got {outcome}, want {}",
                case["id"], case["expect"]
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
