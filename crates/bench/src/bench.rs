//! The run: every selected function started fresh `warmup + runs` times, round-robin (one start
//! of each function per round, so a slow spell on the machine hits them all alike), each start
//! with one realistic event whose answer is checked before the next start.
//!
//! The two webhooks pay orders created beforehand by one warm `create-order` process (one
//! order per webhook start, created exactly as a storefront would), so every webhook start
//! does the real job: verify, dedupe, conditional transition. The worker then fulfils the
//! order the Rust webhook paid in the same round.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::events::{self, PendingOrder};
use crate::process::{self, Function, Measured, StartError};
use crate::stack::{Stack, StackError};

/// The Stripe endpoint secret both webhooks are configured with.
pub const WEBHOOK_SECRET: &str = "whsec_bench_local_only";

/// A function of the benchmark, in the order a round starts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    OrdersApi,
    CreateOrder,
    /// The bare-Rust floor for the webhook job (`bench/floor`): what `payment-webhook` is
    /// measured against.
    Floor,
    PaymentWebhook,
    PostPaymentWorker,
    Cleanup,
    /// The Python peer of `payment-webhook`: `stripe` + boto3 under `awslambdaric`.
    PythonWebhook,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::OrdersApi,
        Kind::CreateOrder,
        Kind::Floor,
        Kind::PaymentWebhook,
        Kind::PostPaymentWorker,
        Kind::Cleanup,
        Kind::PythonWebhook,
    ];
    /// What a run starts unless told otherwise, and whose binaries it reports: the five
    /// functions and the floor.
    pub const DEFAULT: [Kind; 6] = [
        Kind::OrdersApi,
        Kind::CreateOrder,
        Kind::Floor,
        Kind::PaymentWebhook,
        Kind::PostPaymentWorker,
        Kind::Cleanup,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::OrdersApi => "orders-api",
            Kind::CreateOrder => "create-order",
            Kind::Floor => "floor",
            Kind::PaymentWebhook => "payment-webhook",
            Kind::PostPaymentWorker => "post-payment-worker",
            Kind::Cleanup => "cleanup",
            Kind::PythonWebhook => "python-webhook",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// What the function runs on, for the report.
    pub fn runtime(self) -> &'static str {
        match self {
            Kind::PythonWebhook => "Python (awslambdaric)",
            Kind::Floor => "Rust, bare (lambda_runtime + SDK)",
            _ => "Rust (provided.al2023)",
        }
    }

    /// What one start is asked to do.
    pub fn job(self) -> &'static str {
        match self {
            Kind::OrdersApi => "GET /api/v1/products",
            Kind::CreateOrder => "POST /api/v1/orders (guest, Stripe)",
            Kind::Floor | Kind::PaymentWebhook | Kind::PythonWebhook => {
                "signed checkout.session.completed for a pending order"
            }
            Kind::PostPaymentWorker => "SQS job: fulfil the order paid this round",
            Kind::Cleanup => "scheduled sweep ({})",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    /// Measured starts per function.
    pub runs: usize,
    /// Starts per function before the measured ones, not counted (the first exec of a binary
    /// reads it from disk into the page cache).
    pub warmup: usize,
    /// Where the release Lambda binaries are (`target/release`).
    pub bin_dir: PathBuf,
    /// The interpreter of the venv with `awslambdaric`, `stripe` and `boto3`.
    pub python: Option<PathBuf>,
    /// The Python peer's task root (`bench/python-peer`).
    pub peer_dir: PathBuf,
    pub log_dir: PathBuf,
    /// How long one invocation may take, init included, before the run fails (the
    /// functions' own timeouts, from the template, only set the deadline they are told).
    pub timeout: Duration,
    pub kinds: Vec<Kind>,
    /// Names the table, queue, topics and bucket.
    pub prefix: String,
}

/// One measured start.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// `exec` → the response reached the runtime API, in milliseconds.
    pub total_ms: f64,
    /// `exec` → the first `next` poll (init done), in milliseconds.
    pub init_ms: Option<f64>,
    pub peak_rss_kib: Option<u64>,
}

