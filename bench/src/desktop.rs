//! The desktop app (DESIGN §8): time from launch to an interactive sign-in
//! screen, memory once idle, installer sizes.
//!
//! The app is launched through WebDriver (tauri-driver + WebKitWebDriver),
//! the same way as the end-to-end suite, so "interactive" is observed from
//! outside: the sign-in screen shows the configured provider, which happens
//! only after the front end has loaded, asked the Rust side for the settings
//! and the keyring for a session. The time includes the WebDriver session's
//! own start, so it is an upper bound. Needs a display and a D-Bus session
//! with a Secret Service: scripts/bench runs this under Xvfb and
//! gnome-keyring.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// What the desktop part of a run measured.
#[derive(Debug, Default, Clone)]
pub struct DesktopFigures {
    /// Launch to interactive, one entry per launch, in milliseconds.
    pub launches_ms: Vec<f64>,
    /// Proportional set size of the app and its WebKit processes, idle on
    /// the sign-in screen, in MiB (shared pages counted once overall).
    pub idle_pss_mib: f64,
    /// The anonymous part of `idle_pss_mib` (heaps, stacks: memory of the
    /// app's own); the rest is file pages, mostly WebKitGTK's, GTK's and
    /// ICU's libraries and data, shared with every program that maps them.
    pub idle_pss_anon_mib: f64,
    /// The part of `idle_pss_mib` in the GL driver's libraries (Mesa's
    /// DRI driver and the LLVM it links), which WebKitGTK loads in its web
    /// process (the app's own process is kept without GL, see
    /// src-tauri/src/webview.rs): on this machine, software rendering under
    /// Xvfb.
    pub idle_pss_gl_mib: f64,
    /// Processes counted in `idle_pss_mib`.
    pub processes: usize,
    /// Installer name and size in MiB.
    pub installers: Vec<(String, f64)>,
    /// Why there is no launch figure, when there is none.
    pub missing: Option<String>,
}

impl DesktopFigures {
    pub fn launch_p50_ms(&self) -> f64 {
        percentile(&self.launches_ms, 0.5)
    }

    pub fn launch_max_ms(&self) -> f64 {
        self.launches_ms.iter().copied().fold(0.0, f64::max)
    }
}

fn percentile(samples: &[f64], q: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    s[((s.len() - 1) as f64 * q).round() as usize]
}

/// The selector that appears once the sign-in screen is interactive.
const READY: &str = "[data-testid=provider]";
/// How long the app idles before its memory is read.
const IDLE: Duration = Duration::from_secs(5);

pub async fn measure(app: &Path, issuer: &str, launches: usize) -> DesktopFigures {
    let mut figures = DesktopFigures {
        installers: installers(),
        ..DesktopFigures::default()
    };
    if let Err(why) = launch_all(app, issuer, launches, &mut figures).await {
        figures.missing = Some(why);
    }
    figures
}

async fn launch_all(
    app: &Path,
    issuer: &str,
    launches: usize,
    figures: &mut DesktopFigures,
) -> Result<(), String> {
    if !app.is_file() {
        return Err(format!(
            "{} is not built (scripts/bench builds it)",
            app.display()
        ));
    }
    if std::env::var_os("DISPLAY").is_none() {
        return Err("no display (scripts/bench runs this under Xvfb)".into());
    }
    let home = tempfile::tempdir().map_err(|e| e.to_string())?;
    let config_dir = home.path().join("config/tessera");
    std::fs::create_dir_all(&config_dir).map_err(|e| e.to_string())?;
    std::fs::write(
        config_dir.join("config.toml"),
        format!("issuer = \"{issuer}\"\nlanguage = \"en\"\n"),
    )
    .map_err(|e| e.to_string())?;
    let driver = Driver::start(home.path())?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| e.to_string())?;
    driver.wait_ready(&http).await?;
    for i in 0..launches {
        let started = Instant::now();
        let session = driver
            .post(
                &http,
                "/session",
                json!({"capabilities": {"alwaysMatch": {"tauri:options": {"application": app}}}}),
            )
            .await?;
        let id = session["sessionId"]
            .as_str()
            .ok_or("the WebDriver session has no id")?
            .to_owned();
        let found = wait_for(&driver, &http, &id, READY, Duration::from_secs(30)).await;
        let elapsed = started.elapsed();
        if found.is_ok() {
            figures.launches_ms.push(elapsed.as_secs_f64() * 1000.0);
        }
        // Memory once, after the first launch, when the app has idled.
        if found.is_ok() && i == 0 {
            tokio::time::sleep(IDLE).await;
            let (pss, count) = app_memory(app)?;
            figures.idle_pss_mib = pss.total_kib as f64 / 1024.0;
            figures.idle_pss_anon_mib = pss.anon_kib as f64 / 1024.0;
            figures.idle_pss_gl_mib = pss.gl_kib as f64 / 1024.0;
            figures.processes = count;
        }
        let _ = http
            .delete(format!("{}/session/{id}", driver.base))
            .send()
            .await;
        found?;
        // Let the previous instance exit before the next launch.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Ok(())
}

