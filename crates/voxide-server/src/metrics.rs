//! Prometheus metrics: request latencies by route, instances received by path and outcome,
//! and what the store holds (read at scrape time).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    /// The route pattern (`/dicom-web/studies/{study}`), never the concrete path, so that the
    /// number of series stays bounded.
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReceivedLabels {
    /// "stow", "c-store".
    pub via: String,
    /// "stored", "duplicate", "replaced", "failed".
    pub outcome: String,
}

/// The server's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub http_requests: Family<RequestLabels, Histogram>,
    pub instances_received: Family<ReceivedLabels, Counter>,
    pub associations: Counter,
    pub instances_stored: Gauge,
    pub bytes_stored: Gauge,
    pub studies_stored: Gauge,
}

fn latency_histogram() -> Histogram {
    // 0.25 ms to ~8 s.
    Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("voxide");
        let http_requests = Family::<RequestLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by method, route and status",
            http_requests.clone(),
        );
        let instances_received = Family::<ReceivedLabels, Counter>::default();
        registry.register(
            "instances_received",
            "Instances received, by path and outcome",
            instances_received.clone(),
        );
        let associations = Counter::default();
        registry.register(
            "dicom_associations",
            "DICOM associations accepted",
            associations.clone(),
        );
        let instances_stored = Gauge::default();
        registry.register(
            "instances_stored",
            "Instances in the store",
            instances_stored.clone(),
        );
        let studies_stored = Gauge::default();
        registry.register(
            "studies_stored",
            "Studies in the store",
            studies_stored.clone(),
        );
        let bytes_stored = Gauge::default();
        registry.register(
            "stored_bytes",
            "Bytes of stored objects",
            bytes_stored.clone(),
        );
        Self {
            registry,
            http_requests,
            instances_received,
            associations,
            instances_stored,
            bytes_stored,
            studies_stored,
        }
    }
}

impl Metrics {
    /// Counts one received instance.
    pub fn received(&self, via: &str, outcome: &str) {
        self.instances_received
            .get_or_create(&ReceivedLabels {
                via: via.into(),
                outcome: outcome.into(),
            })
            .inc();
    }

    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
