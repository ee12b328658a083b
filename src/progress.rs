//! Logs and progress, on stderr only (stdout stays free for command output such as `diff`).
//!
//! - Structured logs with `tracing`: `reckon --quiet` shows warnings and errors only, the default
//!   shows progress (`info`), `-v` adds debug detail, `-vv` traces.
//! - Long stages are wrapped in a [`Stage`]: on a terminal it draws a progress bar (`indicatif`;
//!   log lines are printed above it); otherwise — cron, Airflow, CI — it logs the start, a line
//!   every [`TICK`] while the stage runs, and the end with its duration, so a log tail always
//!   shows what a long run is doing.
//! - Nothing here reaches an output table: wall-clock time appears in logs only.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tracing::level_filters::LevelFilter;

/// Interval of the plain "still running" lines when stderr is not a terminal.
pub const TICK: Duration = Duration::from_secs(30);

/// How much to say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
    Trace,
}

impl Verbosity {
    pub fn from_flags(quiet: bool, verbose: u8) -> Verbosity {
        match (quiet, verbose) {
            (true, _) => Verbosity::Quiet,
            (false, 0) => Verbosity::Normal,
            (false, 1) => Verbosity::Verbose,
            _ => Verbosity::Trace,
        }
    }

    fn level(self) -> LevelFilter {
        match self {
            Verbosity::Quiet => LevelFilter::WARN,
            Verbosity::Normal => LevelFilter::INFO,
            Verbosity::Verbose => LevelFilter::DEBUG,
            Verbosity::Trace => LevelFilter::TRACE,
        }
    }
}

static BARS: OnceLock<bool> = OnceLock::new();
static CURRENT: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Installs the stderr logger (once per process; later calls keep the first setting).
pub fn init(v: Verbosity) {
    let tty = std::io::stderr().is_terminal();
    let _ = BARS.set(tty && v != Verbosity::Quiet);
    let _ = tracing_subscriber::fmt()
        .with_max_level(v.level())
        .with_target(false)
        .with_ansi(tty)
        .with_writer(|| BarAwareStderr)
        .try_init();
}

/// Writes to stderr above the progress bar, if one is drawn.
struct BarAwareStderr;

impl Write for BarAwareStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let bar = CURRENT.lock().ok().and_then(|b| b.clone());
        match bar {
            Some(bar) => bar.suspend(|| std::io::stderr().write_all(buf))?,
            None => std::io::stderr().write_all(buf)?,
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// A long stage of a run: logs its start and end, and shows progress while it lasts.
pub struct Stage {
    name: &'static str,
    started: Instant,
    steps: u64,
    done: u64,
    bar: Option<ProgressBar>,
    ticker: Option<(Sender<()>, JoinHandle<()>)>,
}

/// Starts a stage of `steps` steps (0: a stage without countable steps).
pub fn stage(name: &'static str, steps: u64) -> Stage {
    tracing::info!(stage = name, steps, "stage started");
    let bars = *BARS.get().unwrap_or(&false);
    let bar = bars.then(|| {
        let bar = if steps > 0 {
            ProgressBar::new(steps).with_style(
                ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {pos}/{len} {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            )
        } else {
            ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template("{spinner} {msg} {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            )
        };
        bar.set_message(name);
        bar.enable_steady_tick(Duration::from_millis(120));
        if let Ok(mut c) = CURRENT.lock() {
            *c = Some(bar.clone());
        }
        bar
    });
    let ticker = (!bars && tracing::enabled!(tracing::Level::INFO)).then(|| {
        let (tx, rx) = mpsc::channel::<()>();
        let started = Instant::now();
        let h = std::thread::spawn(move || {
            while let Err(RecvTimeoutError::Timeout) = rx.recv_timeout(TICK) {
                tracing::info!(
                    stage = name,
                    elapsed_s = started.elapsed().as_secs(),
                    "stage still running"
                );
            }
        });
        (tx, h)
    });
    Stage {
        name,
        started: Instant::now(),
        steps,
        done: 0,
        bar,
        ticker,
    }
}

impl Stage {
    /// Ends this stage and starts the next one.
    pub fn next(self, name: &'static str, steps: u64) -> Stage {
        drop(self);
        stage(name, steps)
    }

    /// One step of the stage done.
    pub fn advance(&mut self) {
        self.done += 1;
        match &self.bar {
            Some(b) => b.inc(1),
            None => tracing::debug!(
                stage = self.name,
                done = self.done,
                of = self.steps,
                "step done"
            ),
        }
    }
}

impl Drop for Stage {
    fn drop(&mut self) {
        if let Some((tx, h)) = self.ticker.take() {
            let _ = tx.send(());
            let _ = h.join();
        }
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
            if let Ok(mut c) = CURRENT.lock() {
                *c = None;
            }
        }
        tracing::info!(
            stage = self.name,
            ms = self.started.elapsed().as_millis() as u64,
            "stage done"
        );
    }
}

/// Prints a command's text result on stdout. A reader that closed the pipe early (`| head`)
/// has what it wanted: that is not an error, and never a panic as `print!` makes it.
pub fn print_out(text: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            tracing::warn!(error = %e, "writing the result to stdout failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_map_to_levels() {
        assert_eq!(Verbosity::from_flags(true, 2), Verbosity::Quiet);
        assert_eq!(Verbosity::from_flags(false, 0).level(), LevelFilter::INFO);
        assert_eq!(Verbosity::from_flags(false, 1).level(), LevelFilter::DEBUG);
        assert_eq!(Verbosity::from_flags(false, 5).level(), LevelFilter::TRACE);
        assert_eq!(Verbosity::Quiet.level(), LevelFilter::WARN);
    }

    #[test]
    fn a_stage_counts_its_steps_and_stops_its_ticker() {
        let mut s = stage("test stage", 2);
        s.advance();
        s.advance();
        assert_eq!(s.done, 2);
        drop(s); // joins the ticker thread if any: must not hang
    }
}
