//! Properties of the 2FA module: the report partitions the members, statuses only worsen with
//! time, deadlines follow the grace, replayed TOTP codes are always refused, lockouts hold.

use chrono::{DateTime, TimeDelta, Utc};
use proptest::prelude::*;
use whale_security::set::NonEmptySet;
use whale_security::two_factor::totp::{
    LockoutSeconds, MaxFailures, ThrottlePolicy, TotpAlgorithm, TotpCheck, TotpKey, TotpParams,
    TotpRejection, TotpSecret, TotpState, verify_totp,
};
use whale_security::two_factor::{
    Factor, GraceHours, Member, MemberStatus, Method, TwoFactorPolicy, compliance_report,
    member_deadline, member_status,
};

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

/// Instants between 2025 and 2028, in seconds.
fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    (1_735_689_600i64..1_830_297_600).prop_map(|s| DateTime::from_timestamp(s, 0).unwrap())
}

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![Just(Method::Totp), Just(Method::Sms)]
}

fn policy() -> impl Strategy<Value = TwoFactorPolicy> {
    (
        any::<bool>(),
        prop_oneof![
            Just(vec![Method::Totp]),
            Just(vec![Method::Sms]),
            Just(vec![Method::Totp, Method::Sms])
        ],
        proptest::option::of(0i64..=8760),
        proptest::option::of(instant()),
    )
        .prop_map(
            |(required, methods, grace, enforcement_date)| TwoFactorPolicy {
                required,
                methods: NonEmptySet::new(methods).unwrap(),
                grace_period_hours: grace.map(|h| GraceHours::new(h).unwrap()),
                enforcement_date,
            },
        )
}

fn member() -> impl Strategy<Value = Member> {
    (
        0u32..1_000_000,
        instant(),
        proptest::collection::vec((method(), any::<bool>(), instant()), 0..4),
    )
        .prop_map(|(n, joined_at, factors)| Member {
            user_id: format!("user_{n}").parse().unwrap(),
            email: format!("m{n}@example.com"),
            joined_at,
            factors: factors
                .into_iter()
                .map(|(method, verified, enrolled_at)| Factor {
                    method,
                    verified,
                    enrolled_at,
                })
                .collect(),
        })
}

fn severity(status: MemberStatus) -> u8 {
    match status {
        MemberStatus::Compliant => 0,
        MemberStatus::NotEnforced { .. } => 1,
        MemberStatus::Pending { .. } => 2,
        MemberStatus::Blocked { .. } => 3,
    }
}

