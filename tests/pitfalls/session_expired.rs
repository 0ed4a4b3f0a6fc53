//! `session_expired` pitfalls (B24..B27): boundary instants, overflowing timeouts, the `>=` of
//! the concurrent-session limit, and activity mistaken for authentication. Each case runs as
//! given, then a test per kind sweeps the whole family the case stands for.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};
use whale_security::id::UserId;
use whale_security::session::{
    Admission, MaxSessions, OnSessionLimit, ReauthDecision, ReauthWindowMinutes, SensitiveAction,
    Session, SessionId, SessionPolicy, TimeoutMinutes, admit_session, reauth_required,
    session_expired,
};
use whale_security::time;

use super::{cases, matches_expectation};

fn user() -> UserId {
    UserId::new("user_pitfall").unwrap()
}

/// A session from the case's JSON, which names no user and may omit `last_authenticated_at`.
fn session(v: &Value, id: &str) -> Session {
    let mut v = v.clone();
    v["user"] = json!(user().as_str());
    if v.get("id").is_none() {
        v["id"] = json!(id);
    }
    serde_json::from_value(v).unwrap()
}

fn run(input: &Value) -> Value {
    let mut policy: SessionPolicy = serde_json::from_value(input["policy"].clone()).unwrap();
    let now = time::parse(input["now"].as_str().unwrap()).unwrap();
    match input.get("check").and_then(Value::as_str) {
        None => {
            let s = session(&input["session"], "s");
            json!({"expired": session_expired(&policy, &s, now).is_expired()})
        }
        Some("new_login") => {
            let sessions: Vec<Session> = input["sessions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| session(v, ""))
                .collect();
            let decision = admit_session(&policy, &sessions, now);
            // Whatever the rule, the member must never end up above the limit.
            let after = match &decision {
                Admission::Admit { live, .. } => live + 1,
                Admission::AdmitEnding { live, end, .. } => live - end.len() + 1,
                Admission::Reject { live, .. } => *live,
            };
            assert!(after <= policy.max_concurrent_sessions.get() as usize);
            json!({"active_sessions": decision.live(), "over_limit": decision.at_limit()})
        }
        Some("sensitive_action") => {
            policy.reauth_window_minutes = Some(
                ReauthWindowMinutes::new(input["reauth_window_minutes"].as_i64().unwrap()).unwrap(),
            );
            let action: SensitiveAction = input["action"].as_str().unwrap().parse().unwrap();
            let s = session(&input["session"], "s");
            let decision = reauth_required(&policy, &s, &action, now);
            json!({
                "expired": session_expired(&policy, &s, now).is_expired(),
                "reauth_required": matches!(decision, ReauthDecision::Reauthenticate { .. }),
            })
        }
        Some(other) => panic!("unknown check {other}"),
    }
}

#[test]
fn every_session_expired_pitfall_gets_the_expected_answer() {
    let all = cases("session_expired");
    for check in ["new_login", "sensitive_action"] {
        assert!(
            all.iter().any(|c| c["input"]["check"] == check),
            "no {check} case"
        );
    }
    let mut failures = Vec::new();
    for case in all {
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

fn policy(lifetime: i64, idle: Option<i64>, max: i64) -> SessionPolicy {
    SessionPolicy {
        timeout_minutes: TimeoutMinutes::new(lifetime).unwrap(),
        max_concurrent_sessions: MaxSessions::new(max).unwrap(),
        require_re_auth_for_sensitive: true,
        idle_timeout_minutes: idle.map(|m| TimeoutMinutes::new(m).unwrap()),
        reauth_window_minutes: None,
        on_session_limit: None,
    }
}

fn at(text: &str) -> DateTime<Utc> {
    time::parse(text).unwrap()
}

const TIMEOUTS: [i64; 9] = [1, 15, 59, 480, 1440, 35_791, 43_200, 100_000, 525_600];

/// B24's kind: every limit, lifetime or idle, is live 1 ms before its deadline and has ended at
/// it, whichever limit is the earlier.
#[test]
fn b24_kind_each_limit_is_half_open_to_the_millisecond() {
    let start = at("2026-03-10T10:00:00.000Z");
    let ms = TimeDelta::try_milliseconds(1).unwrap();
    for lifetime in TIMEOUTS {
        for idle in [None, Some(1), Some(30), Some(lifetime), Some(525_600)] {
            let p = policy(lifetime, idle, 3);
            let mut s = Session::signed_in(SessionId::new("s").unwrap(), user(), start);
            s.last_activity_at = start + TimeDelta::try_minutes(lifetime / 2).unwrap();
            let live = session_expired(&p, &s, s.last_activity_at);
            let end = live.ends_at().unwrap();
            assert!(!live.is_expired(), "ended early: {lifetime} {idle:?}");
            assert!(!session_expired(&p, &s, end - ms).is_expired());
            assert!(session_expired(&p, &s, end).is_expired());
            let expected = [
                Some(start + TimeDelta::try_minutes(lifetime).unwrap()),
                idle.map(|i| s.last_activity_at + TimeDelta::try_minutes(i).unwrap()),
            ]
            .into_iter()
            .flatten()
            .min()
            .unwrap();
            assert_eq!(end, expected, "{lifetime} {idle:?}");
        }
    }
}

/// B25's kind: no timeout in range, up to a year, overflows into a session born expired; a
/// session checked 5 minutes after sign-in is live for every timeout above 5 minutes, at dates
/// far apart.
#[test]
fn b25_kind_large_timeouts_never_overflow_into_born_expired_sessions() {
    for created in [
        "1970-01-01T00:00:00Z",
        "2026-03-10T10:00:00Z",
        "2038-01-19T03:14:08Z",
        "9999-12-31T23:00:00Z",
    ] {
        let created = at(created);
        let now = created + TimeDelta::try_minutes(5).unwrap();
        for lifetime in (6..=525_600).step_by(997).chain([525_600]) {
            let p = policy(lifetime, Some(lifetime), 3);
            let s = Session::signed_in(SessionId::new("s").unwrap(), user(), created);
            assert!(
                !session_expired(&p, &s, now).is_expired(),
                "{lifetime} minutes at {created}"
            );
        }
    }
}

/// B26's kind: for every limit, `limit - 1` live sessions admit plainly and `limit` or more
/// are at the limit, under every rule; expired sessions never count.
#[test]
fn b26_kind_the_limit_is_reached_at_equality_for_every_size() {
    let now = at("2026-03-10T12:00:00Z");
    for max in [1_i64, 2, 3, 10, 1000] {
        for rule in [
            OnSessionLimit::RejectNewLogin,
            OnSessionLimit::EndOldest,
            OnSessionLimit::EndLeastRecentlyUsed,
        ] {
            let mut p = policy(480, None, max);
            p.on_session_limit = Some(rule);
            for live in [max - 1, max, max + 1] {
                let max_u = usize::try_from(max).unwrap();
                let live_u = usize::try_from(live).unwrap();
                let mut sessions: Vec<Session> = (0..live_u)
                    .map(|i| {
                        Session::signed_in(
                            SessionId::new(format!("s{i}")).unwrap(),
                            user(),
                            now - TimeDelta::try_seconds(i64::try_from(i).unwrap() + 1).unwrap(),
                        )
                    })
                    .collect();
                // Expired sessions alongside never count toward the limit.
                sessions.push(Session::signed_in(
                    SessionId::new("stale").unwrap(),
                    user(),
                    at("2026-03-09T00:00:00Z"),
                ));
                let d = admit_session(&p, &sessions, now);
                assert_eq!(d.live(), live_u);
                assert_eq!(d.at_limit(), live >= max, "{max} {rule:?} {live}");
                match d {
                    Admission::AdmitEnding { end, .. } => {
                        assert_eq!(end.len(), live_u + 1 - max_u);
                        assert!(end.iter().all(|s| s.id.as_str() != "stale"));
                    }
                    Admission::Reject { .. } => assert_eq!(rule, OnSessionLimit::RejectNewLogin),
                    Admission::Admit { .. } => assert!(live < max),
                }
            }
        }
    }
}

/// B27's kind: however recent the activity, only an authentication inside the window lets a
/// sensitive action proceed, for every action and window.
#[test]
fn b27_kind_activity_never_counts_as_authentication() {
    let now = at("2026-03-10T12:00:00Z");
    let actions = [
        SensitiveAction::ChangeSecuritySettings,
        SensitiveAction::ManageApiKeys,
        SensitiveAction::RotateApiKeys,
        SensitiveAction::ChangeTwoFactor,
        SensitiveAction::Custom("refund.issue".into()),
    ];
    for window in [1_i64, 5, 15, 1440] {
        let mut p = policy(525_600, Some(120), 3);
        p.reauth_window_minutes = Some(ReauthWindowMinutes::new(window).unwrap());
        for action in &actions {
            let mut s = Session::signed_in(
                SessionId::new("s").unwrap(),
                user(),
                now - TimeDelta::try_minutes(window + 60).unwrap(),
            );
            for activity_ago in [0, 1, 30] {
                s.last_activity_at = now - TimeDelta::try_seconds(activity_ago).unwrap();
                let d = reauth_required(&p, &s, action, now);
                assert!(
                    matches!(d, ReauthDecision::Reauthenticate { .. }),
                    "{window} {action} {d:?}"
                );
            }
            s.last_authenticated_at = now - TimeDelta::try_minutes(window).unwrap();
            assert!(!reauth_required(&p, &s, action, now).permits());
            s.last_authenticated_at += TimeDelta::try_seconds(1).unwrap();
            assert!(reauth_required(&p, &s, action, now).permits());
        }
    }
}
