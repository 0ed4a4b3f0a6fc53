//! Whether a session has ended, and which live sessions a new policy would end.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::admission::eviction_order;
use super::{OnSessionLimit, Session, SessionPolicy, TimeoutMinutes};
use crate::id::UserId;
use crate::session::MaxSessions;
use crate::time::{beyond_clock_skew, checked_add_minutes};

/// Whether a session is live at `now`, and until when.
///
/// The session ends at the earlier of two deadlines, each half-open (live on
/// `[start, deadline)`):
///
/// - **lifetime**: `created_at + timeout_minutes`, never renewed by activity;
/// - **idle** (when `idle_timeout_minutes` is set): `last_activity_at + idle_timeout_minutes`.
///
/// When both fall on the same instant the lifetime is named. Stored instants later than `now`
/// by up to [`MAX_CLOCK_SKEW_SECONDS`](crate::time::MAX_CLOCK_SKEW_SECONDS) count as `now`
/// (see the [module's time rules](crate::session)), so a clock stepped back never extends a
/// session and never panics; a stored instant further ahead is not trusted and the answer is
/// [`SessionStatus::Expired`] with [`ExpiryReason::RecordedInFuture`]. A deadline chrono cannot represent is later than
/// any `now`; when neither is representable the answer is [`SessionStatus::Expired`] with
/// [`ExpiryReason::DeadlineOutOfRange`] (fail closed). That needs a `now` or stored instants
/// within a year of chrono's end of time (year 262 143), never real data.
///
/// Cost: constant, no allocation.
///
/// # Examples
///
/// ```
/// use whale_security::session::{
///     Session, SessionId, SessionLimit, SessionPolicy, SessionStatus, session_expired,
/// };
/// use whale_security::{id::UserId, time};
///
/// let mut policy: SessionPolicy = serde_json::from_str(
///     r#"{"timeout_minutes": 480, "max_concurrent_sessions": 3,
///         "require_re_auth_for_sensitive": true, "idle_timeout_minutes": 30}"#,
/// )?;
/// let mut session = Session::signed_in(
///     SessionId::new("s1")?, UserId::new("user_a")?, time::parse("2026-03-10T10:00:00Z")?,
/// );
/// session.last_activity_at = time::parse("2026-03-10T17:45:00Z")?;
///
/// // One second before the 8-hour lifetime: live, and the lifetime is what ends it.
/// let status = session_expired(&policy, &session, time::parse("2026-03-10T17:59:59Z")?);
/// assert!(!status.is_expired());
/// assert_eq!(status.ends_at(), Some(time::parse("2026-03-10T18:00:00Z")?));
///
/// // At the deadline itself it has ended.
/// let status = session_expired(&policy, &session, time::parse("2026-03-10T18:00:00Z")?);
/// let SessionStatus::Expired { reason } = status else { panic!("{status:?}") };
/// assert_eq!(reason.limit(), Some(SessionLimit::Lifetime));
///
/// // A clock a minute behind the one that recorded the sign-in: still live, never longer.
/// session.last_activity_at = session.created_at;
/// let status = session_expired(&policy, &session, time::parse("2026-03-10T09:59:00Z")?);
/// assert_eq!(status.ends_at(), Some(time::parse("2026-03-10T10:29:00Z")?));
///
/// // A sign-in recorded hours after `now` is not skew but a corrupt record: not live.
/// let status = session_expired(&policy, &session, time::parse("2026-03-10T09:00:00Z")?);
/// let SessionStatus::Expired { reason } = status else { panic!("{status:?}") };
/// assert_eq!(reason.as_str(), "recorded_in_future");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn session_expired(
    policy: &SessionPolicy,
    session: &Session,
    now: DateTime<Utc>,
) -> SessionStatus {
    let stored = [
        ("created_at", session.created_at),
        ("last_activity_at", session.last_activity_at),
        ("last_authenticated_at", session.last_authenticated_at),
    ];
    if let Some(&(field, at)) = stored.iter().find(|(_, at)| beyond_clock_skew(*at, now)) {
        return SessionStatus::Expired {
            reason: ExpiryReason::RecordedInFuture { field, at, now },
        };
    }
    let lifetime = Deadline::compute(
        SessionLimit::Lifetime,
        policy.timeout_minutes,
        session.created_at,
        now,
    );
    let idle = policy.idle_timeout_minutes.and_then(|minutes| {
        Deadline::compute(SessionLimit::Idle, minutes, session.last_activity_at, now)
    });
    // The earlier deadline wins; on a tie the lifetime is named. An absent (unrepresentable)
    // deadline is later than every representable one.
    let first = match (lifetime, idle) {
        (Some(l), Some(i)) if i.at < l.at => Some(i),
        (Some(l), _) => Some(l),
        (None, i) => i,
    };
    let Some(deadline) = first else {
        return SessionStatus::Expired {
            reason: ExpiryReason::DeadlineOutOfRange {
                created_at: session.created_at,
                timeout_minutes: policy.timeout_minutes,
            },
        };
    };
    if now < deadline.at {
        SessionStatus::Live { until: deadline }
    } else {
        SessionStatus::Expired {
            reason: ExpiryReason::LimitReached { deadline },
        }
    }
}