impl Sample {
    fn of(m: &Measured) -> Self {
        Self {
            total_ms: m.elapsed.as_secs_f64() * 1000.0,
            init_ms: m.init.map(|d| d.as_secs_f64() * 1000.0),
            peak_rss_kib: m.peak_rss_kib,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Stack(#[from] StackError),
    #[error("start {start} of {function}: {source}")]
    Start {
        function: &'static str,
        start: usize,
        source: Box<StartError>,
    },
    #[error("start {start} of {function} answered, but not as it should: {detail}")]
    Wrong {
        function: &'static str,
        start: usize,
        detail: String,
    },
    #[error("cannot create the log directory {path}: {source}")]
    LogDir {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Every measured start of every selected function.
#[derive(Debug, Clone, Default)]
pub struct Samples(pub BTreeMap<Kind, Vec<Sample>>);

impl Samples {
    pub fn of(&self, kind: Kind) -> &[Sample] {
        self.0.get(&kind).map_or(&[], Vec::as_slice)
    }
}

/// A Lambda proxy answer: `statusCode` and the decoded JSON body.
fn http_answer(raw: &str) -> Result<(u64, Value), String> {
    let v: Value = serde_json::from_str(raw).map_err(|e| format!("not JSON ({e}): {raw}"))?;
    let status = v["statusCode"]
        .as_u64()
        .ok_or_else(|| format!("no statusCode: {raw}"))?;
    if v["isBase64Encoded"].as_bool() == Some(true) {
        return Err(format!("a base64 body where JSON was expected: {raw}"));
    }
    let body = v["body"]
        .as_str()
        .map(|b| serde_json::from_str(b).unwrap_or(Value::String(b.to_owned())))
        .unwrap_or(Value::Null);
    Ok((status, body))
}

fn expect_status(raw: &str, want: u64) -> Result<Value, String> {
    let (status, body) = http_answer(raw)?;
    if status == want {
        Ok(body)
    } else {
        Err(format!("status {status} (expected {want}): {body}"))
    }
}

struct Plan {
    opts: Options,
    stack: Stack,
    functions: BTreeMap<Kind, Function>,
}

impl Plan {
    fn log(&self, kind: Kind) -> PathBuf {
        self.opts.log_dir.join(format!("{}.log", kind.name()))
    }

    async fn start(
        &self,
        kind: Kind,
        start: usize,
        events: Vec<Value>,
    ) -> Result<Measured, BenchError> {
        let f = &self.functions[&kind];
        let bytes = events.iter().map(|e| e.to_string().into_bytes()).collect();
        process::run(f, bytes, &self.log(kind), self.opts.timeout)
            .await
            .map_err(|source| BenchError::Start {
                function: kind.name(),
                start,
                source: Box::new(source),
            })
    }

    /// `count` orders waiting for a Stripe payment, created by one warm `create-order`.
    async fn create_orders(&self, count: usize) -> Result<Vec<PendingOrder>, BenchError> {
        if count == 0 {
            return Ok(Vec::new());
        }
        let events = (0..count)
            .map(|n| {
                events::http_api(
                    "POST",
                    "/api/v1/orders",
                    &[("content-type", "application/json")],
                    Some(&events::order_body(n)),
                    &format!("bench-pool-{n}"),
                )
            })
            .collect();
        let m = self.start(Kind::CreateOrder, 0, events).await?;
        m.outcomes
            .iter()
            .map(|o| {
                expect_status(&o.body_text(), 201)
                    .and_then(|b| {
                        PendingOrder::from_created(&b).ok_or(format!("not a Stripe order: {b}"))
                    })
                    .map_err(|detail| BenchError::Wrong {
                        function: "create-order (preparing orders to pay)",
                        start: 0,
                        detail,
                    })
            })
            .collect()
    }

    /// One cold start of `kind`, checked.
    async fn cold_start(
        &self,
        kind: Kind,
        start: usize,
        to_pay: Option<&PendingOrder>,
    ) -> Result<Measured, BenchError> {
        let wrong = |detail: String| BenchError::Wrong {
            function: kind.name(),
            start,
            detail,
        };
        let rid = format!("bench-{}-{start}", kind.name());
        let order = || to_pay.ok_or_else(|| wrong("no order to pay".into()));
        let mut event_id = String::new();
        let event = match kind {
            Kind::OrdersApi => events::http_api("GET", "/api/v1/products", &[], None, &rid),
            Kind::CreateOrder => events::http_api(
                "POST",
                "/api/v1/orders",
                &[
                    ("content-type", "application/json"),
                    ("idempotency-key", &rid),
                ],
                Some(&events::order_body(start)),
                &rid,
            ),
            Kind::Floor | Kind::PaymentWebhook | Kind::PythonWebhook => {
                event_id = format!("evt_bench_{}_{start}_{}", kind as u8, std::process::id());
                let now = (crate::emulator::unix_millis() / 1000) as i64;
                let hook = events::checkout_completed(order()?, &event_id, WEBHOOK_SECRET, now)
                    .map_err(|e| wrong(e.to_string()))?;
                events::stripe_delivery(&hook, &rid)
            }
            Kind::PostPaymentWorker => events::sqs(
                &self.stack.queue_arn,
                &self.stack.region,
                &rid,
                &json!({"orderId": order()?.order_id}).to_string(),
            ),
            Kind::Cleanup => events::schedule(),
        };
        let m = self.start(kind, start, vec![event]).await?;
        let raw = m.response().body_text();
        match kind {
            Kind::OrdersApi => {
                let body = expect_status(&raw, 200).map_err(wrong)?;
                if body["products"].as_array().is_none_or(Vec::is_empty) {
                    return Err(wrong(format!("no products: {body}")));
                }
            }
            Kind::CreateOrder => {
                let body = expect_status(&raw, 201).map_err(wrong)?;
                if body["status"] != "pending_payment" {
                    return Err(wrong(format!("not a new order: {body}")));
                }
            }
            Kind::PaymentWebhook => {
                let body = expect_status(&raw, 200).map_err(wrong)?;
                let id = &order()?.order_id;
                let status = self.stack.order_status(id).await?;
                if body != json!({"received": true}) || status != "paid" {
                    return Err(wrong(format!(
                        "answered {body}, order {id} is {status} (expected paid)"
                    )));
                }
            }
            Kind::PythonWebhook | Kind::Floor => {
                let body = expect_status(&raw, 200).map_err(wrong)?;
                let id = &order()?.order_id;
                let (status, deduped) = self.stack.raw_status(id, &event_id).await?;
                if body != json!({"received": true}) || status != "paid" || !deduped {
                    return Err(wrong(format!(
                        "answered {body}, order {id} is {status:?}, event recorded: {deduped}"
                    )));
                }
            }
            Kind::PostPaymentWorker => {
                let body: Value = serde_json::from_str(&raw).map_err(|e| wrong(e.to_string()))?;
                let id = &order()?.order_id;
                let status = self.stack.order_status(id).await?;
                if body["batchItemFailures"]
                    .as_array()
                    .is_none_or(|f| !f.is_empty())
                    || status != "fulfilled"
                {
                    return Err(wrong(format!(
                        "answered {body}, order {id} is {status} (expected fulfilled)"
                    )));
                }
            }
            Kind::Cleanup => {
                let body: Value = serde_json::from_str(&raw).map_err(|e| wrong(e.to_string()))?;
                if !body["cancelled"].is_u64() || !body["reenqueued"].is_u64() {
                    return Err(wrong(format!("not a sweep report: {raw}")));
                }
            }
        }
        Ok(m)
    }
}

fn function(kind: Kind, opts: &Options, stack: &Stack) -> Result<Function, BenchError> {
    let mut env = stack.function_env(WEBHOOK_SECRET);
    // The Rust webhook and its floor read the endpoint secret from Secrets Manager, as
    // deployed; the Python peer from its variable, as the seeds' functions do.
    if matches!(kind, Kind::Floor | Kind::PaymentWebhook) {
        env.push((
            "STRIPE_SECRET_ARN".to_owned(),
            stack.stripe_secret_arn.clone(),
        ));
    }
    if kind == Kind::OrdersApi {
        // Its own variable in the template, beside the `Globals`.
        env.push((
            "DEAD_LETTER_QUEUE_URL".to_owned(),
            stack.dead_letter_url.clone(),
        ));
        // Only named at start-up; no benchmarked request asks for a download.
        env.push(("DOWNLOADS_BUCKET".to_owned(), stack.bucket.clone()));
    }
    // Memory and timeout as the template sets them.
    let (memory_mb, timeout_s) = match kind {
        Kind::Floor | Kind::PaymentWebhook | Kind::PythonWebhook => (256, 5),
        Kind::PostPaymentWorker => (256, 30),
        Kind::Cleanup => (256, 60),
        Kind::OrdersApi | Kind::CreateOrder => (256, 10),
    };
    let (program, args, cwd) = if kind == Kind::PythonWebhook {
        let python = opts.python.clone().ok_or_else(|| {
            BenchError::Usage("python-webhook needs --python (the venv's interpreter)".into())
        })?;
        let root = opts.peer_dir.display().to_string();
        env.extend(
            [
                ("LAMBDA_TASK_ROOT", root.as_str()),
                ("PYTHONPATH", root.as_str()),
                ("_HANDLER", "lambda_function.handler"),
                ("AWS_EXECUTION_ENV", "AWS_Lambda_python3.11"),
                // Lambda's task root is read-only: no bytecode is written there either.
                ("PYTHONDONTWRITEBYTECODE", "1"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
        );
        let args = ["-m", "awslambdaric", "lambda_function.handler"].map(str::to_owned);
        (python, args.to_vec(), Some(opts.peer_dir.clone()))
    } else {
        (opts.bin_dir.join(kind.name()), Vec::new(), None)
    };
    Ok(Function {
        name: kind.name().to_owned(),
        program,
        args,
        cwd,
        env,
        memory_mb,
        timeout: Duration::from_secs(timeout_s),
        region: stack.region.clone(),
    })
}

/// Runs the benchmark; `progress` is told of each finished round.
pub async fn run(opts: Options, progress: impl Fn(&str)) -> Result<Samples, BenchError> {
    let kinds = &opts.kinds;
    if kinds.contains(&Kind::PostPaymentWorker) && !kinds.contains(&Kind::PaymentWebhook) {
        return Err(BenchError::Usage(
            "post-payment-worker fulfils what payment-webhook paid: select both".into(),
        ));
    }
    if opts.runs == 0 {
        return Err(BenchError::Usage("--runs must be at least 1".into()));
    }
    std::fs::create_dir_all(&opts.log_dir).map_err(|source| BenchError::LogDir {
        path: opts.log_dir.clone(),
        source,
    })?;
    let starts = opts.warmup + opts.runs;
    // Stock for every order: the create-order starts, and one per webhook start.
    let units = u32::try_from(4 * starts + 100).unwrap_or(u32::MAX);
    let stack = Stack::prepare(&opts.prefix, units, WEBHOOK_SECRET).await?;
    let mut functions = BTreeMap::new();
    for &k in kinds.iter().chain([Kind::CreateOrder].iter()) {
        functions.insert(k, function(k, &opts, &stack)?);
    }
    let plan = Plan {
        opts: opts.clone(),
        stack,
        functions,
    };

    let webhooks = kinds
        .iter()
        .filter(|k| matches!(k, Kind::Floor | Kind::PaymentWebhook | Kind::PythonWebhook))
        .count();
    progress(&format!(
        "creating {} orders to pay with one warm create-order",
        starts * webhooks
    ));
    let mut pool = plan.create_orders(starts * webhooks).await?.into_iter();
    let mut rust_orders = Vec::new();
    let mut python_orders = Vec::new();
    let mut floor_orders = Vec::new();
    if kinds.contains(&Kind::Floor) {
        floor_orders = pool.by_ref().take(starts).collect();
    }
    if kinds.contains(&Kind::PaymentWebhook) {
        rust_orders = pool.by_ref().take(starts).collect();
    }
    if kinds.contains(&Kind::PythonWebhook) {
        python_orders = pool.by_ref().take(starts).collect();
    }

    let mut samples = Samples::default();
    for round in 0..starts {
        for &kind in kinds {
            let to_pay = match kind {
                Kind::PaymentWebhook | Kind::PostPaymentWorker => rust_orders.get(round),
                Kind::PythonWebhook => python_orders.get(round),
                Kind::Floor => floor_orders.get(round),
                _ => None,
            };
            let m = plan.cold_start(kind, round, to_pay).await?;
            if round >= opts.warmup {
                samples.0.entry(kind).or_default().push(Sample::of(&m));
            }
        }
        progress(&format!(
            "round {}/{starts}{}",
            round + 1,
            if round < opts.warmup {
                " (warm-up)"
            } else {
                ""
            }
        ));
    }
    Ok(samples)
}

/// Size in bytes of each Rust function's binary in `bin_dir`, and of the floor's.
pub fn binary_sizes(bin_dir: &Path) -> Vec<(&'static str, Option<u64>)> {
    Kind::DEFAULT
        .iter()
        .map(|k| {
            let size = std::fs::metadata(bin_dir.join(k.name()))
                .ok()
                .map(|m| m.len());
            (k.name(), size)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proxy_answer_is_read_as_its_status_and_json_body() {
        let raw = r#"{"statusCode":201,"headers":{},"body":"{\"orderId\":\"ord_1\"}","isBase64Encoded":false}"#;
        assert_eq!(
            expect_status(raw, 201).unwrap(),
            json!({"orderId": "ord_1"})
        );
        let err = expect_status(raw, 200).unwrap_err();
        assert!(err.contains("status 201"), "{err}");
        assert!(http_answer("[]").is_err());
    }

    #[test]
    fn every_function_is_named_as_its_binary_and_parses_back() {
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.name()), Some(k));
        }
        assert_eq!(Kind::parse("nope"), None);
    }
}
