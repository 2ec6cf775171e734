//! `freshet registry sources|entities|training-sets`: the registry's other
//! objects at their newest versions, by name, a page at a time.

use clap::Subcommand;

use super::{connect, definition, non_empty, print_next_page, ClientArgs};
use crate::proto;
use crate::Result;

/// Which objects to list.
#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// Sources (streams and files).
    Sources(PageArgs),
    /// Entities and their key columns.
    Entities(PageArgs),
    /// Training sets: a label and features.
    TrainingSets(PageArgs),
}

/// Which page.
#[derive(Debug, clap::Args)]
pub struct PageArgs {
    /// At most this many per page (default 100).
    #[arg(long, default_value_t = 0, hide_default_value = true)]
    pub page_size: u32,
    /// The page after this token (printed with the previous page).
    #[arg(long, default_value = "")]
    pub page_token: String,
}

/// Runs a `freshet registry` command: one line per object (`name@vN`, its
/// description) and the next page's token, or with `--json`
/// `{"objects": [{name, version, versions, description, definition}], "next_page_token"}`.
pub async fn registry(command: &RegistryCommand, client: &ClientArgs) -> Result<()> {
    let mut connection = connect(client).await?;
    let page = |args: &PageArgs| proto::ListObjectsRequest {
        page_size: args.page_size,
        page_token: args.page_token.clone(),
    };
    let found = match command {
        RegistryCommand::Sources(args) => connection.list_sources(page(args)).await?,
        RegistryCommand::Entities(args) => connection.list_entities(page(args)).await?,
        RegistryCommand::TrainingSets(args) => connection.list_training_sets(page(args)).await?,
    }
    .into_inner();
    if client.json {
        let objects = found
            .objects
            .iter()
            .map(|o| {
                Ok(serde_json::json!({
                    "name": o.name,
                    "version": o.version,
                    "versions": o.versions,
                    "description": non_empty(&o.description),
                    "definition": definition(&o.definition_json)?,
                }))
            })
            .collect::<Result<Vec<_>>>()?;
        let next = non_empty(&found.next_page_token);
        println!(
            "{}",
            serde_json::json!({ "objects": objects, "next_page_token": next })
        );
        return Ok(());
    }
    if found.objects.is_empty() {
        println!("none");
    }
    for o in &found.objects {
        let reference = format!("{}@v{}", o.name, o.version);
        println!("{reference:<32} {}", o.description);
    }
    print_next_page(&found.next_page_token);
    Ok(())
}
