//! The results as a table (terminal), Markdown (for `docs/benchmarks.md`) and JSON (every
//! sample, for anyone who wants to redo the arithmetic).

use std::fmt::Write as _;
use std::path::PathBuf;

use serde_json::{Value, json};

use crate::bench::{Kind, Samples};
use crate::stats::{Summary, median};

/// The machine the figures come from.
#[derive(Debug, Clone)]
pub struct Machine {
    pub cores: usize,
    pub arch: &'static str,
    pub cpu: String,
    pub kernel: String,
}

impl Machine {
    pub fn here() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .and_then(|l| l.split_once(':'))
            .map_or_else(|| "unknown".into(), |(_, m)| m.trim().to_owned());
        Self {
            cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
            arch: std::env::consts::ARCH,
            cpu,
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map_or_else(|_| "unknown".into(), |k| k.trim().to_owned()),
        }
    }
}

/// One function's line.
#[derive(Debug, Clone)]
pub struct Row {
    pub kind: Kind,
    pub total: Summary,
    pub init_median_ms: Option<f64>,
    pub rss_median_mib: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct Report {
    pub machine: Machine,
    pub runs: usize,
    pub warmup: usize,
    pub rows: Vec<Row>,
    pub samples: Samples,
    /// Rust function binaries: name and size in bytes (`None`: not built).
    pub binaries: Vec<(&'static str, Option<u64>)>,
    pub bin_dir: PathBuf,
}

/// Python over Rust for the webhook job.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ratio {
    pub median: f64,
    pub p90: f64,
    pub rss: Option<f64>,
}

impl Report {
    pub fn new(
        machine: Machine,
        runs: usize,
        warmup: usize,
        samples: Samples,
        binaries: Vec<(&'static str, Option<u64>)>,
        bin_dir: PathBuf,
    ) -> Self {
        let rows = Kind::ALL
            .iter()
            .filter_map(|&kind| {
                let s = samples.of(kind);
                let totals: Vec<f64> = s.iter().map(|x| x.total_ms).collect();
                let inits: Vec<f64> = s.iter().filter_map(|x| x.init_ms).collect();
                let rss: Vec<f64> = s
                    .iter()
                    .filter_map(|x| x.peak_rss_kib)
                    .map(|k| k as f64 / 1024.0)
                    .collect();
                Some(Row {
                    kind,
                    total: Summary::of(&totals)?,
                    init_median_ms: median(&inits),
                    rss_median_mib: median(&rss),
                })
            })
            .collect();
        Self {
            machine,
            runs,
            warmup,
            rows,
            samples,
            binaries,
            bin_dir,
        }
    }

    fn row(&self, kind: Kind) -> Option<&Row> {
        self.rows.iter().find(|r| r.kind == kind)
    }

    /// `numerator` over `denominator` (medians, p90s, peak RSS), when both ran.
    pub fn ratio_of(&self, numerator: Kind, denominator: Kind) -> Option<Ratio> {
        let n = self.row(numerator)?;
        let d = self.row(denominator)?;
        Some(Ratio {
            median: n.total.median / d.total.median,
            p90: n.total.p90 / d.total.p90,
            rss: n.rss_median_mib.zip(d.rss_median_mib).map(|(n, d)| n / d),
        })
    }

    /// `python-webhook` over `payment-webhook`, when both ran.
    pub fn ratio(&self) -> Option<Ratio> {
        self.ratio_of(Kind::PythonWebhook, Kind::PaymentWebhook)
    }

    /// `payment-webhook` over the bare-Rust `floor`, when both ran.
    pub fn floor_ratio(&self) -> Option<Ratio> {
        self.ratio_of(Kind::PaymentWebhook, Kind::Floor)
    }

    fn lines(&self) -> Vec<[String; 8]> {
        let ms = |x: f64| format!("{x:.1}");
        let opt = |x: Option<f64>| x.map_or_else(|| "–".into(), ms);
        self.rows
            .iter()
            .map(|r| {
                [
                    r.kind.name().to_owned(),
                    r.kind.runtime().to_owned(),
                    ms(r.total.median),
                    ms(r.total.p90),
                    ms(r.total.min),
                    ms(r.total.max),
                    opt(r.init_median_ms),
                    opt(r.rss_median_mib),
                ]
            })
            .collect()
    }

    const HEADERS: [&'static str; 8] = [
        "function",
        "runtime",
        "median ms",
        "p90 ms",
        "min ms",
        "max ms",
        "init ms (median)",
        "peak RSS MiB (median)",
    ];

    fn ratio_texts(&self) -> Vec<String> {
        let text = |what: &str, r: Ratio| {
            let rss = r
                .rss
                .map_or_else(String::new, |x| format!("; peak RSS {x:.2}×"));
            format!(
                "webhook job, {what}: median {:.2}×, p90 {:.2}×{rss}",
                r.median, r.p90
            )
        };
        [
            self.floor_ratio()
                .map(|r| text("payment-webhook / floor", r)),
            self.ratio().map(|r| text("Python / payment-webhook", r)),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    fn mb(bytes: u64) -> String {
        format!("{:.2} MB", bytes as f64 / 1_000_000.0)
    }

    /// The terminal table.
    pub fn text(&self) -> String {
        let lines = self.lines();
        let mut widths = Self::HEADERS.map(str::len);
        for l in &lines {
            for (w, c) in widths.iter_mut().zip(l) {
                *w = (*w).max(c.chars().count());
            }
        }
        let mut out = String::new();
        let fmt_line = |cells: &[String]| {
            cells
                .iter()
                .zip(widths)
                .enumerate()
                .map(|(i, (c, w))| {
                    let pad = w.saturating_sub(c.chars().count());
                    if i < 2 {
                        format!("{c}{}", " ".repeat(pad))
                    } else {
                        format!("{}{c}", " ".repeat(pad))
                    }
                })
                .collect::<Vec<_>>()
                .join("  ")
        };
        let _ = writeln!(
            out,
            "cold starts: {} measured per function (after {} warm-up), exec → response",
            self.runs, self.warmup
        );
        let _ = writeln!(out, "{}", fmt_line(&Self::HEADERS.map(str::to_owned)));
        for l in &lines {
            let _ = writeln!(out, "{}", fmt_line(l));
        }
        for (i, r) in self.ratio_texts().iter().enumerate() {
            let _ = writeln!(out, "{}{r}", if i == 0 { "\n" } else { "" });
        }
        let _ = writeln!(
            out,
            "\nrelease binaries ({}, {}):",
            self.machine.arch,
            self.bin_dir.display()
        );
        for (name, size) in &self.binaries {
            let size = size.map_or_else(
                || "not built".into(),
                |b| format!("{} ({b} bytes)", Self::mb(b)),
            );
            let _ = writeln!(out, "  {name:<20} {size}");
        }
        let _ = writeln!(
            out,
            "\nmachine: {} cores, {}, {}, Linux {}",
            self.machine.cores, self.machine.arch, self.machine.cpu, self.machine.kernel
        );
        out
    }

    /// The same as a Markdown fragment.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Machine: {} cores, `{}`, {}, Linux {}. {} measured cold starts per function after {} warm-up start(s).\n",
            self.machine.cores,
            self.machine.arch,
            self.machine.cpu,
            self.machine.kernel,
            self.runs,
            self.warmup
        );
        let _ = writeln!(out, "| {} | job |", Self::HEADERS.join(" | "));
        let _ = writeln!(out, "|{}", "---|".repeat(Self::HEADERS.len() + 1));
        for (l, r) in self.lines().iter().zip(&self.rows) {
            let _ = writeln!(out, "| {} | {} |", l.join(" | "), r.kind.job());
        }
        for r in self.ratio_texts() {
            let _ = writeln!(out, "\n**{r}**");
        }
        let _ = writeln!(
            out,
            "\n| release binary (`{}`) | size |\n|---|---|",
            self.machine.arch
        );
        for (name, size) in &self.binaries {
            let size = size.map_or_else(
                || "not built".into(),
                |b| format!("{} ({b} bytes)", Self::mb(b)),
            );
            let _ = writeln!(out, "| `{name}` | {size} |");
        }
        out
    }

    pub fn json(&self) -> Value {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|r| {
                let s = self.samples.of(r.kind);
                json!({
                    "function": r.kind.name(),
                    "runtime": r.kind.runtime(),
                    "job": r.kind.job(),
                    "medianMs": r.total.median,
                    "p90Ms": r.total.p90,
                    "minMs": r.total.min,
                    "maxMs": r.total.max,
                    "initMedianMs": r.init_median_ms,
                    "peakRssMedianMiB": r.rss_median_mib,
                    "samples": s.iter().map(|x| json!({
                        "totalMs": x.total_ms, "initMs": x.init_ms, "peakRssKiB": x.peak_rss_kib,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        json!({
            "machine": {
                "cores": self.machine.cores,
                "arch": self.machine.arch,
                "cpu": self.machine.cpu,
                "kernel": self.machine.kernel,
            },
            "runs": self.runs,
            "warmup": self.warmup,
            "functions": rows,
            "webhookRatioPythonOverRust": self.ratio().map(|r| json!({
                "median": r.median, "p90": r.p90, "peakRss": r.rss,
            })),
            "webhookRatioOverFloor": self.floor_ratio().map(|r| json!({
                "median": r.median, "p90": r.p90, "peakRss": r.rss,
            })),
            "binaries": self.binaries.iter().map(|(n, b)| json!({
                "name": n, "bytes": b, "arch": self.machine.arch,
            })).collect::<Vec<_>>(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::Sample;

    fn sample(total_ms: f64, kib: u64) -> Sample {
        Sample {
            total_ms,
            init_ms: Some(total_ms / 2.0),
            peak_rss_kib: Some(kib),
        }
    }

    #[test]
    fn the_ratios_compare_the_webhook_with_its_floor_and_its_python_peer() {
        let mut samples = Samples::default();
        samples.0.insert(
            Kind::Floor,
            vec![sample(8.0, 5120), sample(16.0, 5120), sample(24.0, 5120)],
        );
        samples.0.insert(
            Kind::PaymentWebhook,
            vec![
                sample(10.0, 10240),
                sample(20.0, 10240),
                sample(30.0, 10240),
            ],
        );
        samples.0.insert(
            Kind::PythonWebhook,
            vec![
                sample(100.0, 40960),
                sample(200.0, 40960),
                sample(300.0, 40960),
            ],
        );
        let report = Report::new(
            Machine::here(),
            3,
            1,
            samples,
            vec![("payment-webhook", Some(12_345_678))],
            PathBuf::from("target/release"),
        );
        let r = report.ratio().unwrap();
        assert_eq!((r.median, r.rss), (10.0, Some(4.0)));
        let md = report.markdown();
        assert!(md.contains("| payment-webhook | Rust"), "{md}");
        assert!(md.contains("12.35 MB"), "{md}");
        let text = report.text();
        assert!(
            text.contains("Python / payment-webhook: median 10.00×"),
            "{text}"
        );
        let f = report.floor_ratio().unwrap();
        assert_eq!((f.median, f.rss), (1.25, Some(2.0)));
        assert!(
            text.contains("payment-webhook / floor: median 1.25×"),
            "{text}"
        );
        let json = report.json();
        assert_eq!(json["functions"][2]["samples"][2]["totalMs"], 300.0);
        assert_eq!(json["webhookRatioOverFloor"]["median"], 1.25);
    }

    #[test]
    fn without_both_webhooks_there_is_no_ratio() {
        let mut samples = Samples::default();
        samples.0.insert(Kind::OrdersApi, vec![sample(5.0, 1024)]);
        let report = Report::new(Machine::here(), 1, 0, samples, vec![], PathBuf::new());
        assert_eq!(report.ratio(), None);
        assert_eq!(report.floor_ratio(), None);
        assert_eq!(report.rows.len(), 1);
    }
}