fn rfc_key(window: u8, period: u64) -> TotpKey {
    let params = TotpParams::new(TotpAlgorithm::Sha1, 6, period, window).unwrap();
    TotpKey::new(
        &TotpSecret::from_bytes(b"12345678901234567890").unwrap(),
        params,
    )
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn the_report_counts_partition_the_members(
        policy in policy(),
        members in proptest::collection::vec(member(), 0..40),
        now in instant(),
    ) {
        let report = compliance_report(&policy, &members, now);
        let counts = report.counts();
        let total = counts.compliant + u64::try_from(counts.non_compliant.len()).unwrap();
        prop_assert_eq!(total, u64::try_from(members.len()).unwrap());
        let tally = report.tally();
        prop_assert_eq!(tally.compliant, counts.compliant);
        prop_assert_eq!(
            tally.not_enforced + tally.pending + tally.blocked,
            u64::try_from(counts.non_compliant.len()).unwrap()
        );
        prop_assert_eq!(
            tally.weak_method + tally.unverified + tally.no_factor,
            u64::try_from(counts.non_compliant.len()).unwrap()
        );
        // The list holds exactly the non-compliant members, in order.
        let listed: Vec<_> = members
            .iter()
            .zip(report.statuses())
            .filter(|(_, s)| !s.is_compliant())
            .map(|(m, _)| m.user_id.clone())
            .collect();
        let reported: Vec<_> = counts.non_compliant.iter().map(|m| m.user_id.clone()).collect();
        prop_assert_eq!(listed, reported);
        for (m, s) in members.iter().zip(report.statuses()) {
            prop_assert_eq!(*s, member_status(&policy, m, now));
        }
    }

    #[test]
    fn a_members_status_only_worsens_as_time_passes(
        policy in policy(),
        member in member(),
        a in instant(),
        b in instant(),
    ) {
        let (early, late) = if a <= b { (a, b) } else { (b, a) };
        let before = member_status(&policy, &member, early);
        let after = member_status(&policy, &member, late);
        prop_assert!(severity(before) <= severity(after), "{:?} then {:?}", before, after);
        prop_assert_eq!(before.gap(), after.gap());
        if let MemberStatus::Blocked { deadline, .. } | MemberStatus::Pending { deadline, .. } = after {
            prop_assert_eq!(matches!(after, MemberStatus::Blocked { .. }), late >= deadline);
        }
    }

    #[test]
    fn a_shorter_grace_never_moves_a_deadline_later(
        policy in policy(),
        member in member(),
        shorter in 0i64..=8760,
    ) {
        let mut policy = policy;
        policy.required = true;
        let current = policy.grace_period_hours.map_or(0, |g| i64::from(g.get()));
        let shorter = shorter.min(current);
        let before = member_deadline(&policy, &member).unwrap();
        policy.grace_period_hours = Some(GraceHours::new(shorter).unwrap());
        let after = member_deadline(&policy, &member).unwrap();
        prop_assert!(after <= before);
        // Whatever the grace, a member's deadline is never before the enforcement date.
        if let Some(date) = policy.enforcement_date {
            prop_assert!(after >= date);
        }
    }

    #[test]
    fn a_code_at_or_below_the_last_accepted_step_is_always_refused(
        now_s in 0i64..4_000_000_000,
        offset in -3i64..=3,
        last_delta in -3i64..=3,
        window in 0u8..=3,
        period in prop_oneof![Just(30u64), Just(60), Just(1)],
    ) {
        let key = rfc_key(window, period);
        let now = DateTime::from_timestamp(now_s, 0).unwrap();
        let current = key.step_at(now).unwrap();
        let Some(code_step) = current.checked_add_signed(offset) else { return Ok(()) };
        let Some(last) = current.checked_add_signed(last_delta) else { return Ok(()) };
        let code = key.code_at_step(code_step).unwrap();
        match key.check(&code, now, Some(last)) {
            TotpCheck::Accept { step } => {
                // Accepted only for a step after the last one, whose code it really is.
                prop_assert!(step > last);
                let matched = key.code_at_step(step).unwrap();
                prop_assert_eq!(matched.as_str(), code.as_str());
            }
            TotpCheck::Reject(_) => {
                let in_window = code_step.abs_diff(current) <= u64::from(window);
                prop_assert!(!(in_window && code_step > last), "in-window fresh code refused");
            }
        }
        // Accepting a code and presenting it again is always a replay.
        if let TotpCheck::Accept { step } = key.check(&code, now, None) {
            let replay = key.check(&code, now, Some(step));
            let is_replay = matches!(replay, TotpCheck::Reject(TotpRejection::Replayed { .. }));
            let accepted_later = replay.accepted_step().is_some_and(|s| s > step);
            prop_assert!(is_replay || accepted_later);
        }
    }

    #[test]
    fn during_a_lockout_even_the_right_code_is_refused_and_changes_nothing(
        max in 1i64..=6,
        lockout in 1i64..=3600,
        now_s in 1_000_000i64..2_000_000_000,
        wait in 0i64..7200,
    ) {
        let key = rfc_key(1, 30);
        let throttle = ThrottlePolicy {
            max_failures: MaxFailures::new(max).unwrap(),
            lockout_seconds: LockoutSeconds::new(lockout).unwrap(),
        };
        let now = DateTime::from_timestamp(now_s, 0).unwrap();
        let right = key.code_at_step(key.step_at(now).unwrap()).unwrap();
        let wrong = if right.as_str() == "000000" { "000001" } else { "000000" };
        let mut state = TotpState::default();
        for _ in 0..max {
            state = verify_totp(&key, wrong, &state, &throttle, now).state;
        }
        let until = state.locked_until.unwrap();
        prop_assert_eq!(until, now + TimeDelta::try_seconds(lockout).unwrap());
        let later = now + TimeDelta::try_seconds(wait).unwrap();
        let code = key.code_at_step(key.step_at(later).unwrap()).unwrap();
        let attempt = verify_totp(&key, &code, &state, &throttle, later);
        if later < until {
            let locked = matches!(attempt.check, TotpCheck::Reject(TotpRejection::LockedOut { .. }));
            prop_assert!(locked);
            prop_assert_eq!(attempt.state, state);
        } else {
            prop_assert!(attempt.check.accepted_step().is_some());
            prop_assert_eq!(attempt.state.failures, 0);
        }
    }
}