/// The live sessions that switching from `current` to `proposed` would end at `now`, for the
/// service to preview and then apply ("changes take effect immediately").
///
/// A session is listed when it is live under `current` and either
/// - has ended under `proposed` (a shorter lifetime, a new or shorter idle timeout):
///   [`EndReason::Expired`]; or
/// - is one too many for its member under `proposed.max_concurrent_sessions` and `proposed`
///   ends sessions at the limit ([`OnSessionLimit::EndOldest`] or
///   [`OnSessionLimit::EndLeastRecentlyUsed`]): [`EndReason::OverLimit`], chosen in that
///   rule's order so that exactly `max_concurrent_sessions` stay. Under
///   [`OnSessionLimit::RejectNewLogin`] sessions over a lowered limit stay; the member's next
///   sign-in is refused until they are under it.
///
/// Sessions already ended under `current` are not listed. The result follows the order of
/// `sessions`, expired ones first, then the over-limit ones.
///
/// Cost: O(n log n) for n sessions, one allocation per member over the limit.
///
/// # Examples
///
/// ```
/// use whale_security::session::{EndReason, Session, SessionId, SessionPolicy, sessions_ended_by};
/// use whale_security::{id::UserId, time};
///
/// let current: SessionPolicy = serde_json::from_str(
///     r#"{"timeout_minutes": 480, "max_concurrent_sessions": 3,
///         "require_re_auth_for_sensitive": true}"#,
/// )?;
/// let mut proposed = current.clone();
/// proposed.timeout_minutes = 60.try_into()?;
///
/// let user = UserId::new("user_a")?;
/// let sessions = [
///     Session::signed_in(SessionId::new("old")?, user.clone(), time::parse("2026-03-10T10:00:00Z")?),
///     Session::signed_in(SessionId::new("new")?, user, time::parse("2026-03-10T11:30:00Z")?),
/// ];
/// let ended = sessions_ended_by(&current, &proposed, &sessions, time::parse("2026-03-10T12:00:00Z")?);
/// assert_eq!(ended.len(), 1);
/// assert_eq!(ended[0].session.id.as_str(), "old");
/// assert!(matches!(ended[0].reason, EndReason::Expired(_)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use]
pub fn sessions_ended_by<'a>(
    current: &SessionPolicy,
    proposed: &SessionPolicy,
    sessions: &'a [Session],
    now: DateTime<Utc>,
) -> Vec<Ending<'a>> {
    let mut ended = Vec::new();
    let mut still_live: BTreeMap<&'a UserId, Vec<&'a Session>> = BTreeMap::new();
    for session in sessions {
        if session_expired(current, session, now).is_expired() {
            continue;
        }
        match session_expired(proposed, session, now) {
            SessionStatus::Expired { reason } => ended.push(Ending {
                session,
                reason: EndReason::Expired(reason),
            }),
            SessionStatus::Live { .. } => {
                still_live.entry(&session.user).or_default().push(session)
            }
        }
    }
    let rule = proposed.on_session_limit();
    if rule == OnSessionLimit::RejectNewLogin {
        return ended;
    }
    let limit = proposed.max_concurrent_sessions;
    let keep = usize::try_from(limit.get()).unwrap_or(usize::MAX);
    for mut live in still_live.into_values() {
        let Some(extra) = live.len().checked_sub(keep).filter(|&n| n > 0) else {
            continue;
        };
        live.sort_by(|a, b| eviction_order(rule, a, b));
        ended.extend(live.into_iter().take(extra).map(|session| Ending {
            session,
            reason: EndReason::OverLimit { limit, rule },
        }));
    }
    ended
}

