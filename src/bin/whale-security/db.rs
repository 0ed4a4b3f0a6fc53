//! Helpers shared by the commands that read or write a store database (`--db FILE`).

use std::path::Path;

use whale_security::SecuritySettings;
use whale_security::id::StoreId;
use whale_security::quote::shorten;
use whale_security::service::SecurityService;
use whale_security::store::{SettingsStore, SqliteStore, Versioned};

/// Opens an existing database; a missing file is an error, never a new empty database. That
/// error names the path looked at (made absolute when it was relative) and the command that
/// creates a database.
pub fn open(path: &Path) -> Result<SecurityService<SqliteStore>, String> {
    let store = SqliteStore::open_existing(path).map_err(|e| {
        if path.try_exists().is_ok_and(|exists| !exists) {
            let given = shorten(&path.display().to_string());
            let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
            let absolute = shorten(&absolute.display().to_string());
            let looked_at = if absolute == given {
                format!("`{given}`")
            } else {
                format!("`{given}` (`{absolute}`)")
            };
            return format!(
                "no database at {looked_at}; check the --db path, or create the database with \
                 `whale-security settings import --db {given} SETTINGS.json`"
            );
        }
        e.to_string()
    })?;
    Ok(SecurityService::with_recent_clients(store, 0))
}

/// Opens the database, creating it when missing.
pub fn create(path: &Path) -> Result<SecurityService<SqliteStore>, String> {
    let store = SqliteStore::open(path).map_err(|e| e.to_string())?;
    Ok(SecurityService::with_recent_clients(store, 0))
}

/// The store `--store` names, or the only store in the database when it is absent.
pub fn store_id(
    service: &SecurityService<SqliteStore>,
    arg: Option<&str>,
) -> Result<StoreId, String> {
    if let Some(text) = arg {
        return StoreId::new(text).map_err(|e| format!("--store: {e}"));
    }
    let ids = service.store().store_ids().map_err(|e| e.to_string())?;
    match ids.as_slice() {
        [only] => Ok(only.clone()),
        [] => Err("the database holds no store; create one with `settings import`".into()),
        _ => Err(format!(
            "the database holds {} stores; name one with --store ({})",
            ids.len(),
            ids.iter()
                .map(StoreId::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// The settings of `store_id`, or why they cannot be read.
pub fn settings(
    service: &SecurityService<SqliteStore>,
    store_id: &StoreId,
) -> Result<Versioned<SecuritySettings>, String> {
    service.settings(store_id).map_err(|e| e.to_string())
}
