//! `whale-security preview --db FILE [--store ID] [--actor USER] [--from IP] [--ip IP]...
//! UPDATE.json`: what an update would do, without writing it.

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::{Value, json};
use whale_security::allowlist::parse_ip;
use whale_security::id::UserId;
use whale_security::service::{ChangeRequest, Client, Preview, ServiceError};
use whale_security::session::EndReason;
use whale_security::time;
use whale_security::two_factor::MemberStatus;

use crate::common::{self, SurfaceArg};
use crate::db;

/// Everything `SecurityService::preview` reports: the field changes, the tested clients the new
/// allowlist would deny, the members whose 2FA status would worsen, the live sessions that would
/// end, the keys whose rotation would fall due, and whether the guards would refuse the change
/// for the acting member (`--actor`) or the calling client (`--from`).
///
/// Exit 1 when the update would take access away from someone: a tested client newly denied, a
/// member made non-compliant or blocked, a live session ended, the actor blocked or the caller
/// locked out (or the update is invalid: every error is printed with its field path). Keys
/// falling due are reported but do not count: a rotation keeps old keys working for its grace
/// period. Exit 0 otherwise; 2 when the preview cannot run.
#[derive(clap::Args)]
#[command(
    after_help = "Exit 1 when the update would take access away from someone: a tested \
    client newly denied, a member made non-compliant or blocked, a live session ended, the \
    actor blocked or the caller locked out; also when the update is invalid. Keys falling due \
    are reported but do not count. Exit 0 otherwise; 2 when the preview cannot run."
)]
pub struct Args {
    /// The database file.
    #[arg(long)]
    db: PathBuf,
    /// The store; may be left out when the database holds one store.
    #[arg(long)]
    store: Option<String>,
    /// The member who would make the change (a `user_` id), for the 2FA guard: would the new
    /// policy block them? Without it no member is checked.
    #[arg(long)]
    actor: Option<String>,
    /// The client address the change would come from (on --surface), for the lockout guard:
    /// would the new allowlist deny it?
    #[arg(long = "from", value_name = "IP")]
    from: Option<String>,
    /// A client address to test against the new allowlist; repeat for more.
    #[arg(long = "ip")]
    ips: Vec<String>,
    /// The surface the tested clients (and --from) arrive on.
    #[arg(long, value_enum, ignore_case = true, default_value = "api")]
    surface: SurfaceArg,
    /// The instant to decide at (RFC 3339); the system clock when absent.
    #[arg(long)]
    now: Option<String>,
    /// One JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// The update file (JSON), as `settings update` takes it.
    file: PathBuf,
}

