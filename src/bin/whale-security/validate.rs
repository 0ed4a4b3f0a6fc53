//! `whale-security validate FILE`.

use std::path::PathBuf;
use std::process::ExitCode;

use whale_security::SecuritySettings;

use crate::common;

#[derive(clap::Args)]
pub struct Args {
    /// The settings file (JSON).
    file: PathBuf,
}

pub fn run(args: &Args) -> Result<ExitCode, String> {
    let text = common::read(&args.file)?;
    match SecuritySettings::from_json(&text) {
        Ok(settings) => {
            outln!("{}", settings.to_json_pretty());
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => Ok(common::print_errors(errors.as_slice())),
    }
}
