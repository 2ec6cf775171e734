//! [`BatchTable`]: a table whose rows are swapped between executions, so a plan is
//! planned once and run on every micro-batch.

use std::sync::{Arc, RwLock};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::TableType;
use datafusion::error::Result;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;

/// A table holding the current micro-batch (or the current contents of a file).
#[derive(Debug)]
pub struct BatchTable {
    schema: SchemaRef,
    batches: RwLock<Vec<RecordBatch>>,
}

impl BatchTable {
    /// An empty table of `schema`.
    pub fn new(schema: SchemaRef) -> Arc<BatchTable> {
        Arc::new(BatchTable {
            schema,
            batches: RwLock::new(Vec::new()),
        })
    }

    /// Replaces the rows.
    pub fn set(&self, batches: Vec<RecordBatch>) {
        *self.batches.write().unwrap_or_else(|p| p.into_inner()) = batches;
    }

    /// The table's schema.
    pub fn schema_ref(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// The current rows.
    pub fn batches(&self) -> Vec<RecordBatch> {
        self.batches
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

#[async_trait]
impl TableProvider for BatchTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let batches = self.batches();
        Ok(MemorySourceConfig::try_new_exec(
            &[batches],
            self.schema.clone(),
            projection.cloned(),
        )?)
    }
}
