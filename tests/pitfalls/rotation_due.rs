//! `rotation_due` pitfalls: the old key's grace boundary (B28) and calendar arithmetic of the
//! schedule (B29), each tested for its whole kind, not just the listed input.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};
use whale_security::api_keys::{
    ApiKeyError, ApiKeyRotationPolicy, Environment, IntervalDays, KeyRing, KeySeed, RotationDue,
    RotationGraceHours, RotationMode, rotation_due,
};
use whale_security::id::StoreId;
use whale_security::time;

use super::{cases, matches_expectation};

fn t(text: &str) -> DateTime<Utc> {
    time::parse(text).unwrap()
}

fn policy(enabled: bool, interval: i64, grace: i64) -> ApiKeyRotationPolicy {
    ApiKeyRotationPolicy {
        enabled,
        interval_days: IntervalDays::new(interval).unwrap(),
        grace_period_hours: RotationGraceHours::new(grace).unwrap(),
        last_rotation: None,
        next_rotation: None,
    }
}

/// Whether a key rotated out at `rotated_at` with `grace` hours still verifies at `now`,
/// through the real key ring.
fn old_key_valid(grace: RotationGraceHours, rotated_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    let store = StoreId::new("store_pitfall").unwrap();
    let mut ring = KeyRing::new();
    let created = rotated_at - TimeDelta::try_days(1).unwrap();
    let old = ring
        .issue(
            store.clone(),
            Environment::Live,
            KeySeed::from_bytes([1; 32]),
            created,
        )
        .unwrap();
    ring.rotate_now(&store, RotationMode::Graceful { grace }, rotated_at, || {
        KeySeed::from_bytes([2; 32])
    })
    .unwrap();
    match ring.verify(old.expose_secret(), now) {
        Ok(_) => true,
        Err(ApiKeyError::Expired { .. }) => false,
        Err(e) => panic!("unexpected rejection {e}"),
    }
}

fn run(input: &Value) -> Value {
    let p: ApiKeyRotationPolicy = serde_json::from_value(input["policy"].clone()).unwrap();
    let now = t(input["now"].as_str().unwrap());
    if input.get("check").and_then(Value::as_str) == Some("old_key_valid") {
        let rotated_at = t(input["rotated_at"].as_str().unwrap());
        return json!({"old_key_valid": old_key_valid(p.grace_period_hours, rotated_at, now)});
    }
    let last = t(input["last_rotation"].as_str().unwrap());
    match rotation_due(&p, last, now) {
        Ok(d) => json!({
            "due": d.is_due(),
            "next_rotation": d.next_rotation().map(time::format),
        }),
        Err(e) => json!({"error": e.to_string()}),
    }
}