async fn wait_for(
    driver: &Driver,
    http: &reqwest::Client,
    session: &str,
    css: &str,
    within: Duration,
) -> Result<(), String> {
    let until = Instant::now() + within;
    loop {
        let path = format!("/session/{session}/element");
        match driver
            .post(http, &path, json!({"using": "css selector", "value": css}))
            .await
        {
            Ok(_) => return Ok(()),
            Err(e) if Instant::now() > until => {
                return Err(format!("the sign-in screen did not appear: {e}"));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// tauri-driver on a free port, its children in `home`.
struct Driver {
    child: Child,
    base: String,
}

impl Driver {
    fn start(home: &Path) -> Result<Driver, String> {
        let port = free_port()?;
        let native = free_port()?;
        let exe = std::env::var_os("TAURI_DRIVER")
            .map(PathBuf::from)
            .or_else(|| which("tauri-driver"))
            .or_else(|| {
                std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin/tauri-driver"))
            })
            .filter(|p| p.is_file())
            .ok_or("tauri-driver is not installed (cargo install tauri-driver --locked)")?;
        let child = Command::new(exe)
            .args(["--port", &port.to_string()])
            .args(["--native-port", &native.to_string()])
            .env("HOME", home)
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_DATA_HOME", home.join("data"))
            .env("XDG_CACHE_HOME", home.join("cache"))
            // The app picks its WebKitGTK renderer itself: it is measured
            // as a user launches it.
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start tauri-driver: {e}"))?;
        Ok(Driver {
            child,
            base: format!("http://127.0.0.1:{port}"),
        })
    }

    async fn wait_ready(&self, http: &reqwest::Client) -> Result<(), String> {
        for _ in 0..100 {
            if http
                .get(format!("{}/status", self.base))
                .send()
                .await
                .is_ok()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err("tauri-driver did not answer".into())
    }

    async fn post(&self, http: &reqwest::Client, path: &str, body: Value) -> Result<Value, String> {
        let resp = http
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = resp.status();
        let v: Value = resp.json().await.map_err(|e| e.to_string())?;
        if !status.is_success() || v["value"].get("error").is_some() {
            return Err(format!("{status} {}", v["value"]));
        }
        Ok(v["value"].clone())
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// PSS in KiB of the running `app` and every descendant (WebKit's web and
/// network processes), and how many processes that is.
/// Proportional set size of a group of processes, in KiB.
#[derive(Debug, Default, Clone, Copy)]
struct Pss {
    total_kib: u64,
    anon_kib: u64,
    gl_kib: u64,
}

/// Whether a mapped file is part of the GL driver (Mesa) rather than of
/// WebKitGTK, GTK or the app.
fn is_gl_driver(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    path.contains("/dri/")
        || [
            "libLLVM",
            "libgallium",
            "libEGL_mesa",
            "libGLX_mesa",
            "libglapi",
        ]
        .iter()
        .any(|prefix| name.starts_with(prefix))
}

/// The PSS in KiB of the GL driver's mappings in a process's `smaps`.
fn gl_driver_pss_kib(smaps: &str) -> u64 {
    let mut in_driver = false;
    let mut kib = 0;
    for line in smaps.lines() {
        if let Some(kb) = line.strip_prefix("Pss:") {
            if in_driver {
                kib += kb
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .unwrap_or(0);
            }
        } else if line.split_whitespace().next().is_some_and(|f| {
            f.contains('-') && f.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
        }) {
            // A mapping's header: address range, perms, offset, device,
            // inode, then the path (if any).
            in_driver = line.split_whitespace().nth(5).is_some_and(is_gl_driver);
        }
    }
    kib
}

fn app_memory(app: &Path) -> Result<(Pss, usize), String> {
    let app = std::fs::canonicalize(app).map_err(|e| e.to_string())?;
    let mut parents = Vec::new();
    for entry in std::fs::read_dir("/proc").map_err(|e| e.to_string())? {
        let Ok(pid) = entry
            .map_err(|e| e.to_string())?
            .file_name()
            .to_string_lossy()
            .parse::<u32>()
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // The parent pid follows the command name, which may hold spaces.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok())
            .unwrap_or(0);
        parents.push((pid, ppid));
    }
    let roots: Vec<u32> = parents
        .iter()
        .map(|&(pid, _)| pid)
        .filter(|pid| std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| exe == app))
        .collect();
    if roots.is_empty() {
        return Err("the app's process was not found".into());
    }
    let mut members = roots.clone();
    let mut i = 0;
    while i < members.len() {
        let parent = members[i];
        members.extend(
            parents
                .iter()
                .filter(|&&(_, ppid)| ppid == parent)
                .map(|&(pid, _)| pid),
        );
        i += 1;
    }
    let mut pss = Pss::default();
    for pid in &members {
        let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
            .map_err(|e| format!("cannot read the memory of process {pid}: {e}"))?;
        let field = |name: &str| {
            rollup
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .unwrap_or(0)
        };
        pss.total_kib += field("Pss:");
        pss.anon_kib += field("Pss_Anon:");
        // Gone meanwhile: counted as no driver rather than failing the run.
        pss.gl_kib += std::fs::read_to_string(format!("/proc/{pid}/smaps"))
            .map_or(0, |smaps| gl_driver_pss_kib(&smaps));
    }
    Ok((pss, members.len()))
}

/// The installers scripts/package left in artifacts/installers/.
fn installers() -> Vec<(String, f64)> {
    let mut out: Vec<(String, f64)> = std::fs::read_dir("artifacts/installers")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let size = e.metadata().ok()?.len();
            (name.ends_with(".deb") || name.ends_with(".rpm"))
                .then(|| (name, size as f64 / (1024.0 * 1024.0)))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gl_drivers_mappings_are_told_from_webkits() {
        let smaps = "\
7f00a0000000-7f00a1000000 r-xp 00000000 08:01 1234 /usr/lib/x86_64-linux-gnu/libLLVM-15.so.1
Size:              16384 kB
Pss:                9000 kB
Pss_Anon:              0 kB
7f00a2000000-7f00a2100000 r-xp 00000000 08:01 1235 /usr/lib/x86_64-linux-gnu/dri/swrast_dri.so
Pss:                 800 kB
7f00a3000000-7f00a4000000 r-xp 00000000 08:01 1236 /usr/lib/x86_64-linux-gnu/libwebkit2gtk-4.1.so.0.19.9
Pss:               12000 kB
7f00a5000000-7f00a5100000 rw-p 00000000 00:00 0
Pss:                 500 kB
7f00a6000000-7f00a6100000 r--p 00000000 08:01 1237 /usr/lib/x86_64-linux-gnu/libEGL_mesa.so.0.0.0
Pss:                  40 kB
";
        assert_eq!(gl_driver_pss_kib(smaps), 9000 + 800 + 40);
        assert!(!is_gl_driver("/usr/lib/x86_64-linux-gnu/libGL.so.1"));
        assert_eq!(gl_driver_pss_kib(""), 0);
    }

    #[test]
    fn percentiles_pick_a_sample() {
        let s = [300.0, 100.0, 200.0, 500.0, 400.0];
        assert_eq!(percentile(&s, 0.5), 300.0);
        assert_eq!(percentile(&s, 1.0), 500.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
    }

    #[test]
    fn this_process_tree_has_memory() {
        let me = std::env::current_exe().unwrap();
        let (pss, count) = app_memory(&me).unwrap();
        assert!(count >= 1);
        assert!(pss.anon_kib > 0);
        assert!(pss.total_kib > pss.anon_kib);
    }
}