pub fn run(args: &Args) -> Result<ExitCode, String> {
    let update = match common::read_update(&args.file)? {
        Ok(update) => update,
        Err(errors) => return Ok(common::print_errors(&errors)),
    };
    let client = |flag: &str, text: &str| {
        parse_ip(text)
            .map(|ip| Client {
                ip,
                surface: args.surface.into(),
            })
            .map_err(|e| format!("--{flag}: {e}"))
    };
    let clients = args
        .ips
        .iter()
        .map(|text| client("ip", text))
        .collect::<Result<Vec<_>, _>>()?;
    let actor = match &args.actor {
        Some(text) => UserId::new(text.as_str()).map_err(|e| format!("--actor: {e}"))?,
        // No member has this id, so the 2FA guard checks nobody.
        None => UserId::new("user_preview").map_err(|e| e.to_string())?,
    };
    let mut request = ChangeRequest::new(actor, common::now(args.now.as_deref())?);
    if let Some(text) = &args.from {
        let caller = client("from", text)?;
        request = request.from_client(caller.ip, caller.surface);
    }
    let service = db::open(&args.db)?;
    let store_id = db::store_id(&service, args.store.as_deref())?;
    let preview = match service.preview(&store_id, &update, Some(&clients), &request) {
        Ok(preview) => preview,
        Err(ServiceError::Rejected(errors)) => return Ok(common::print_errors(errors.as_slice())),
        Err(e) => return Err(e.to_string()),
    };
    let negative = preview.denied_clients.iter().any(|d| !d.denied_before)
        || !preview.members_affected.is_empty()
        || !preview.sessions_ending.is_empty()
        || preview.blocks_actor
        || preview.locks_out_caller;
    if args.json {
        outln!("{}", to_json(&preview, &store_id, args, negative));
    } else {
        print_text(&preview, &store_id, args, request.actor());
    }
    Ok(if negative {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn to_json(
    preview: &Preview,
    store_id: &whale_security::id::StoreId,
    args: &Args,
    negative: bool,
) -> Value {
    json!({
        "store_id": store_id,
        "version": preview.version,
        "negative": negative,
        "changes": preview.changes,
        "denied": preview.denied_clients.iter().map(|d| json!({
            "ip": d.client.ip.to_string(),
            "surface": d.client.surface,
            "denied_before": d.denied_before,
        })).collect::<Vec<_>>(),
        "members_affected": preview.members_affected.iter().map(|m| json!({
            "user_id": m.user_id,
            "email": m.email,
            "before": m.before,
            "after": m.after,
        })).collect::<Vec<_>>(),
        "sessions_ending": preview.sessions_ending.iter().map(|s| json!({
            "session_id": s.session_id.as_str(),
            "user_id": s.user_id,
            "reason": end_reason(s.reason),
        })).collect::<Vec<_>>(),
        "keys_becoming_due": preview.keys_becoming_due.as_ref().map(|k| json!({
            "due_at": time::format(k.due_at),
            "keys": k.keys,
        })),
        "actor": args.actor,
        "blocks_actor": preview.blocks_actor,
        "caller": args.from,
        "locks_out_caller": preview.locks_out_caller,
    })
}

fn print_text(
    preview: &Preview,
    store_id: &whale_security::id::StoreId,
    args: &Args,
    actor: &UserId,
) {
    outln!("{store_id} at version {}", preview.version);
    for change in &preview.changes {
        outln!("change\t{}\t{}\t{}", change.path, change.old, change.new);
    }
    for d in &preview.denied_clients {
        let kind = if d.denied_before {
            "still denied"
        } else {
            "newly denied"
        };
        outln!("deny\t{}\t{}\t{kind}", d.client.ip, d.client.surface);
    }
    for m in &preview.members_affected {
        outln!(
            "member\t{}\t{}\t{}\t{}",
            m.user_id,
            m.email,
            status_text(m.before),
            status_text(m.after)
        );
    }
    for s in &preview.sessions_ending {
        outln!(
            "session ends\t{}\t{}\t{}",
            s.session_id.as_str(),
            s.user_id,
            end_reason(s.reason)
        );
    }
    if let Some(due) = &preview.keys_becoming_due {
        for key in &due.keys {
            outln!("key due\t{key}\t{}", time::format(due.due_at));
        }
    }
    if preview.blocks_actor {
        outln!("blocks actor {actor}: the new 2FA policy would refuse the change without force");
    }
    if preview.locks_out_caller
        && let Some(from) = &args.from
    {
        outln!("locks out caller {from}: the new allowlist would deny it");
    }
}

/// `compliant`, `not_enforced (GAP)`, `pending (GAP) until T` or `blocked (GAP) since T`.
fn status_text(status: MemberStatus) -> String {
    match status {
        MemberStatus::Compliant => "compliant".to_owned(),
        MemberStatus::NotEnforced { gap } => format!("not_enforced ({})", gap.as_str()),
        MemberStatus::Pending { deadline, gap } => {
            format!(
                "pending ({}) until {}",
                gap.as_str(),
                time::format(deadline)
            )
        }
        MemberStatus::Blocked { deadline, gap } => {
            format!(
                "blocked ({}) since {}",
                gap.as_str(),
                time::format(deadline)
            )
        }
    }
}

/// `expired:LIMIT` or `over_limit:RULE:LIMIT`.
fn end_reason(reason: EndReason) -> String {
    match reason {
        EndReason::Expired(why) => format!("expired:{}", why.as_str()),
        EndReason::OverLimit { limit, rule } => {
            format!("over_limit:{}:{}", rule.as_str(), limit.get())
        }
        _ => "ended".to_owned(),
    }
}
