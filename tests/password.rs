//! Properties of the password engine over generated input.

use proptest::prelude::*;
use unicode_normalization::UnicodeNormalization;
use whale_security::password::{
    HashParams, MAX_INPUT_BYTES, MAX_LENGTH, MaxAgeDays, MinLength, MinStrength,
    NormalizedPassword, PasswordContext, PasswordPolicy, PreventReuse, Violation, hash_password,
    is_special, validate_password,
};

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

fn policy() -> impl Strategy<Value = PasswordPolicy> {
    (
        1i64..=64,
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        proptest::option::of(1i64..=3650),
        proptest::option::of(0i64..=24),
        proptest::option::weighted(0.2, 0i64..=4),
    )
        .prop_map(
            |(min, up, num, special, age, reuse, strength)| PasswordPolicy {
                min_length: MinLength::new(min).unwrap(),
                require_uppercase: up,
                require_number: num,
                require_special: special,
                max_age_days: age.map(|d| MaxAgeDays::new(d).unwrap()),
                prevent_reuse: reuse.map(|n| PreventReuse::new(n).unwrap()),
                min_strength: strength.map(|s| MinStrength::new(s).unwrap()),
            },
        )
}

/// Text mixing ASCII, accents in both forms, compatibility forms, symbols and controls.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,40}",
        "[a-zA-Z0-9 !.{}\\\\-]{0,40}",
        "[\u{0}-\u{1f}a\u{301}\u{e9}\u{ff21}\u{fb01}\u{2460}\u{202e}\u{2028}\u{fdd0}Ω€😀]{0,40}",
        "[a-z]{120,140}",
    ]
}

/// Letters whose NFC and NFD forms differ, joined with ASCII.
fn accented() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9\u{e0}-\u{ff}\u{100}-\u{17f}\u{1e00}-\u{1eff}-]{1,24}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// Any policy and any input: a decision, never a panic; accepted iff no violation.
    #[test]
    fn validate_never_panics_and_accepts_exactly_without_violations(
        policy in policy(), candidate in text()
    ) {
        let d = validate_password(&policy, &candidate, &PasswordContext::new());
        prop_assert_eq!(d.permits(), d.violations().is_empty());
    }

    /// Each composition and length violation is present exactly when an independent oracle
    /// over the NFKC text says the rule fails.
    #[test]
    fn violations_are_consistent_with_the_policy(policy in policy(), candidate in text()) {
        let d = validate_password(&policy, &candidate, &PasswordContext::new());
        let has = |code: &str| d.violations().iter().any(|v| v.code() == code);
        let nfkc: String = candidate.nfkc().collect();
        let length = nfkc.chars().count();
        prop_assert_eq!(d.assessment().length(), Some(length));
        prop_assert_eq!(has("min_length"), length < usize::from(policy.min_length.get()));
        prop_assert_eq!(has("max_length"), length > MAX_LENGTH);
        prop_assert_eq!(
            has("require_uppercase"),
            policy.require_uppercase && !nfkc.chars().any(char::is_uppercase)
        );
        prop_assert_eq!(
            has("require_number"),
            policy.require_number && !nfkc.chars().any(char::is_numeric)
        );
        prop_assert_eq!(
            has("require_special"),
            policy.require_special && !nfkc.chars().any(is_special)
        );
        let invalid = nfkc.chars().any(|c| {
            let cp = u32::from(c);
            c.is_control()
                || matches!(c, '\u{2028}' | '\u{2029}' | '\u{61c}' | '\u{200e}' | '\u{200f}')
                || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
                || (0xfdd0..=0xfdef).contains(&cp)
                || cp & 0xfffe == 0xfffe
        });
        prop_assert_eq!(has("invalid_character"), invalid);
        if has("max_length") || invalid {
            prop_assert!(d.assessment().strength().is_none());
            prop_assert_eq!(d.assessment().hashes_verified(), 0);
        }
        prop_assert_eq!(
            d.assessment().strength().is_some(),
            policy.min_strength.is_some() && !has("max_length") && !invalid
        );
    }

    /// Inputs over the byte cap are refused whole, with max_length alone.
    #[test]
    fn oversized_input_gets_max_length_alone(extra in 1usize..5000, c in any::<char>()) {
        let candidate: String = std::iter::repeat_n(c, (MAX_INPUT_BYTES + extra) / c.len_utf8() + 1).collect();
        let policy = PasswordPolicy {
            min_length: MinLength::new(12).unwrap(),
            require_uppercase: true,
            require_number: true,
            require_special: true,
            max_age_days: None,
            prevent_reuse: Some(PreventReuse::new(5).unwrap()),
            min_strength: Some(MinStrength::new(3).unwrap()),
        };
        let d = validate_password(&policy, &candidate, &PasswordContext::new());
        let alone = matches!(d.violations(), [Violation::InputTooLarge { .. }]);
        prop_assert!(alone, "{:?}", d.violations());
    }

    /// The same password typed in NFC and in NFD hits the same history entry.
    #[test]
    fn nfc_and_nfd_forms_hit_the_same_history_entry(word in accented(), salt in any::<[u8; 16]>()) {
        let nfc: String = word.nfc().collect();
        let nfd: String = word.nfd().collect();
        let stored = hash_password(
            &NormalizedPassword::new(&nfc).unwrap(),
            &salt,
            HashParams::new(64, 1, 1).unwrap(),
        )
        .unwrap();
        let history = [stored.as_phc().to_owned()];
        let policy = PasswordPolicy {
            min_length: MinLength::new(1).unwrap(),
            require_uppercase: false,
            require_number: false,
            require_special: false,
            max_age_days: None,
            prevent_reuse: Some(PreventReuse::new(1).unwrap()),
            min_strength: None,
        };
        let ctx = PasswordContext::new().with_history(&history);
        for form in [&nfc, &nfd] {
            let d = validate_password(&policy, form, &ctx);
            prop_assert_eq!(
                d.violations(),
                &[Violation::Reused { generation: 0, remembered: 1 }][..]
            );
        }
    }
}
