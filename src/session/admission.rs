//! Whether a member may open another session.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};

use super::{MaxSessions, OnSessionLimit, Session, SessionPolicy, session_expired};
use crate::id::UserId;

/// Whether a member holding `active_sessions` may sign in once more at `now`.
///
/// Only sessions live at `now` ([`session_expired`]) count. The limit is reached when the live
/// count is **at least** `max_concurrent_sessions` (`>=`: with a limit of 3 and 3 live sessions
/// a fourth would break it). At the limit the policy's [`OnSessionLimit`] decides:
///
/// - [`OnSessionLimit::RejectNewLogin`] (the default): [`Admission::Reject`];
/// - [`OnSessionLimit::EndOldest`]: [`Admission::AdmitEnding`] naming the sessions with the
///   earliest `created_at`;
/// - [`OnSessionLimit::EndLeastRecentlyUsed`]: the same, by earliest `last_activity_at`.
///
/// Enough sessions are named that the member holds exactly `max_concurrent_sessions` once the
/// new one starts: one at the limit, more when a lowered limit left the member above it. Ties
/// are broken by the other instant, then by id, so the choice is deterministic.
///
/// `active_sessions` must be one member's sessions; [`admit_session_for`] selects them from a
/// mixed list. Duplicate records are counted as given.
///
/// Cost: O(n) for n sessions below the limit or when one session is named; O(n log n) when
/// more are. Allocates the list of live sessions.
///
/// # Examples
///
/// ```
/// use whale_security::session::{
///     Admission, OnSessionLimit, Session, SessionId, SessionPolicy, admit_session,
/// };
/// use whale_security::{id::UserId, time};
///
/// let mut policy: SessionPolicy = serde_json::from_str(
///     r#"{"timeout_minutes": 480, "max_concurrent_sessions": 2,
///         "require_re_auth_for_sensitive": true}"#,
/// )?;
/// let user = UserId::new("user_a")?;
/// let sessions = [
///     Session::signed_in(SessionId::new("s1")?, user.clone(), time::parse("2026-03-10T08:00:00Z")?),
///     Session::signed_in(SessionId::new("s2")?, user.clone(), time::parse("2026-03-10T09:00:00Z")?),
/// ];
/// let now = time::parse("2026-03-10T12:00:00Z")?;
///
/// // Two live sessions and a limit of two: at the limit, so the default rejects.
/// assert!(matches!(admit_session(&policy, &sessions, now), Admission::Reject { live: 2, .. }));
///
/// policy.on_session_limit = Some(OnSessionLimit::EndOldest);
/// let Admission::AdmitEnding { end, .. } = admit_session(&policy, &sessions, now) else {
///     panic!("expected an eviction");
/// };
/// assert_eq!(end[0].id.as_str(), "s1");
///
/// // At 16:00 s1's 8 hours are over (half-open): one live session, admitted as is.
/// let later = time::parse("2026-03-10T16:00:00Z")?;
/// assert!(matches!(admit_session(&policy, &sessions, later), Admission::Admit { live: 1, .. }));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn admit_session<'a>(
    policy: &SessionPolicy,
    active_sessions: &'a [Session],
    now: DateTime<Utc>,
) -> Admission<'a> {
    decide(policy, active_sessions.iter(), now)
}

/// [`admit_session`] for `user`, counting only that member's entries of `sessions`.
pub fn admit_session_for<'a>(
    policy: &SessionPolicy,
    user: &UserId,
    sessions: &'a [Session],
    now: DateTime<Utc>,
) -> Admission<'a> {
    decide(policy, sessions.iter().filter(|s| &s.user == user), now)
}

/// The answer to a sign-in at the concurrent-session limit.
#[must_use]
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Admission<'a> {
    /// Below the limit: start the new session.
    Admit {
        /// Live sessions before the new one.
        live: usize,
        /// `max_concurrent_sessions`.
        limit: MaxSessions,
    },
    /// At the limit: end the sessions in `end` (notify their owner, audit), then start the new
    /// session.
    AdmitEnding {
        /// Live sessions before the new one.
        live: usize,
        /// `max_concurrent_sessions`.
        limit: MaxSessions,
        /// The rule that chose `end`.
        rule: OnSessionLimit,
        /// The sessions to end, in the rule's order (the one to go first comes first); never
        /// empty.
        end: Vec<&'a Session>,
    },
    /// At the limit, and the policy refuses new sign-ins there.
    Reject {
        /// Live sessions.
        live: usize,
        /// `max_concurrent_sessions`.
        limit: MaxSessions,
    },
}

impl Admission<'_> {
    /// Whether the live count had reached the limit (the answer was not a plain admit).
    #[must_use]
    pub fn at_limit(&self) -> bool {
        !matches!(self, Self::Admit { .. })
    }

    /// The live sessions counted.
    #[must_use]
    pub fn live(&self) -> usize {
        match self {
            Self::Admit { live, .. }
            | Self::AdmitEnding { live, .. }
            | Self::Reject { live, .. } => *live,
        }
    }
}

