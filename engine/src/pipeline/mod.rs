//! [`Pipeline`]: the stateless SQL of one stream source, planned once with
//! DataFusion and run on each micro-batch. It yields, per micro-batch, the rows of
//! the source and of every transformation that reads it (directly or through other
//! transformations), in dependency order; GROUP BY transformations yield their
//! per-batch part (keys and aggregate arguments) for the view operator to fold.

mod batch_table;
mod file_table;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow::record_batch::RecordBatch;
use datafusion::common::{Column, TableReference};
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder};
use datafusion::physical_plan::collect;
use datafusion::prelude::{SessionConfig, SessionContext};
use freshet_sql::model::Definitions;
use freshet_sql::streaming::{split, StreamPlan, ViewPlan};
use freshet_sql::validate::Catalog;
use freshet_sql::validate::RelationKind;

pub use batch_table::BatchTable;
pub use file_table::{file_schema, format_of, read_file, FileTable};

use crate::{EngineError, Result};

/// One transformation of a pipeline.
enum Step {
    /// Runs whole on each micro-batch; its output feeds later steps.
    Stateless {
        name: String,
        plan: LogicalPlan,
        output: Arc<BatchTable>,
    },
    /// The per-batch part of a GROUP BY view.
    View { name: String, plan: ViewPlan },
}

/// A stream source's transformations, ready to run on micro-batches.
pub struct Pipeline {
    source: String,
    source_table: Arc<BatchTable>,
    files: Vec<FileTable>,
    context: SessionContext,
    steps: Vec<Step>,
    views: BTreeMap<String, ViewPlan>,
}

/// The column of a view's per-batch part holding the event time, once
/// [`Pipeline::time_views`] added it.
pub const VIEW_TIME: &str = "__time";

/// The rows one micro-batch produced, by relation name: the source, each
/// stateless transformation, and each view's per-batch part.
pub type BatchRows = HashMap<String, Vec<RecordBatch>>;

impl Pipeline {
    /// Plans every transformation of `definitions` that reads `source` (a stream
    /// source of `definitions`), directly or through others.
    pub async fn build(definitions: &Definitions, source: &str) -> Result<Pipeline> {
        let config = SessionConfig::new()
            .with_target_partitions(1)
            .with_batch_size(8192);
        let context = SessionContext::new_with_config(config);
        let mut kinds: BTreeMap<String, RelationKind> = BTreeMap::new();
        let mut files = Vec::new();
        let mut source_table = None;
        for item in &definitions.sources {
            if item.file.is_some() {
                let file = FileTable::open(item).await?;
                context.register_table(&item.name, file.table.clone())?;
                kinds.insert(item.name.clone(), RelationKind::File);
                files.push(file);
            } else if let Some(schema) = &item.schema {
                let table = BatchTable::new(Arc::new(schema.to_arrow()));
                context.register_table(&item.name, table.clone())?;
                kinds.insert(item.name.clone(), RelationKind::Stream);
                if item.name == source {
                    source_table = Some(table);
                }
            }
        }
        let source_table = source_table.ok_or_else(|| {
            EngineError::Unsupported(format!("'{source}' is not an active stream source"))
        })?;
        let mut steps = Vec::new();
        let mut views = BTreeMap::new();
        let mut pending: Vec<_> = definitions.transformations.iter().collect();
        let mut descends: Vec<String> = vec![source.to_string()];
        while !pending.is_empty() {
            let mut progressed = false;
            let mut failures = Vec::new();
            for transformation in std::mem::take(&mut pending) {
                let plan = match context
                    .state()
                    .create_logical_plan(&transformation.sql)
                    .await
                {
                    Ok(plan) => plan,
                    Err(error) => {
                        failures.push(format!(
                            "{}: {}",
                            transformation.name,
                            error.strip_backtrace()
                        ));
                        pending.push(transformation);
                        continue;
                    }
                };
                progressed = true;
                let name = transformation.name.clone();
                let stream_plan = split(&plan, &kinds).map_err(|rejection| {
                    EngineError::Unsupported(format!(
                        "transformation '{name}': {}",
                        rejection.message
                    ))
                })?;
                let schema = Arc::new(plan.schema().as_arrow().clone());
                let table = BatchTable::new(schema);
                context.register_table(&name, table.clone())?;
                match stream_plan {
                    StreamPlan::Table => {
                        let physical = context.state().create_physical_plan(&plan).await?;
                        table.set(collect(physical, context.task_ctx()).await?);
                        kinds.insert(name, RelationKind::File);
                    }
                    StreamPlan::Stateless { stream } => {
                        kinds.insert(name.clone(), RelationKind::Transformation);
                        if descends.contains(&stream) {
                            descends.push(name.clone());
                            steps.push(Step::Stateless {
                                name,
                                plan,
                                output: table,
                            });
                        }
                    }
                    StreamPlan::View(view) => {
                        kinds.insert(name.clone(), RelationKind::View);
                        if descends.contains(&view.stream) {
                            views.insert(name.clone(), (*view).clone());
                            steps.push(Step::View { name, plan: *view });
                        }
                    }
                }
            }
            if !progressed {
                return Err(EngineError::Unsupported(format!(
                    "cannot plan transformations: {}",
                    failures.join("; ")
                )));
            }
        }
        Ok(Pipeline {
            source: source.to_string(),
            source_table,
            files,
            context,
            steps,
            views,
        })
    }

