//! `whale-security session --settings FILE --sessions FILE [--now T] [--action A] [--user U]
//! [--aal L]`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::{Value, json};
use whale_security::id::UserId;
use whale_security::quote::{escape, shorten};
use whale_security::session::{
    Aal, Admission, ProceedReason, ReauthDecision, ReauthReason, SensitiveAction, Session,
    SessionStatus, admit_session, advisories, reauth_required, session_expired,
};
use whale_security::settings::plain_serde_message;
use whale_security::time;

use crate::common;

#[derive(clap::Args)]
pub struct Args {
    /// The settings file (JSON); its `session_policy` is applied.
    #[arg(long)]
    settings: PathBuf,
    /// The sessions file: a JSON array of session records (see the README).
    #[arg(long)]
    sessions: PathBuf,
    /// The instant to decide at (RFC 3339); the system clock when absent.
    #[arg(long)]
    now: Option<String>,
    /// A sensitive action to ask about for every session: one of the known names (such as
    /// `rotate_api_keys`), or your own as `custom:NAME`.
    #[arg(long, value_parser = parse_action)]
    action: Option<SensitiveAction>,
    /// Answer admission for this member only; by default for every member in the file.
    #[arg(long)]
    user: Option<UserId>,
    /// The assurance level the advisories judge the policy at.
    #[arg(long, default_value = "aal2")]
    aal: Aal,
}