/// Whether a session is live, and until when.
#[must_use]
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum SessionStatus {
    /// The session is live until `until.at` (exclusive).
    Live {
        /// The deadline that will end it: the earlier of the lifetime and idle deadlines.
        until: Deadline,
    },
    /// The session has ended.
    Expired {
        /// Which limit ended it, and when.
        reason: ExpiryReason,
    },
}

impl SessionStatus {
    /// Whether the session has ended.
    #[must_use]
    pub fn is_expired(&self) -> bool {
        matches!(self, Self::Expired { .. })
    }

    /// When the session ends (live) or ended (expired); `None` only for
    /// [`ExpiryReason::DeadlineOutOfRange`].
    #[must_use]
    pub fn ends_at(&self) -> Option<DateTime<Utc>> {
        match self {
            Self::Live { until } => Some(until.at),
            Self::Expired { reason } => reason.deadline().map(|d| d.at),
        }
    }
}

/// One limit's deadline for one session.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Deadline {
    /// Which limit.
    pub limit: SessionLimit,
    /// The limit's length.
    pub minutes: TimeoutMinutes,
    /// The instant it counts from: `created_at` for the lifetime, `last_activity_at` for the
    /// idle limit, or `now` when that stored instant is later than `now`.
    pub counted_from: DateTime<Utc>,
    /// `counted_from + minutes`: the first instant at which the session has ended.
    pub at: DateTime<Utc>,
}

impl Deadline {
    /// The deadline of `limit` counted from `from` (or `now`, if earlier), or `None` when it is
    /// not representable.
    fn compute(
        limit: SessionLimit,
        minutes: TimeoutMinutes,
        from: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Option<Self> {
        let counted_from = from.min(now);
        let at = checked_add_minutes(counted_from, i64::from(minutes.get()))?;
        Some(Self {
            limit,
            minutes,
            counted_from,
            at,
        })
    }
}

/// The two limits on a session's life.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
#[non_exhaustive]
pub enum SessionLimit {
    /// `timeout_minutes` after sign-in.
    Lifetime,
    /// `idle_timeout_minutes` after the last activity.
    Idle,
}

impl SessionLimit {
    /// `lifetime` or `idle`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lifetime => "lifetime",
            Self::Idle => "idle",
        }
    }
}

/// Why a session has ended.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum ExpiryReason {
    /// `now` reached a limit's deadline.
    LimitReached {
        /// The deadline reached (the earlier one when both are).
        deadline: Deadline,
    },
    /// Neither deadline is representable, so the check fails closed.
    DeadlineOutOfRange {
        /// The session's stored sign-in.
        created_at: DateTime<Utc>,
        /// The lifetime that could not be added.
        timeout_minutes: TimeoutMinutes,
    },
    /// A stored instant lies more than
    /// [`MAX_CLOCK_SKEW_SECONDS`](crate::time::MAX_CLOCK_SKEW_SECONDS) after `now`: the record
    /// is corrupt or forged, not skewed, so the session is not live (fail closed). Counting it
    /// from `now` instead would keep it live at every earlier `now`.
    ///
    /// This is "not live yet" rather than "ended": once `now` comes within the allowance of
    /// the stored instant, the record is read normally.
    RecordedInFuture {
        /// The field: `created_at`, `last_activity_at` or `last_authenticated_at`.
        field: &'static str,
        /// Its stored value.
        at: DateTime<Utc>,
        /// The instant of the check.
        now: DateTime<Utc>,
    },
}

