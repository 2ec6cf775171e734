//! `freshet features wait|retire|freeze|unfreeze`: act on feature versions.

use clap::Subcommand;

use super::status::{version_json, version_line};
use super::{connect, ClientArgs};
use crate::proto;
use crate::Result;

/// What to do to a feature or version.
#[derive(Debug, Subcommand)]
pub enum FeaturesCommand {
    /// Wait until a version has caught up (READY or ACTIVE); fails if it FAILED.
    Wait {
        /// `NAME@vN`, or `NAME` for its newest version.
        reference: String,
    },
    /// Retire `NAME@vN` and free its state (not the active version).
    Retire {
        /// `NAME@vN`.
        reference: String,
    },
    /// Serve the values the feature has now (or its default) until unfrozen.
    Freeze {
        /// The feature's name.
        name: String,
    },
    /// Serve current values again.
    Unfreeze {
        /// The feature's name.
        name: String,
    },
}

/// Runs a `freshet features` command and prints the version's status.
pub async fn features(command: &FeaturesCommand, client: &ClientArgs) -> Result<()> {
    let mut connection = connect(client).await?;
    let status = match command {
        FeaturesCommand::Wait { reference } => {
            connection
                .wait_for_feature(proto::WaitForFeatureRequest {
                    reference: reference.clone(),
                })
                .await?
        }
        FeaturesCommand::Retire { reference } => {
            connection
                .retire_feature(proto::FeatureReference {
                    reference: reference.clone(),
                })
                .await?
        }
        FeaturesCommand::Freeze { name } => {
            connection
                .freeze_feature(proto::FeatureReference {
                    reference: name.clone(),
                })
                .await?
        }
        FeaturesCommand::Unfreeze { name } => {
            connection
                .unfreeze_feature(proto::FeatureReference {
                    reference: name.clone(),
                })
                .await?
        }
    }
    .into_inner();
    if client.json {
        println!("{}", version_json(&status));
    } else {
        println!("{}", version_line(&status));
    }
    Ok(())
}
