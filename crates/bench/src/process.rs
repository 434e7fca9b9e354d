//! Starting a function the way Lambda starts a sandbox: a fresh process with only the
//! environment Lambda gives it (plus the function's own configuration), its runtime client
//! pointed at a fresh emulator. Measured from just before `exec` to the arrival of each
//! answer; peak RSS (`VmHWM`) is read right after the last answer, then the process is killed.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::emulator::{Emulator, Invocation, Outcome, Report};

/// One function: what to exec and with which configuration.
#[derive(Debug, Clone)]
pub struct Function {
    /// `AWS_LAMBDA_FUNCTION_NAME`, and the name in the report.
    pub name: String,
    pub program: PathBuf,
    pub args: Vec<String>,
    /// Working directory (the Python peer's task root); inherited when `None`.
    pub cwd: Option<PathBuf>,
    /// The function's own configuration, on top of what Lambda sets.
    pub env: Vec<(String, String)>,
    pub memory_mb: u32,
    /// The function's timeout: sets the deadline each invocation is told.
    pub timeout: Duration,
    pub region: String,
}

impl Function {
    pub fn arn(&self) -> String {
        format!(
            "arn:aws:lambda:{}:123456789012:function:{}",
            self.region, self.name
        )
    }

    /// What a Lambda sandbox has in its environment before the function's own variables.
    fn lambda_env(&self, runtime_api: &str) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = [
            ("PATH", "/usr/local/bin:/usr/bin:/bin"),
            ("LANG", "en_US.UTF-8"),
            ("TZ", ":UTC"),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand"),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
            ("AWS_LAMBDA_LOG_LEVEL", "INFO"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        env.extend([
            ("AWS_LAMBDA_RUNTIME_API".into(), runtime_api.to_owned()),
            ("AWS_LAMBDA_FUNCTION_NAME".into(), self.name.clone()),
            (
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(),
                self.memory_mb.to_string(),
            ),
            (
                "AWS_LAMBDA_LOG_GROUP_NAME".into(),
                format!("/aws/lambda/{}", self.name),
            ),
            (
                "AWS_LAMBDA_LOG_STREAM_NAME".into(),
                "2027/01/01/[$LATEST]0123456789abcdef0123456789abcdef".into(),
            ),
            ("AWS_REGION".into(), self.region.clone()),
            ("AWS_DEFAULT_REGION".into(), self.region.clone()),
        ]);
        // The execution role's credentials; here the local AWS API server's dummy ones.
        for k in [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_ENDPOINT_URL",
            "AWS_EC2_METADATA_DISABLED",
        ] {
            if let Ok(v) = std::env::var(k) {
                env.push((k.to_owned(), v));
            }
        }
        env.extend(self.env.iter().cloned());
        env
    }
}

/// One process's run: every answer, in order, and what it cost.
#[derive(Debug)]
pub struct Measured {
    pub outcomes: Vec<Outcome>,
    /// `exec` → the first `next` poll: the function's own init.
    pub init: Option<Duration>,
    /// `exec` → the last answer.
    pub elapsed: Duration,
    /// `VmHWM` right after the last answer, in KiB.
    pub peak_rss_kib: Option<u64>,
}

impl Measured {
    /// The answer to the only event of a cold start.
    pub fn response(&self) -> &Outcome {
        &self.outcomes[0]
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot start the runtime API emulator: {0}")]
    Emulator(std::io::Error),
    #[error("cannot write the log {path}: {source}")]
    Log {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot exec {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("{function} exited ({status}) before answering; its output:\n{log}")]
    Exited {
        function: String,
        status: String,
        log: String,
    },
    #[error("{function} gave no answer within {secs} s; its output:\n{log}")]
    TimedOut {
        function: String,
        secs: u64,
        log: String,
    },
    #[error("{function} reported {report:?} ({error_type}): {body}\nits output:\n{log}")]
    Failed {
        function: String,
        report: Report,
        error_type: String,
        body: String,
        log: String,
    },
}

/// Kills the child however the run ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const LOG_MARK: &str = "----- oms-bench start -----";

/// Runs `f` in a fresh process for `events` (one: a cold start; more: warm invocations of the
/// same sandbox), appending its output to `log`; fails if the answers take longer than `limit`
/// per event.
pub async fn run(
    f: &Function,
    events: Vec<Vec<u8>>,
    log: &Path,
    limit: Duration,
) -> Result<Measured, StartError> {
    let count = events.len().max(1);
    let arn = f.arn();
    let timeout_ms = f.timeout.as_millis() as u64;
    let invocations = events
        .into_iter()
        .map(|e| Invocation::new(&arn, e, timeout_ms))
        .collect();
    let mut emulator = Emulator::start(invocations)
        .await
        .map_err(StartError::Emulator)?;
    let out = open_log(log)?;
    let err = out.try_clone().map_err(|source| StartError::Log {
        path: log.to_owned(),
        source,
    })?;
    let mut cmd = Command::new(&f.program);
    cmd.args(&f.args)
        .env_clear()
        .envs(f.lambda_env(&emulator.runtime_api()))
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    if let Some(dir) = &f.cwd {
        cmd.current_dir(dir);
    }

    let started = Instant::now();
    let child = cmd.spawn().map_err(|source| StartError::Spawn {
        program: f.program.display().to_string(),
        source,
    })?;
    let mut child = Running(child);
    let limit = limit * count as u32;
    let deadline = started + limit;
    let mut outcomes = Vec::with_capacity(count);
    while outcomes.len() < count {
        tokio::select! {
            biased;
            outcome = emulator.next_outcome() => {
                let Some(o) = outcome else { break };
                if o.report != Report::Response {
                    return Err(StartError::Failed {
                        function: f.name.clone(),
                        report: o.report,
                        error_type: o.error_type.clone().unwrap_or_default(),
                        body: o.body_text(),
                        log: log_tail(log),
                    });
                }
                outcomes.push(o);
            }
            _ = tokio::time::sleep(Duration::from_millis(10)) => {
                if let Ok(Some(status)) = child.0.try_wait() {
                    return Err(StartError::Exited {
                        function: f.name.clone(),
                        status: status.to_string(),
                        log: log_tail(log),
                    });
                }
                if Instant::now() >= deadline {
                    return Err(StartError::TimedOut {
                        function: f.name.clone(),
                        secs: limit.as_secs(),
                        log: log_tail(log),
                    });
                }
            }
        }
    }
    let peak_rss_kib = peak_rss_kib(child.0.id());
    drop(child);
    let last = outcomes.last().map_or(started, |o| o.at);
    Ok(Measured {
        init: emulator.first_poll().map(|t| t.duration_since(started)),
        elapsed: last.duration_since(started),
        peak_rss_kib,
        outcomes,
    })
}

fn open_log(path: &Path) -> Result<File, StartError> {
    let fail = |source| StartError::Log {
        path: path.to_owned(),
        source,
    };
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(fail)?;
    writeln!(file, "{LOG_MARK}").map_err(fail)?;
    Ok(file)
}

/// The last lines the most recent start of a function wrote.
pub fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let this_start = text.rsplit(LOG_MARK).next().unwrap_or("");
    let lines: Vec<&str> = this_start.lines().filter(|l| !l.is_empty()).collect();
    let from = lines.len().saturating_sub(30);
    if lines.is_empty() {
        "(nothing)".into()
    } else {
        lines[from..].join("\n")
    }
}

/// `VmHWM` (peak resident set) of a live process, from `/proc/<pid>/status`, in KiB.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_vm_hwm(&status)
}

fn parse_vm_hwm(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peak_rss_is_read_from_the_high_water_mark_line() {
        let status =
            "Name:\tcleanup\nVmPeak:\t  123456 kB\nVmHWM:\t   10240 kB\nVmRSS:\t    9000 kB\n";
        assert_eq!(parse_vm_hwm(status), Some(10240));
        assert_eq!(parse_vm_hwm("Name:\tx\n"), None);
    }

    #[test]
    fn this_process_has_a_peak_rss() {
        assert!(peak_rss_kib(std::process::id()).is_some_and(|k| k > 0));
    }
}