fn decide<'a>(
    policy: &SessionPolicy,
    sessions: impl Iterator<Item = &'a Session>,
    now: DateTime<Utc>,
) -> Admission<'a> {
    let limit = policy.max_concurrent_sessions;
    let mut live: Vec<&'a Session> = sessions
        .filter(|s| !session_expired(policy, s, now).is_expired())
        .collect();
    let count = live.len();
    let max = usize::try_from(limit.get()).unwrap_or(usize::MAX);
    // INVARIANT: max >= 1 (MaxSessions), so `max - 1` does not underflow and, at the limit,
    // `count - (max - 1) >= 1` sessions are named.
    let Some(extra) = count.checked_sub(max.saturating_sub(1)).filter(|&n| n > 0) else {
        return Admission::Admit { live: count, limit };
    };
    let rule = policy.on_session_limit();
    if rule == OnSessionLimit::RejectNewLogin {
        return Admission::Reject { live: count, limit };
    }
    let order = |a: &&Session, b: &&Session| eviction_order(rule, a, b);
    if extra == 1 {
        let first = live.iter().copied().min_by(order);
        live = first.into_iter().collect();
    } else {
        live.sort_unstable_by(order);
        live.truncate(extra);
    }
    Admission::AdmitEnding {
        live: count,
        limit,
        rule,
        end: live,
    }
}

/// The order in which `rule` ends sessions: the first to end sorts first.
pub(super) fn eviction_order(rule: OnSessionLimit, a: &Session, b: &Session) -> Ordering {
    let by_sign_in = a.created_at.cmp(&b.created_at);
    let by_use = a.last_activity_at.cmp(&b.last_activity_at);
    let (first, second) = match rule {
        OnSessionLimit::EndLeastRecentlyUsed => (by_use, by_sign_in),
        OnSessionLimit::EndOldest | OnSessionLimit::RejectNewLogin => (by_sign_in, by_use),
    };
    first.then(second).then_with(|| a.id.cmp(&b.id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{SessionId, TimeoutMinutes};
    use crate::time::parse;

    fn policy(max: u32, rule: OnSessionLimit) -> SessionPolicy {
        SessionPolicy {
            timeout_minutes: TimeoutMinutes::DEFAULT,
            max_concurrent_sessions: MaxSessions::new(max.into()).unwrap(),
            require_re_auth_for_sensitive: true,
            idle_timeout_minutes: None,
            reauth_window_minutes: None,
            on_session_limit: Some(rule),
        }
    }

    fn s(id: &str, user: &str, created: &str, active: &str) -> Session {
        Session {
            id: SessionId::new(id).unwrap(),
            user: UserId::new(user).unwrap(),
            created_at: parse(created).unwrap(),
            last_activity_at: parse(active).unwrap(),
            last_authenticated_at: parse(created).unwrap(),
        }
    }

    fn three() -> Vec<Session> {
        vec![
            s(
                "a",
                "user_x",
                "2026-03-10T08:00:00Z",
                "2026-03-10T11:50:00Z",
            ),
            s(
                "b",
                "user_x",
                "2026-03-10T09:00:00Z",
                "2026-03-10T10:00:00Z",
            ),
            s(
                "c",
                "user_x",
                "2026-03-10T10:00:00Z",
                "2026-03-10T11:00:00Z",
            ),
        ]
    }

    #[test]
    fn least_recently_used_ends_the_idlest_not_the_oldest() {
        let sessions = three();
        let now = parse("2026-03-10T12:00:00Z").unwrap();
        let Admission::AdmitEnding { end, .. } = admit_session(
            &policy(3, OnSessionLimit::EndLeastRecentlyUsed),
            &sessions,
            now,
        ) else {
            panic!()
        };
        assert_eq!(end.len(), 1);
        assert_eq!(end[0].id.as_str(), "b");
    }

    #[test]
    fn a_member_above_a_lowered_limit_loses_enough_to_end_at_the_limit() {
        let sessions = three();
        let now = parse("2026-03-10T12:00:00Z").unwrap();
        let Admission::AdmitEnding { end, live, .. } =
            admit_session(&policy(1, OnSessionLimit::EndOldest), &sessions, now)
        else {
            panic!()
        };
        assert_eq!(live, 3);
        let ids: Vec<&str> = end.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c"]);
    }

    #[test]
    fn admit_session_for_counts_only_that_members_sessions() {
        let mut sessions = three();
        sessions.push(s(
            "d",
            "user_y",
            "2026-03-10T10:00:00Z",
            "2026-03-10T11:00:00Z",
        ));
        let now = parse("2026-03-10T12:00:00Z").unwrap();
        let p = policy(2, OnSessionLimit::RejectNewLogin);
        let y = UserId::new("user_y").unwrap();
        assert_eq!(
            admit_session_for(&p, &y, &sessions, now),
            Admission::Admit {
                live: 1,
                limit: MaxSessions::new(2).unwrap()
            }
        );
    }

    #[test]
    fn expired_sessions_do_not_count_toward_the_limit() {
        let sessions = three();
        // a ends at 16:00, b at 17:00, c at 18:00 (8-hour lifetime).
        let now = parse("2026-03-10T17:00:00Z").unwrap();
        let decision = admit_session(&policy(2, OnSessionLimit::RejectNewLogin), &sessions, now);
        assert_eq!(decision.live(), 1);
        assert!(!decision.at_limit());
    }
}
