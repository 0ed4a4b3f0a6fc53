//! `compliance_report` pitfalls: unverified and disallowed factors counted as compliance, and
//! the grace period's edge. The kinds are covered beyond the cases: every combination of
//! method, verification and policy, and the instants around the deadline.

use serde_json::{Value, json};
use whale_security::time;
use whale_security::two_factor::{
    Factor, Member, MemberStatus, Method, TwoFactorPolicy, compliance_report,
};

use super::cases;

/// When the scenario leaves `joined_at` out, the member joined well before enforcement.
const JOINED: &str = "2026-01-01T00:00:00Z";

fn members(input: &Value) -> Vec<Member> {
    input["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let mut m = m.clone();
            m.as_object_mut()
                .unwrap()
                .entry("joined_at")
                .or_insert_with(|| json!(JOINED));
            serde_json::from_value(m).unwrap()
        })
        .collect()
}

fn run(input: &Value) -> Value {
    let policy: TwoFactorPolicy = serde_json::from_value(input["policy"].clone()).unwrap();
    let members = members(input);
    let now = time::parse(input["now"].as_str().unwrap()).unwrap();
    let report = compliance_report(&policy, &members, now);
    let counts = report.counts();
    let mut non_compliant: Vec<&str> = counts
        .non_compliant
        .iter()
        .map(|m| m.user_id.as_str())
        .collect();
    non_compliant.sort_unstable();
    let mut blocked: Vec<&str> = members
        .iter()
        .zip(report.statuses())
        .filter(|(_, s)| matches!(s, MemberStatus::Blocked { .. }))
        .map(|(m, _)| m.user_id.as_str())
        .collect();
    blocked.sort_unstable();
    json!({
        "compliant_members": counts.compliant,
        "non_compliant": non_compliant,
        "blocked": blocked,
    })
}

/// The expectation with its lists sorted, since the lists compare as sets.
fn sorted(expect: &Value) -> Value {
    let mut expect = expect.clone();
    for key in ["non_compliant", "blocked"] {
        if let Some(list) = expect.get_mut(key).and_then(Value::as_array_mut) {
            list.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
        }
    }
    expect
}

#[test]
fn every_compliance_report_pitfall_gets_the_expected_answer() {
    let mut failures = Vec::new();
    for case in cases("compliance_report") {
        let outcome = run(&case["input"]);
        let expect = sorted(&case["expect"]);
        let fits = expect
            .as_object()
            .unwrap()
            .iter()
            .all(|(k, v)| outcome.get(k) == Some(v));
        if !fits {
            failures.push(format!("{}: got {outcome}, want {expect}", case["id"]));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn only_a_verified_factor_of_an_allowed_method_complies_in_every_combination() {
    let policies = [
        ("[\"totp\"]", vec![Method::Totp]),
        ("[\"sms\"]", vec![Method::Sms]),
        ("[\"totp\",\"sms\"]", vec![Method::Totp, Method::Sms]),
    ];
    let factor_sets: Vec<Vec<(Method, bool)>> = {
        let single = [
            (Method::Totp, true),
            (Method::Totp, false),
            (Method::Sms, true),
            (Method::Sms, false),
        ];
        let mut sets = vec![vec![]];
        for a in single {
            sets.push(vec![a]);
            for b in single {
                sets.push(vec![a, b]);
            }
        }
        sets
    };
    let now = time::parse("2026-03-20T00:00:00Z").unwrap();
    for (methods_json, allowed) in &policies {
        let policy: TwoFactorPolicy = serde_json::from_str(&format!(
            r#"{{"required": true, "methods": {methods_json}, "enforcement_date": "2026-03-13T00:00:00Z"}}"#
        ))
        .unwrap();
        for factors in &factor_sets {
            let member = Member {
                user_id: "user_x".parse().unwrap(),
                email: "x@example.com".into(),
                joined_at: time::parse(JOINED).unwrap(),
                factors: factors
                    .iter()
                    .map(|&(method, verified)| Factor {
                        method,
                        verified,
                        enrolled_at: time::parse(JOINED).unwrap(),
                    })
                    .collect(),
            };
            let want = factors.iter().any(|(m, v)| *v && allowed.contains(m));
            let report = compliance_report(&policy, std::slice::from_ref(&member), now);
            assert_eq!(
                report.counts().compliant == 1,
                want,
                "{methods_json} {factors:?}"
            );
            assert_eq!(report.statuses()[0].is_compliant(), want);
        }
    }
}

#[test]
fn a_member_is_pending_up_to_the_last_instant_before_the_deadline_and_blocked_from_it() {
    let policy: TwoFactorPolicy = serde_json::from_str(
        r#"{"required": true, "methods": ["totp"], "enforcement_date": "2026-03-13T00:00:00Z"}"#,
    )
    .unwrap();
    let member: Member = serde_json::from_value(json!({
        "user_id": "user_e5", "email": "casey@example.com", "joined_at": JOINED,
    }))
    .unwrap();
    for (now, blocked) in [
        ("2026-03-12T23:59:59.999Z", false),
        ("2026-03-13T00:00:00Z", true),
        ("2026-03-13T00:00:00.001Z", true),
        ("2025-12-31T00:00:00Z", false),
    ] {
        let report = compliance_report(
            &policy,
            std::slice::from_ref(&member),
            time::parse(now).unwrap(),
        );
        assert_eq!(report.counts().non_compliant.len(), 1, "{now}");
        assert_eq!(
            matches!(report.statuses()[0], MemberStatus::Blocked { .. }),
            blocked,
            "{now}"
        );
    }
}
