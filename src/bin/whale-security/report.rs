//! `whale-security report --settings FILE --members FILE [--now T]`.

use std::path::PathBuf;
use std::process::ExitCode;

use serde::Serialize;
use whale_security::id::UserId;
use whale_security::quote::{escape, shorten};
use whale_security::set::NonEmptySet;
use whale_security::settings::plain_serde_message;
use whale_security::settings::view::NonCompliantMember;
use whale_security::two_factor::{
    GraceHours, Member, MemberStatus, Method, StatusTally, compliance_report,
};

use crate::common;

#[derive(clap::Args)]
pub struct Args {
    /// The settings file (JSON); its `two_factor` policy is applied.
    #[arg(long)]
    settings: PathBuf,
    /// The members file: a JSON array of members (see the README).
    #[arg(long)]
    members: PathBuf,
    /// The instant to report at (RFC 3339); the system clock when absent.
    #[arg(long)]
    now: Option<String>,
}

pub fn run(args: &Args) -> Result<ExitCode, String> {
    let settings = common::load_settings(&args.settings)?;
    let now = common::now(args.now.as_deref())?;
    let text = common::read(&args.members)?;
    let members: Vec<Member> = serde_path_to_error::deserialize(
        &mut serde_json::Deserializer::from_str(&text),
    )
    .map_err(|e| {
        format!(
            "{} is not a valid members file: at `{}`: {}",
            args.members.display(),
            shorten(&e.path().to_string()),
            escape(&plain_serde_message(&e.inner().to_string()))
        )
    })?;
    let policy = settings.two_factor();
    let report = compliance_report(policy, &members, now);
    let counts = report.counts();
    let out = Output {
        required: policy.required,
        methods: &policy.methods,
        grace_period_hours: policy.grace_period_hours,
        enforcement_date: policy.enforcement_date.map(whale_security::time::format),
        compliant_members: counts.compliant,
        non_compliant_members: counts.non_compliant.len(),
        non_compliant: &counts.non_compliant,
        members: members
            .iter()
            .zip(report.statuses())
            .map(|(member, &status)| MemberLine {
                user_id: &member.user_id,
                email: &member.email,
                status,
            })
            .collect(),
        summary: report.tally(),
    };
    outln!(
        "{}",
        serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?
    );
    // The spec lists every member without a valid factor as non-compliant, but while 2FA is not
    // required (`not_enforced`) that breaks no rule: only pending and blocked members do.
    let tally = report.tally();
    Ok(if tally.pending == 0 && tally.blocked == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The spec's 2FA section with the non-compliant members listed, plus every member's status.
#[derive(Serialize)]
struct Output<'a> {
    required: bool,
    methods: &'a NonEmptySet<Method>,
    #[serde(skip_serializing_if = "Option::is_none")]
    grace_period_hours: Option<GraceHours>,
    #[serde(skip_serializing_if = "Option::is_none")]
    enforcement_date: Option<String>,
    compliant_members: u64,
    non_compliant_members: usize,
    non_compliant: &'a [NonCompliantMember],
    members: Vec<MemberLine<'a>>,
    summary: StatusTally,
}

#[derive(Serialize)]
struct MemberLine<'a> {
    user_id: &'a UserId,
    email: &'a str,
    #[serde(flatten)]
    status: MemberStatus,
}