    /// The relations whose rows a micro-batch yields: the source, then each
    /// transformation that reads it, in dependency order.
    pub fn relations(&self) -> Vec<&str> {
        std::iter::once(self.source.as_str())
            .chain(self.steps.iter().map(|step| match step {
                Step::Stateless { name, .. } | Step::View { name, .. } => name.as_str(),
            }))
            .collect()
    }

    /// The GROUP BY views this pipeline feeds, by name.
    pub fn views(&self) -> &BTreeMap<String, ViewPlan> {
        &self.views
    }

    /// Makes every view's per-batch part carry the event time of the stream
    /// it reads (`catalog` names it), as a last column [`VIEW_TIME`], so a
    /// replay can fold a view in event-time order. A view over a relation
    /// without an event time is left as it is.
    pub fn time_views(&mut self, catalog: &Catalog) -> Result<()> {
        for step in &mut self.steps {
            let Step::View { name, plan } = step else {
                continue;
            };
            let Some(time) = catalog
                .relations
                .get(&plan.stream)
                .and_then(|r| r.event_time.as_deref())
            else {
                continue;
            };
            let LogicalPlan::Projection(projection) = &plan.pre else {
                return Err(EngineError::Internal(format!(
                    "view '{name}': its per-batch part is not a projection"
                )));
            };
            let input = projection.input.as_ref();
            let stream = TableReference::bare(plan.stream.as_str());
            let (qualifier, field) = input
                .schema()
                .qualified_field_with_name(Some(&stream), time)
                .or_else(|_| input.schema().qualified_field_with_unqualified_name(time))
                .map_err(|e| {
                    EngineError::Unsupported(format!(
                        "view '{name}': the event time '{time}' of '{}' is not among the columns it groups: {}",
                        plan.stream,
                        e.strip_backtrace()
                    ))
                })?;
            let time = Expr::Column(Column::new(qualifier.cloned(), field.name()));
            plan.pre = LogicalPlanBuilder::from(input.clone())
                .project(
                    projection
                        .expr
                        .iter()
                        .cloned()
                        .chain([time.alias(VIEW_TIME)]),
                )?
                .build()?;
        }
        Ok(())
    }

    /// Runs one micro-batch of the source through every transformation.
    pub async fn run(&mut self, batch: RecordBatch) -> Result<BatchRows> {
        for file in &mut self.files {
            file.refresh().await;
        }
        let mut rows = BatchRows::new();
        self.source_table.set(vec![batch.clone()]);
        rows.insert(self.source.clone(), vec![batch]);
        for step in &self.steps {
            match step {
                Step::Stateless { name, plan, output } => {
                    let batches = self.execute(plan).await?;
                    output.set(batches.clone());
                    rows.insert(name.clone(), batches);
                }
                Step::View { name, plan } => {
                    let batches = self.execute(&plan.pre).await?;
                    rows.insert(name.clone(), batches);
                }
            }
        }
        Ok(rows)
    }

    async fn execute(&self, plan: &LogicalPlan) -> Result<Vec<RecordBatch>> {
        let physical = self.context.state().create_physical_plan(plan).await?;
        Ok(collect(physical, self.context.task_ctx()).await?)
    }
}
