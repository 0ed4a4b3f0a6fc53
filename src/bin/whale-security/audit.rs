//! `whale-security audit --db FILE [--store ID] [--since T] [--until T] [--limit N] [--after C]`.

use std::path::PathBuf;
use std::process::ExitCode;

use whale_security::id::StoreId;
use whale_security::store::{AuditEntry, AuditQuery, PageLimit, SettingsStore};

use crate::{common, db};

#[derive(clap::Args)]
pub struct Args {
    /// The database file.
    #[arg(long)]
    db: PathBuf,
    /// Only this store; every store in the database when absent.
    #[arg(long)]
    store: Option<String>,
    /// Only entries made at or after this instant (RFC 3339).
    #[arg(long)]
    since: Option<String>,
    /// Only entries made before this instant (RFC 3339).
    #[arg(long)]
    until: Option<String>,
    /// Print one page of at most N entries (1 to 1000; an entry prints one line per changed
    /// field) and the cursor of the next one, per store; every entry when absent.
    #[arg(long)]
    limit: Option<i64>,
    /// Continue after this cursor (printed by a previous page); needs --store when the database
    /// holds more than one store.
    #[arg(long)]
    after: Option<String>,
    /// One JSON object per entry instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &Args) -> Result<ExitCode, String> {
    let service = db::open(&args.db)?;
    let time = |flag: &str, text: &Option<String>| {
        text.as_deref()
            .map(|t| common::instant(&format!("--{flag}"), t))
            .transpose()
    };
    let since = time("since", &args.since)?;
    let until = time("until", &args.until)?;
    let limit = args
        .limit
        .map(|n| PageLimit::new(n).map_err(|e| format!("--limit: {e}")))
        .transpose()?;
    let after = args
        .after
        .as_deref()
        .map(|c| c.parse().map_err(|e| format!("--after: {e}")))
        .transpose()?;
    let stores = match &args.store {
        Some(text) => vec![StoreId::new(text.as_str()).map_err(|e| format!("--store: {e}"))?],
        // A cursor belongs to one store: the only one, or the one --store names.
        None if after.is_some() => vec![
            db::store_id(&service, None)
                .map_err(|e| format!("--after belongs to one store: {e}"))?,
        ],
        None => service.store().store_ids().map_err(|e| e.to_string())?,
    };
    for store_id in stores {
        let mut query = AuditQuery::new(store_id.clone());
        if let Some(t) = since {
            query = query.since(t);
        }
        if let Some(t) = until {
            query = query.until(t);
        }
        if let Some(c) = after {
            query = query.after(c);
        }
        query = query.limit(limit.unwrap_or(PageLimit::MAX));
        loop {
            let page = service.audit(&query).map_err(|e| e.to_string())?;
            for entry in &page.entries {
                print_entry(entry, args.json)?;
            }
            match page.next {
                Some(next) if limit.is_some() => {
                    eprintln!("more entries: --store {store_id} --after {next}");
                    break;
                }
                Some(next) => query = query.after(next),
                None => break,
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_entry(entry: &AuditEntry, as_json: bool) -> Result<(), String> {
    if as_json {
        outln!(
            "{}",
            serde_json::to_string(entry).map_err(|e| e.to_string())?
        );
        return Ok(());
    }
    let r = &entry.record;
    let action = serde_json::to_value(r.action).map_err(|e| e.to_string())?;
    let head = format!(
        "{}\t{}\t{}\t{}\t{}",
        entry.store_id,
        entry.sequence,
        whale_security::time::format(r.at),
        r.actor,
        action.as_str().unwrap_or_default()
    );
    if r.changes.is_empty() {
        outln!("{head}");
    }
    for change in &r.changes {
        outln!("{head}\t{}", common::change_line(change));
    }
    Ok(())
}
