//! `freshet apply -f FILE [--dry-run]`.

use std::path::Path;

use prost::Message;

use super::{connect, ClientArgs};
use crate::proto::{self, ChangeAction};
use crate::server::USER_HEADER;
use crate::{ApiError, Result};

/// `login@machine` as this process knows them (`USER` or `LOGNAME`, and the
/// kernel's host name), `unknown` for what it cannot find.
fn user_at_host() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    format!("{user}@{host}")
}

/// Sends the file to the server and prints the plan.
pub async fn apply(file: &Path, dry_run: bool, client: &ClientArgs) -> Result<()> {
    let definitions = std::fs::read_to_string(file).map_err(|e| ApiError::File {
        path: file.display().to_string(),
        reason: e.to_string(),
    })?;
    let base_dir = freshet_sql::load::definitions_folder(file)?;
    let mut request = tonic::Request::new(proto::ApplyRequest {
        definitions,
        file_name: file.display().to_string(),
        base_dir: base_dir.display().to_string(),
        dry_run,
    });
    // Who applies, for the registry: the login and machine, when both are
    // known and fit a header.
    if let Ok(user) = user_at_host().parse() {
        request.metadata_mut().insert(USER_HEADER, user);
    }
    let response = connect(client)
        .await?
        .apply(request)
        .await
        .map_err(refusal)?
        .into_inner();
    if client.json {
        let changes: Vec<_> = response.changes.iter().map(change_json).collect();
        println!(
            "{}",
            serde_json::json!({ "dry_run": response.dry_run, "changes": changes })
        );
        return Ok(());
    }
    if response.dry_run {
        println!("Plan (dry run, nothing stored):");
    }
    for change in &response.changes {
        println!("  {}", describe(change));
    }
    Ok(())
}

/// The refusal of definitions as its problems, when the server sent them;
/// any other error as it is.
fn refusal(status: tonic::Status) -> ApiError {
    let problems = match proto::DefinitionsRefused::decode(status.details()) {
        Ok(refused) if status.code() == tonic::Code::InvalidArgument => refused.problems,
        _ => Vec::new(),
    };
    if problems.is_empty() {
        return status.into();
    }
    ApiError::DefinitionsRefused {
        message: status.message().to_string(),
        problems,
    }
}

fn action_name(change: &proto::PlannedChange) -> &'static str {
    match ChangeAction::try_from(change.action) {
        Ok(ChangeAction::Created) => "created",
        Ok(ChangeAction::NewVersion) => "new_version",
        Ok(ChangeAction::Unchanged) => "unchanged",
        Ok(ChangeAction::MetadataUpdated) => "metadata_updated",
        _ => "unknown",
    }
}

fn change_json(change: &proto::PlannedChange) -> serde_json::Value {
    serde_json::json!({
        "kind": change.kind,
        "name": change.name,
        "version": change.version,
        "action": action_name(change),
        "previous_version": (change.previous_version > 0).then_some(change.previous_version),
    })
}

fn describe(change: &proto::PlannedChange) -> String {
    let object = format!("{} {}", change.kind, change.name);
    match ChangeAction::try_from(change.action) {
        Ok(ChangeAction::NewVersion) => format!(
            "{object:<40} new version v{} (was v{})",
            change.version, change.previous_version
        ),
        _ => format!("{object:<40} {} v{}", action_name(change), change.version),
    }
}