/// Hostile TOTP input: look-alike digits, padding, extreme instants and parameters.
mod hostile_totp {
    use super::*;

    fn key(params: TotpParams) -> TotpKey {
        let secret = TotpSecret::from_base32("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP").unwrap();
        TotpKey::new(&secret, params).unwrap()
    }

    #[test]
    fn only_exactly_the_ascii_digits_of_the_right_code_are_accepted() {
        let key = key(TotpParams::default());
        let now = DateTime::from_timestamp(1_773_136_800, 0).unwrap();
        let step = key.step_at(now).unwrap();
        let code = key.code_at_step(step).unwrap();
        assert_eq!(key.check(&code, now, None), TotpCheck::Accept { step });
        let arabic: String = code
            .chars()
            .map(|c| char::from_u32(0x0660 + c.to_digit(10).unwrap()).unwrap())
            .collect();
        let fullwidth: String = code
            .chars()
            .map(|c| char::from_u32(0xFF10 + c.to_digit(10).unwrap()).unwrap())
            .collect();
        for odd in [
            format!(" {}", code.as_str()),
            format!("{} ", code.as_str()),
            format!("{}\n", code.as_str()),
            format!("{} {}", &code[..3], &code[3..]),
            format!("+{}", &code[1..]),
            format!("0{}", code.as_str()),
            arabic,
            fullwidth,
            String::new(),
        ] {
            assert!(
                matches!(
                    key.check(&odd, now, None),
                    TotpCheck::Reject(TotpRejection::Malformed { .. })
                ),
                "{odd:?}"
            );
        }
    }

    #[test]
    fn instants_before_1970_and_at_the_end_of_time_never_panic_and_fail_closed() {
        for params in [
            TotpParams::new(TotpAlgorithm::Sha1, 6, 1, 10).unwrap(),
            TotpParams::new(TotpAlgorithm::Sha512, 8, 600, 0).unwrap(),
        ] {
            let key = key(params);
            let before = DateTime::from_timestamp(-1, 0).unwrap();
            for now in [DateTime::<Utc>::MIN_UTC, before] {
                let code = "0".repeat(usize::from(params.digits.get()));
                assert_eq!(
                    key.check(&code, now, None),
                    TotpCheck::Reject(TotpRejection::BeforeEpoch)
                );
            }
            let end = DateTime::<Utc>::MAX_UTC;
            let step = key.step_at(end).unwrap();
            let code = key.code_at_step(step).unwrap();
            assert_eq!(key.check(&code, end, None), TotpCheck::Accept { step });
            assert!(matches!(
                key.check(&code, end, Some(step)),
                TotpCheck::Reject(TotpRejection::Replayed { .. })
            ));
            // A lockout starting at the end of time never ends.
            let throttle = ThrottlePolicy {
                max_failures: MaxFailures::new(1).unwrap(),
                lockout_seconds: LockoutSeconds::new(86_400).unwrap(),
            };
            let locked = verify_totp(&key, "x", &TotpState::default(), &throttle, end);
            assert_eq!(locked.state.locked_until, Some(end));
        }
    }

    #[test]
    fn secrets_with_characters_outside_base32_are_refused_without_echoing_them() {
        for bad in [
            "JBSWY3DPEHPK3PXP0BSWY3DPEHPK3PXP",
            "JBSWY3DPEHPK3PXP1BSWY3DPEHPK3PXP",
            "JBSWY3DPEHPK3PXPÉBSWY3DPEHPK3PX",
            "JBSWY3DPEHPK3PXP\u{a0}JBSWY3DPEHPK3PXP",
            "JBSWY3DP=EHPK3PXPJBSWY3DPEHPK3PXP",
            "JBSWY3DPEHPK3PX",
            "",
        ] {
            let error = TotpSecret::from_base32(bad).unwrap_err();
            let text = format!("{error} {error:?}");
            assert!(!text.contains("JBSWY3DP"), "{text}");
        }
    }
}
