//! [`Metrics`]: the Prometheus metrics of ingest, the runtime and serving.

use prometheus::{
    Encoder, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

/// Every metric Freshet exports, registered in one registry.
pub struct Metrics {
    registry: Registry,
    /// Events accepted into a source's log.
    pub events_in: IntCounterVec,
    /// Events the engine has processed and committed.
    pub events_processed: IntCounterVec,
    /// Events per second processed, over the last second or so.
    pub events_per_second: GaugeVec,
    /// Events in the log not yet reflected in committed state.
    pub lag: IntGaugeVec,
    /// Time to process and commit one micro-batch.
    pub batch_seconds: HistogramVec,
    /// Time to serve one `GetOnlineFeatures` request.
    pub lookup_seconds: Histogram,
    /// Events refused as later than the allowed lateness, kept in the rejected topic.
    pub late: IntCounterVec,
    /// Events refused as malformed.
    pub rejected: IntCounterVec,
    /// Events replayed from the log into backfilling feature versions.
    pub events_replayed: IntCounterVec,
    /// Rows a feature version could not place (labels `feature` = `name@vN`,
    /// `reason` = `no_key` or `no_event_time`).
    pub rows_skipped: IntCounterVec,
    /// Bytes (keys and values) that commits handed to the stores (labels
    /// `source`, and `store` = `state` or `online`): the write amplification
    /// per processed event, with `events_processed`.
    pub bytes_written: IntCounterVec,
}

fn counter(registry: &Registry, name: &str, help: &str) -> IntCounterVec {
    let metric = IntCounterVec::new(Opts::new(name, help), &["source"]).expect("valid metric");
    registry
        .register(Box::new(metric.clone()))
        .expect("registered once");
    metric
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let events_in = counter(
            &registry,
            "freshet_events_in_total",
            "Events accepted into a source's log",
        );
        let events_processed = counter(
            &registry,
            "freshet_events_processed_total",
            "Events processed and committed by the engine",
        );
        let late = counter(
            &registry,
            "freshet_events_late_total",
            "Events older than the watermark minus the allowed lateness",
        );
        let rejected = counter(
            &registry,
            "freshet_events_rejected_total",
            "Events refused as malformed",
        );
        let events_replayed = counter(
            &registry,
            "freshet_backfill_events_total",
            "Events replayed from the log into backfilling feature versions",
        );
        let rows_skipped = IntCounterVec::new(
            Opts::new(
                "freshet_rows_skipped_total",
                "Rows a feature version could not place: no entity key or no event time",
            ),
            &["feature", "reason"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(rows_skipped.clone()))
            .expect("registered once");
        let bytes_written = IntCounterVec::new(
            Opts::new(
                "freshet_store_bytes_written_total",
                "Bytes of keys and values commits handed to the state and online stores",
            ),
            &["source", "store"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(bytes_written.clone()))
            .expect("registered once");
        let events_per_second = GaugeVec::new(
            Opts::new(
                "freshet_events_per_second",
                "Events processed per second, per source",
            ),
            &["source"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(events_per_second.clone()))
            .expect("registered once");
        let lag = IntGaugeVec::new(
            Opts::new(
                "freshet_source_lag_events",
                "Events in the log not yet reflected in committed state",
            ),
            &["source"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(lag.clone()))
            .expect("registered once");
        let batch_seconds = HistogramVec::new(
            HistogramOpts::new(
                "freshet_micro_batch_seconds",
                "Time to process and commit one micro-batch",
            )
            .buckets(prometheus::exponential_buckets(0.0005, 2.0, 16).expect("valid buckets")),
            &["source"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(batch_seconds.clone()))
            .expect("registered once");
        let lookup_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "freshet_lookup_seconds",
                "Time to serve one GetOnlineFeatures request",
            )
            .buckets(prometheus::exponential_buckets(0.00001, 2.0, 18).expect("valid buckets")),
        )
        .expect("valid metric");
        registry
            .register(Box::new(lookup_seconds.clone()))
            .expect("registered once");
        Metrics {
            registry,
            events_in,
            events_processed,
            events_per_second,
            lag,
            batch_seconds,
            lookup_seconds,
            bytes_written,
            late,
            rejected,
            events_replayed,
            rows_skipped,
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding to memory");
        String::from_utf8(out).expect("prometheus text is UTF-8")
    }
}