#[test]
fn every_rotation_due_pitfall_gets_the_expected_answer() {
    let mut failures = Vec::new();
    for case in cases("rotation_due") {
        let mut outcome = run(&case["input"]);
        // The cases write instants without milliseconds; compare as instants.
        if let (Some(got), Some(want)) = (
            outcome.get("next_rotation").and_then(Value::as_str),
            case["expect"].get("next_rotation").and_then(Value::as_str),
        ) && t(got) == t(want)
        {
            outcome["next_rotation"] = json!(want);
        }
        if !matches_expectation(&case, &outcome) {
            failures.push(format!(
                "{}: got {outcome}, want {}",
                case["id"], case["expect"]
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// B28's kind: the old key is valid on `[rotated_at, rotated_at + grace)` for every grace,
/// including 0 and the maximum, and the boundary is exact to the millisecond.
#[test]
fn old_key_is_valid_until_exactly_rotated_at_plus_grace() {
    let rotated_at = t("2026-03-10T10:00:00Z");
    let ms = TimeDelta::try_milliseconds(1).unwrap();
    for hours in [0, 1, 24, 48, 8759, 8760] {
        let grace = RotationGraceHours::new(hours).unwrap();
        let end = rotated_at + TimeDelta::try_hours(hours).unwrap();
        if hours > 0 {
            assert!(
                old_key_valid(grace, rotated_at, rotated_at),
                "{hours} h at rotation"
            );
            assert!(
                old_key_valid(grace, rotated_at, end - ms),
                "{hours} h last ms"
            );
        }
        assert!(
            !old_key_valid(grace, rotated_at, end),
            "{hours} h at the deadline"
        );
        assert!(
            !old_key_valid(grace, rotated_at, end + ms),
            "{hours} h after"
        );
    }
    // The grace crosses a leap day and a year end in whole hours of UTC time.
    let leap = t("2028-02-28T12:00:00Z");
    let g = RotationGraceHours::new(24).unwrap();
    assert!(old_key_valid(g, leap, t("2028-02-29T11:59:59.999Z")));
    assert!(!old_key_valid(g, leap, t("2028-02-29T12:00:00Z")));
    let year_end = t("2026-12-31T23:00:00Z");
    let g = RotationGraceHours::new(2).unwrap();
    assert!(old_key_valid(g, year_end, t("2027-01-01T00:59:59.999Z")));
    assert!(!old_key_valid(g, year_end, t("2027-01-01T01:00:00Z")));
}

/// B29's kind: the schedule adds calendar days of UTC time across month ends, leap and common
/// years and long intervals, and is due AT the computed instant.
#[test]
fn next_rotation_is_last_rotation_plus_calendar_days_and_due_at_that_instant() {
    let table = [
        // (last_rotation, interval_days, next_rotation)
        ("2026-01-01T00:00:00Z", 90, "2026-04-01T00:00:00Z"),
        ("2024-01-01T00:00:00Z", 90, "2024-03-31T00:00:00Z"), // leap year: Feb has 29 days
        ("2024-02-28T10:00:00Z", 1, "2024-02-29T10:00:00Z"),
        ("2023-02-28T10:00:00Z", 1, "2023-03-01T10:00:00Z"),
        ("2024-02-29T00:00:00Z", 365, "2025-02-28T00:00:00Z"),
        ("2024-02-29T00:00:00Z", 366, "2025-03-01T00:00:00Z"),
        ("2026-01-31T08:30:00Z", 30, "2026-03-02T08:30:00Z"),
        ("2026-01-31T08:30:00Z", 28, "2026-02-28T08:30:00Z"),
        ("2026-12-31T23:59:59.999Z", 1, "2027-01-01T23:59:59.999Z"),
        ("2026-03-10T10:00:00Z", 3650, "2036-03-07T10:00:00Z"), // three leap days in between
        ("2099-12-31T00:00:00Z", 60, "2100-03-01T00:00:00Z"),   // 2100 is not a leap year
    ];
    let ms = TimeDelta::try_milliseconds(1).unwrap();
    for (last, days, next) in table {
        let p = policy(true, days, 0);
        let (last, next) = (t(last), t(next));
        let before = rotation_due(&p, last, next - ms).unwrap();
        assert!(!before.is_due(), "{last} + {days} d");
        assert_eq!(before.next_rotation(), Some(next), "{last} + {days} d");
        let at = rotation_due(&p, last, next).unwrap();
        assert!(at.is_due(), "{last} + {days} d at the instant");
        assert_eq!(at.next_rotation(), Some(next));
        assert!(rotation_due(&p, last, next + ms).unwrap().is_due());
    }
}

#[test]
fn disabled_rotation_is_never_due_however_late() {
    let p = policy(false, 1, 0);
    let d = rotation_due(&p, t("2000-01-01T00:00:00Z"), t("2100-01-01T00:00:00Z")).unwrap();
    assert_eq!(d, RotationDue::Disabled);
    assert_eq!(d.next_rotation(), None);
}

#[test]
fn a_last_rotation_in_the_future_is_not_due_within_the_skew_allowance_and_due_beyond_it() {
    let p = policy(true, 90, 0);
    let now = t("2026-03-10T10:00:00Z");
    assert!(
        !rotation_due(&p, t("2026-03-10T10:05:00Z"), now)
            .unwrap()
            .is_due()
    );
    // Fourteen hours ahead is no clock skew: a corrupt record must not postpone rotation.
    assert!(
        rotation_due(&p, t("2026-03-11T00:00:00Z"), now)
            .unwrap()
            .is_due()
    );
    assert!(
        rotation_due(&p, DateTime::<Utc>::MAX_UTC, now)
            .unwrap()
            .is_due()
    );
    // Overflow is an error only where the arithmetic really leaves the range: a `now` at the
    // end of time with a last rotation within one interval of it.
    let end = DateTime::<Utc>::MAX_UTC;
    let err = rotation_due(&p, end, end).unwrap_err();
    assert!(matches!(err, ApiKeyError::TimeOutOfRange { .. }));
    // And at the far past end, the arithmetic works rather than wrapping.
    assert!(
        rotation_due(&p, DateTime::<Utc>::MIN_UTC, now)
            .unwrap()
            .is_due()
    );
}

#[test]
fn the_policy_schedule_counts_from_last_rotation_then_next_rotation_then_fails_closed() {
    let now = t("2026-03-10T12:00:00Z");
    let mut p = policy(true, 90, 24);
    // Neither known: due now (fail closed).
    assert!(p.due_at(now).unwrap().is_due());
    // Only next_rotation (the spec's GET example): due from it.
    p.next_rotation = Some(t("2026-04-01T00:00:00Z"));
    assert!(!p.due_at(now).unwrap().is_due());
    assert!(p.due_at(t("2026-04-01T00:00:00Z")).unwrap().is_due());
    // last_rotation wins when present.
    p.last_rotation = Some(t("2025-12-01T00:00:00Z"));
    assert_eq!(
        p.due_at(now).unwrap().next_rotation(),
        Some(t("2026-03-01T00:00:00Z"))
    );
    assert!(p.due_at(now).unwrap().is_due());
    p.enabled = false;
    assert_eq!(p.due_at(now).unwrap(), RotationDue::Disabled);
}