pub fn run(args: &Args) -> Result<ExitCode, String> {
    let settings = common::load_settings(&args.settings)?;
    let policy = settings.session_policy();
    let now = common::now(args.now.as_deref())?;
    let text = common::read(&args.sessions)?;
    let mut reader = serde_json::Deserializer::from_str(&text);
    let sessions: Vec<Session> = serde_path_to_error::deserialize(&mut reader).map_err(|e| {
        format!(
            "{} is not a valid sessions file: at `{}`: {}",
            args.sessions.display(),
            shorten(&e.path().to_string()),
            escape(&plain_serde_message(&e.inner().to_string()))
        )
    })?;
    if let Some(problem) = inconsistency(&sessions) {
        return Err(format!(
            "{} is not a valid sessions file: {problem}",
            args.sessions.display()
        ));
    }
    let mut positive = true;

    let mut rows = Vec::with_capacity(sessions.len());
    for session in &sessions {
        let status = session_expired(policy, session, now);
        positive &= !status.is_expired();
        let reason = match &status {
            SessionStatus::Live { until } => until.limit.as_str(),
            SessionStatus::Expired { reason } => reason.as_str(),
        };
        let mut row = serde_json::Map::new();
        row.insert("id".into(), json!(session.id.as_str()));
        row.insert("user".into(), json!(session.user.as_str()));
        row.insert("expired".into(), json!(status.is_expired()));
        row.insert("reason".into(), json!(reason));
        row.insert("ends_at".into(), json!(status.ends_at().map(time::format)));
        if let Some(action) = &args.action {
            let decision = reauth_required(policy, session, action, now);
            positive &= decision.permits();
            row.insert("reauth".into(), reauth_json(action, &decision));
        }
        rows.push(Value::Object(row));
    }

    // Each member's sessions, members in order of first appearance: one pass, so a file of
    // many members costs O(n log n), not a scan of every session per member.
    let mut by_user: BTreeMap<&UserId, Vec<Session>> = BTreeMap::new();
    let mut users: Vec<&UserId> = Vec::new();
    for s in &sessions {
        let own = by_user.entry(&s.user).or_default();
        if own.is_empty() && args.user.is_none() {
            users.push(&s.user);
        }
        own.push(s.clone());
    }
    if let Some(user) = &args.user {
        users.push(user);
    }
    let no_sessions = Vec::new();
    let admission: Vec<Value> = users
        .into_iter()
        .map(|user| {
            let own = by_user.get(user).unwrap_or(&no_sessions);
            let decision = admit_session(policy, own, now);
            positive &= matches!(decision, Admission::Admit { .. });
            admission_json(user, &decision)
        })
        .collect();

    let advice: Vec<Value> = advisories(policy, args.aal)
        .iter()
        .map(|a| {
            json!({
                "code": a.code.as_str(),
                "level": a.level.as_str(),
                "requirement": a.requirement.as_str(),
                "reference": a.reference,
                "field": a.field,
                "message": a.to_string(),
            })
        })
        .collect();

    let out = json!({
        "now": time::format(now),
        "sessions": rows,
        "admission": admission,
        "advisories": advice,
    });
    outln!(
        "{}",
        serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?
    );
    Ok(if positive {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn reauth_json(action: &SensitiveAction, decision: &ReauthDecision) -> Value {
    let (outcome, reason, recent_until) = match decision {
        ReauthDecision::Proceed {
            reason: ProceedReason::RecentAuthentication { recent_until, .. },
        } => ("proceed", "recent_authentication", Some(*recent_until)),
        ReauthDecision::Proceed { .. } => ("proceed", "not_required", None),
        ReauthDecision::Reauthenticate {
            reason: ReauthReason::Stale { recent_until, .. },
        } => ("reauthenticate", "stale", Some(*recent_until)),
        ReauthDecision::Reauthenticate { .. } => ("reauthenticate", "window_out_of_range", None),
        ReauthDecision::SessionExpired { reason } => ("session_expired", reason.as_str(), None),
    };
    json!({
        "action": action.as_str(),
        "decision": outcome,
        "reason": reason,
        "recent_until": recent_until.map(time::format),
    })
}

fn admission_json(user: &UserId, decision: &Admission<'_>) -> Value {
    match decision {
        Admission::Admit { live, limit } => json!({
            "user": user.as_str(), "decision": "admit", "live": live, "limit": limit.get(),
        }),
        Admission::AdmitEnding {
            live,
            limit,
            rule,
            end,
        } => json!({
            "user": user.as_str(), "decision": "admit_ending", "live": live,
            "limit": limit.get(), "rule": rule.as_str(),
            "end": end.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        }),
        Admission::Reject { live, limit } => json!({
            "user": user.as_str(), "decision": "reject", "live": live, "limit": limit.get(),
        }),
    }
}

/// The actions the library names; anything else must be spelled `custom:NAME`, so a typo of a
/// known name (`rotate_keys`) is refused instead of becoming a custom action silently.
const KNOWN_ACTIONS: [&str; 9] = [
    "change_security_settings",
    "manage_api_keys",
    "rotate_api_keys",
    "change_two_factor",
    "change_password",
    "change_email",
    "manage_team_members",
    "change_payout_details",
    "export_data",
];

fn parse_action(text: &str) -> Result<SensitiveAction, String> {
    let (name, custom) = match text.strip_prefix("custom:") {
        Some(name) => (name, true),
        None => (text, false),
    };
    if !custom && !KNOWN_ACTIONS.contains(&name) {
        let text = shorten(text);
        return Err(format!(
            "`{text}` is not a known action ({}); write your own as `custom:{text}`",
            KNOWN_ACTIONS.join(", ")
        ));
    }
    name.parse::<SensitiveAction>().map_err(|e| e.to_string())
}

/// The first record that cannot be a real session, as `at `PATH`: PROBLEM`: an id used
/// before (sessions are told apart by id, whoever they belong to), or activity or
/// authentication recorded before sign-in.
fn inconsistency(sessions: &[Session]) -> Option<String> {
    let mut seen = std::collections::HashSet::new();
    sessions.iter().enumerate().find_map(|(i, s)| {
        if !seen.insert(&s.id) {
            return Some(format!(
                "at `[{i}].id`: session id `{}` is used by an earlier record",
                escape(s.id.as_str())
            ));
        }
        let before_sign_in = |field: &str, at| {
            format!(
                "at `[{i}].{field}`: {} is before the session's `created_at` ({})",
                time::format(at),
                time::format(s.created_at)
            )
        };
        if s.last_activity_at < s.created_at {
            return Some(before_sign_in("last_activity_at", s.last_activity_at));
        }
        (s.last_authenticated_at < s.created_at)
            .then(|| before_sign_in("last_authenticated_at", s.last_authenticated_at))
    })
}