impl ExpiryReason {
    /// The deadline reached, if any.
    #[must_use]
    pub fn deadline(&self) -> Option<&Deadline> {
        match self {
            Self::LimitReached { deadline } => Some(deadline),
            Self::DeadlineOutOfRange { .. } | Self::RecordedInFuture { .. } => None,
        }
    }

    /// The limit that ended the session, if one did.
    #[must_use]
    pub fn limit(&self) -> Option<SessionLimit> {
        self.deadline().map(|d| d.limit)
    }

    /// A stable name: `lifetime`, `idle`, `deadline_out_of_range` or `recorded_in_future`.
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::LimitReached { deadline } => deadline.limit.as_str(),
            Self::DeadlineOutOfRange { .. } => "deadline_out_of_range",
            Self::RecordedInFuture { .. } => "recorded_in_future",
        }
    }
}

/// A live session that a new policy would end.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Ending<'a> {
    /// The session.
    pub session: &'a Session,
    /// Why it would end.
    pub reason: EndReason,
}

/// Why a new policy would end a live session.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum EndReason {
    /// It has expired under the new limits.
    Expired(ExpiryReason),
    /// Its member holds more live sessions than the new limit allows, and the new policy ends
    /// sessions at the limit.
    OverLimit {
        /// The new limit.
        limit: MaxSessions,
        /// The rule that chose this session.
        rule: OnSessionLimit,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::SessionId;
    use crate::time::parse;

    fn policy(lifetime: u32, idle: Option<u32>) -> SessionPolicy {
        SessionPolicy {
            timeout_minutes: TimeoutMinutes::new(lifetime.into()).unwrap(),
            max_concurrent_sessions: MaxSessions::DEFAULT,
            require_re_auth_for_sensitive: true,
            idle_timeout_minutes: idle.map(|m| TimeoutMinutes::new(m.into()).unwrap()),
            reauth_window_minutes: None,
            on_session_limit: None,
        }
    }

    fn session(created: &str, active: &str) -> Session {
        Session {
            id: SessionId::new("s1").unwrap(),
            user: UserId::new("user_a").unwrap(),
            created_at: parse(created).unwrap(),
            last_activity_at: parse(active).unwrap(),
            last_authenticated_at: parse(created).unwrap(),
        }
    }

    #[test]
    fn idle_timeout_ends_a_session_before_its_lifetime_and_says_so() {
        let s = session("2026-03-10T10:00:00Z", "2026-03-10T10:10:00Z");
        let status = session_expired(
            &policy(480, Some(30)),
            &s,
            parse("2026-03-10T10:40:00Z").unwrap(),
        );
        let SessionStatus::Expired { reason } = status else {
            panic!("{status:?}")
        };
        assert_eq!(reason.limit(), Some(SessionLimit::Idle));
        assert_eq!(
            status.ends_at(),
            Some(parse("2026-03-10T10:40:00Z").unwrap())
        );
    }

    #[test]
    fn activity_never_renews_the_lifetime() {
        let s = session("2026-03-10T10:00:00Z", "2026-03-10T17:59:00Z");
        let status = session_expired(
            &policy(480, Some(30)),
            &s,
            parse("2026-03-10T18:00:00Z").unwrap(),
        );
        assert!(status.is_expired());
        assert_eq!(
            status.ends_at(),
            Some(parse("2026-03-10T18:00:00Z").unwrap())
        );
    }

    #[test]
    fn equal_deadlines_name_the_lifetime() {
        let s = session("2026-03-10T10:00:00Z", "2026-03-10T10:00:00Z");
        let status = session_expired(
            &policy(60, Some(60)),
            &s,
            parse("2026-03-10T11:00:00Z").unwrap(),
        );
        let SessionStatus::Expired { reason } = status else {
            panic!("{status:?}")
        };
        assert_eq!(reason.limit(), Some(SessionLimit::Lifetime));
    }

    #[test]
    fn a_future_last_activity_counts_as_now_and_never_extends_the_idle_deadline() {
        let s = session("2026-03-10T10:00:00Z", "2026-03-10T12:04:00Z");
        let now = parse("2026-03-10T12:00:00Z").unwrap();
        let status = session_expired(&policy(480, Some(30)), &s, now);
        assert_eq!(
            status.ends_at(),
            Some(parse("2026-03-10T12:30:00Z").unwrap())
        );
    }

    #[test]
    fn a_last_activity_beyond_the_clock_skew_allowance_is_not_trusted() {
        let s = session("2026-03-10T10:00:00Z", "2026-03-11T10:00:00Z");
        let now = parse("2026-03-10T12:00:00Z").unwrap();
        let status = session_expired(&policy(480, Some(30)), &s, now);
        assert!(matches!(
            status,
            SessionStatus::Expired {
                reason: ExpiryReason::RecordedInFuture {
                    field: "last_activity_at",
                    ..
                }
            }
        ));
        assert_eq!(status.ends_at(), None);
    }

    #[test]
    fn an_unrepresentable_idle_deadline_leaves_the_lifetime_in_charge() {
        let end = DateTime::<Utc>::MAX_UTC;
        let minutes_before_end = |m: i64| checked_add_minutes(end, -m).unwrap();
        let mut s = session("2026-03-10T10:00:00Z", "2026-03-10T10:00:00Z");
        s.created_at = minutes_before_end(490);
        s.last_activity_at = minutes_before_end(18);
        s.last_authenticated_at = s.created_at;
        // The idle limit counts from now (the stored activity is 2 minutes later) and 30
        // minutes past it is beyond the end of time; the lifetime ends 10 minutes before it.
        let status = session_expired(&policy(480, Some(30)), &s, minutes_before_end(20));
        assert_eq!(status.ends_at(), Some(minutes_before_end(10)));
        assert!(!status.is_expired());
    }

    #[test]
    fn no_representable_deadline_fails_closed() {
        let mut s = session("2026-03-10T10:00:00Z", "2026-03-10T10:00:00Z");
        s.created_at = DateTime::<Utc>::MAX_UTC;
        s.last_activity_at = DateTime::<Utc>::MAX_UTC;
        let status = session_expired(&policy(1, Some(1)), &s, DateTime::<Utc>::MAX_UTC);
        assert!(matches!(
            status,
            SessionStatus::Expired {
                reason: ExpiryReason::DeadlineOutOfRange { .. }
            }
        ));
        assert_eq!(status.ends_at(), None);
    }

    #[test]
    fn a_lowered_limit_ends_the_oldest_extra_sessions_only_under_an_ending_rule() {
        let user = UserId::new("user_a").unwrap();
        let sessions: Vec<Session> = ["10", "11", "09"]
            .iter()
            .enumerate()
            .map(|(i, h)| {
                Session::signed_in(
                    SessionId::new(format!("s{i}")).unwrap(),
                    user.clone(),
                    parse(&format!("2026-03-10T{h}:00:00Z")).unwrap(),
                )
            })
            .collect();
        let now = parse("2026-03-10T12:00:00Z").unwrap();
        let current = policy(480, None);
        let mut proposed = current.clone();
        proposed.max_concurrent_sessions = MaxSessions::new(1).unwrap();
        assert!(sessions_ended_by(&current, &proposed, &sessions, now).is_empty());
        proposed.on_session_limit = Some(OnSessionLimit::EndOldest);
        let ended: Vec<&str> = sessions_ended_by(&current, &proposed, &sessions, now)
            .iter()
            .map(|e| e.session.id.as_str())
            .collect();
        assert_eq!(ended, ["s2", "s0"]);
    }
}
