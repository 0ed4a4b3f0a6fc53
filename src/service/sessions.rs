//! Sessions and password changes through the service.

use chrono::{DateTime, SubsecRound, Utc};

use super::{SecurityService, ServiceError};
use crate::id::{StoreId, UserId};
use crate::password::{
    HashParams, NormalizedPassword, PasswordContext, PasswordDecision, hash_password,
    validate_password,
};
use crate::session::{
    Admission, MaxSessions, Session, SessionId, SessionStatus, admit_session, session_expired,
};
use crate::store::{Store, StoreError};

impl<S: Store> SecurityService<S> {
    /// Signs `user_id` in with a new session `session_id` at `now`, under the store's
    /// concurrent-session limit.
    ///
    /// The member's expired sessions are ended on the way. At the limit the policy either
    /// rejects the sign-in or ends the sessions its rule picks ([`SignIn::Admitted::ended`]:
    /// notify their owner). The start is a compare-and-set on the member's sessions, so two
    /// sign-ins racing at the limit are decided one after the other, never both admitted over
    /// it.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`]; [`StoreError::DuplicateSession`] when the id is taken;
    /// [`ServiceError::Contended`] after [`Self::SESSION_ATTEMPTS`] lost races; storage failures.
    pub fn sign_in(
        &self,
        store_id: &StoreId,
        session_id: SessionId,
        user_id: &UserId,
        now: DateTime<Utc>,
    ) -> Result<SignIn, ServiceError> {
        let now = now.trunc_subsecs(3);
        let settings = self.settings(store_id)?;
        let policy = settings.value.session_policy();
        let session = Session::signed_in(session_id, user_id.clone(), now);
        for _ in 0..Self::SESSION_ATTEMPTS {
            let held = self.store.sessions_of(store_id, user_id)?;
            let (live, expired): (Vec<Session>, Vec<Session>) = held
                .iter()
                .cloned()
                .partition(|s| !session_expired(policy, s, now).is_expired());
            let expected: Vec<SessionId> = held.iter().map(|s| s.id.clone()).collect();
            let mut end: Vec<SessionId> = expired.into_iter().map(|s| s.id).collect();
            let ended = match admit_session(policy, &live, now) {
                Admission::Admit { .. } => Vec::new(),
                Admission::AdmitEnding { end: chosen, .. } => {
                    chosen.into_iter().map(|s| s.id.clone()).collect()
                }
                Admission::Reject { live, limit } => return Ok(SignIn::Rejected { live, limit }),
            };
            end.extend(ended.iter().cloned());
            match self
                .store
                .start_session(store_id, &session, &expected, &end)
            {
                Ok(()) => return Ok(SignIn::Admitted { session, ended }),
                Err(StoreError::SessionsChanged { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Contended {
            what: "sessions",
            attempts: Self::SESSION_ATTEMPTS,
        })
    }

    /// Whether session `session_id` is live at `now` under the store's session policy, and
    /// until when (the exact deadline instant is already expired).
    ///
    /// # Errors
    ///
    /// [`StoreError::SessionNotFound`] (ended or unknown: refuse the request);
    /// [`StoreError::NotFound`]; storage failures.
    pub fn session_status(
        &self,
        store_id: &StoreId,
        session_id: &SessionId,
        now: DateTime<Utc>,
    ) -> Result<SessionStatus, ServiceError> {
        let settings = self.settings(store_id)?;
        let session = self.store.session(store_id, session_id)?.ok_or_else(|| {
            StoreError::SessionNotFound {
                store_id: store_id.clone(),
                session_id: session_id.clone(),
            }
        })?;
        Ok(session_expired(
            settings.value.session_policy(),
            &session,
            now,
        ))
    }

    /// Records a request on session `session_id` at `now` if it is live (an expired session is
    /// not renewed), returning its status after the request.
    ///
    /// # Errors
    ///
    /// As [`SecurityService::session_status`].
    pub fn touch_session(
        &self,
        store_id: &StoreId,
        session_id: &SessionId,
        now: DateTime<Utc>,
    ) -> Result<SessionStatus, ServiceError> {
        let now = now.trunc_subsecs(3);
        let status = self.session_status(store_id, session_id, now)?;
        if status.is_expired() {
            return Ok(status);
        }
        let settings = self.settings(store_id)?;
        let session = self.store.touch_session(store_id, session_id, now)?;
        Ok(session_expired(
            settings.value.session_policy(),
            &session,
            now,
        ))
    }

    /// Ends the sessions `ids` (sign-out); returns how many existed.
    ///
    /// # Errors
    ///
    /// Storage failures.
    pub fn end_sessions(
        &self,
        store_id: &StoreId,
        ids: &[SessionId],
    ) -> Result<usize, ServiceError> {
        Ok(self.store.end_sessions(store_id, ids)?)
    }

    /// Sets a new password for `user_id` if the store's password policy accepts it: length,
    /// composition, strength against `context_words` (email, name, store name), and reuse of
    /// any of the last `prevent_reuse` passwords. An accepted password is hashed (Argon2id,
    /// [`SecurityService::with_password_hashing`], fresh 16-byte salt) and becomes the newest
    /// history entry; the history keeps `prevent_reuse` entries (at least the current one).
    ///
    /// The decision is returned either way; nothing is stored on a rejection.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`]; [`ServiceError::Password`] when hashing fails;
    /// [`ServiceError::Entropy`]; storage failures.
    pub fn change_password(
        &self,
        store_id: &StoreId,
        user_id: &UserId,
        password: &str,
        context_words: &[&str],
        now: DateTime<Utc>,
    ) -> Result<PasswordDecision, ServiceError> {
        let settings = self.settings(store_id)?;
        let policy = settings.value.password_policy();
        let keep = policy.prevent_reuse.map_or(0, |n| usize::from(n.get()));
        let history = self.store.password_history(store_id, user_id, keep)?;
        let history: Vec<&str> = history.iter().map(|h| h.as_str()).collect();
        let context = PasswordContext::new()
            .with_words(context_words.iter().copied())
            .with_history(&history);
        let decision = validate_password(policy, password, &context);
        if !decision.permits() {
            return Ok(decision);
        }
        let normalized = NormalizedPassword::new(password)?;
        let mut salt = zeroize::Zeroizing::new([0_u8; 16]);
        self.entropy.0.fill(salt.as_mut())?;
        let hash = hash_password(&normalized, &salt, self.hashing)?;
        self.store.push_password(
            store_id,
            user_id,
            hash.as_phc(),
            now.trunc_subsecs(3),
            keep.max(1),
        )?;
        Ok(decision)
    }

    /// Hashes new passwords with `params` instead of [`HashParams::OWASP`] (cheap parameters
    /// make tests fast; never weaken them in production).
    #[must_use]
    pub fn with_password_hashing(mut self, params: HashParams) -> Self {
        self.hashing = params;
        self
    }
}

/// The answer to [`SecurityService::sign_in`].
#[must_use]
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum SignIn {
    /// The session started.
    Admitted {
        /// The new session as stored.
        session: Session,
        /// Live sessions the concurrent-session rule ended to make room (not counting expired
        /// ones removed on the way).
        ended: Vec<SessionId>,
    },
    /// At the limit, and the policy refuses new sign-ins there.
    Rejected {
        /// Live sessions the member holds.
        live: usize,
        /// `max_concurrent_sessions`.
        limit: MaxSessions,
    },
}
