//! The sandboxed plugin runtime: one wasmtime `Engine` per process (made on the first call
//! that needs a plugin, so a command that calls none starts no compiler, ticker or linker), a
//! fresh `Store` per call, and limits on everything a plugin can consume (time, memory, output, stderr, log lines).
//! Nothing is granted by default: no environment, no network, no files; a read-only preopen
//! or a host command only for a capability the manifest asks for and the call grants.
//!
//! A plugin is *described* (manifest, API line, digest) without compiling anything, and
//! *prepared* (loaded from the compiled cache and linked) on its first call: a pipeline that
//! uses one plugin pays for one ([`Runtime::describe`]). [`Runtime::load`] prepares at once,
//! for installs and inspections that must prove a plugin links.

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{Config, Engine, Store, Trap};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::cache::CompileCache;
use super::error::{ErrorKind, PluginError};
use super::limiter::InstanceLimiter;
use super::manifest::{self, Capability, Header, Manifest};
use super::memo::{CallMemo, Reads};
use super::types::{Contribution, Grants, GuestError, Integration, Platform, Request};
use super::wit::{self, SOURCE_EXPORT};
use super::{exec, files, metadata};

/// Epoch ticks are this long; deadlines are counted in them.
const TICK: Duration = Duration::from_millis(10);

/// Limits applied to every call. Defaults: 5 s, 128 MiB, 1 MiB of output.
#[derive(Clone, Debug)]
pub struct Limits {
    pub deadline: Duration,
    pub memory: usize,
    /// Total bytes of strings a call may return.
    pub output: usize,
    /// Bytes of guest stderr kept for error messages.
    pub stderr: usize,
    /// Log lines a call may write.
    pub log_lines: usize,
    /// Notes a contribution may carry.
    pub notes: usize,
    /// Requirement lines (or catalogue entries) a call may return.
    pub lines: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            deadline: Duration::from_secs(5),
            memory: 128 << 20,
            output: 1 << 20,
            stderr: 64 << 10,
            log_lines: 200,
            notes: 100,
            lines: 20_000,
        }
    }
}

/// Where a plugin came from.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// Compiled into this host.
    Builtin,
    /// Installed into the user's plugin directory, or loaded from a file.
    Installed(PathBuf),
}

/// A described plugin: its manifest and digest, and its compiled, pre-linked component once
/// it has been prepared.
pub struct Plugin {
    pub manifest: Manifest,
    /// `sha256:<hex>` of the wasm bytes.
    pub digest: String,
    pub origin: Origin,
    /// The API version of this host that serves it.
    pub api: semver::Version,
    pub header: Header,
    /// The component, until it is prepared (built-ins borrow the binary's own bytes).
    wasm: Cow<'static, [u8]>,
    /// The version of the `source` export it was built against (picks the bindings).
    source_api: semver::Version,
    pre: OnceLock<wit::PluginPre<HostState>>,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("manifest", &self.manifest)
            .field("digest", &self.digest)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl Plugin {
    /// `name version`, as errors name it.
    pub fn label(&self) -> String {
        format!("{} {}", self.manifest.name, self.manifest.version)
    }

    /// Whether the component has been loaded and linked (it is on its first call).
    pub fn is_prepared(&self) -> bool {
        self.pre.get().is_some()
    }
}

/// A log line a plugin wrote during a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    pub level: &'static str,
    pub message: String,
}

/// The result of a successful call, with what the plugin logged.
#[derive(Debug)]
pub struct Outcome<T> {
    pub value: T,
    pub logs: Vec<LogLine>,
}

pub struct Runtime {
    cache_dir: PathBuf,
    limits: Limits,
    /// Where successful contributions are remembered, when enabled.
    calls: Option<CallMemo>,
    /// Made by the first call that needs a plugin.
    wasm: OnceLock<Wasm>,
}

/// What running any plugin needs: the engine (with its epoch ticker), the linker holding
/// WASI and the host API, and the compiled-component cache keyed by the engine.
struct Wasm {
    engine: Engine,
    linker: Linker<HostState>,
    cache: CompileCache,
    /// The epoch ticker, started by the first call: not while components are loaded, when a
    /// second thread makes every `mprotect` of their code interrupt another CPU.
    ticker: std::sync::Once,
}

impl Wasm {
    fn new(cache_dir: PathBuf) -> wasmtime::Result<Wasm> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        let engine = Engine::new(&config)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        files::guard_open(&mut linker)?;
        wit::add_to_linker(&mut linker)?;
        let cache = CompileCache::new(cache_dir, &engine);
        Ok(Wasm {
            engine,
            linker,
            cache,
            ticker: std::sync::Once::new(),
        })
    }
}

impl Runtime {
    /// A runtime whose compiled components are cached in `cache_dir`. Nothing wasm is made
    /// until a plugin is first prepared.
    pub fn new(cache_dir: PathBuf, limits: Limits) -> anyhow::Result<Runtime> {
        Ok(Runtime {
            cache_dir,
            limits,
            calls: None,
            wasm: OnceLock::new(),
        })
    }

    /// Remembers successful contributions in `dir` with what each plugin looked at, and
    /// answers a later identical call whose paths are unchanged from there, without wasm
    /// (see `memo`).
    pub fn remember_calls_in(&mut self, dir: PathBuf) {
        self.calls = Some(CallMemo::new(dir));
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// How many components were compiled (not loaded from the cache) by this runtime.
    pub fn compiles(&self) -> usize {
        self.wasm.get().map_or(0, |w| w.cache.compiles())
    }

    /// Whether the wasm engine has been made (some plugin was prepared).
    pub fn is_started(&self) -> bool {
        self.wasm.get().is_some()
    }

    /// The engine, linker and cache, made on first use.
    fn wasm(&self, plugin: &Plugin) -> Result<&Wasm, PluginError> {
        if let Some(wasm) = self.wasm.get() {
            return Ok(wasm);
        }
        let made = Wasm::new(self.cache_dir.clone()).map_err(|e| {
            PluginError::new(
                plugin.label(),
                ErrorKind::Compile(format!("start the wasm engine: {e:#}")),
            )
        })?;
        Ok(self.wasm.get_or_init(|| made))
    }

    /// Checks, compiles (or loads from the cache) and links a plugin. The manifest and the API
    /// line are checked before anything is compiled.
    pub fn load(&self, wasm: &[u8], origin: Origin, label: &str) -> Result<Plugin, PluginError> {
        let plugin = self.describe(Cow::Owned(wasm.to_vec()), origin, label)?;
        self.prepare(&plugin)?;
        Ok(plugin)
    }

    /// Checks a plugin's manifest, API line and exports and computes its digest, without
    /// compiling or linking it: that happens on its first call.
    pub fn describe(
        &self,
        wasm: Cow<'static, [u8]>,
        origin: Origin,
        label: &str,
    ) -> Result<Plugin, PluginError> {
        let digest = hex::encode(Sha256::digest(&wasm));
        self.describe_hashed(wasm, &digest, origin, label)
    }

    /// [`Self::describe`] of a plugin whose sha256 (hex) is known already (the built-ins').
    pub fn describe_hashed(
        &self,
        wasm: Cow<'static, [u8]>,
        digest: &str,
        origin: Origin,
        label: &str,
    ) -> Result<Plugin, PluginError> {
        let header = Header::read(&wasm).map_err(|k| PluginError::new(label, k))?;
        let label = format!("{} {}", header.manifest.name, header.manifest.version);
        let fail = |kind| PluginError::new(label.clone(), kind);
        let api = manifest::check_api(&header.manifest).map_err(fail)?;
        let source_api = header
            .export_version(SOURCE_EXPORT)
            .ok_or_else(|| fail(ErrorKind::MissingExport(format!("{SOURCE_EXPORT}@1.x"))))?;
        if source_api.major != api.major {
            return Err(fail(ErrorKind::IncompatibleApi {
                needs: format!("{source_api} (the version it was built against)"),
                supported: manifest::supported_api(),
            }));
        }
        Ok(Plugin {
            manifest: header.manifest.clone(),
            digest: format!("sha256:{digest}"),
            origin,
            api,
            header,
            wasm,
            source_api,
            pre: OnceLock::new(),
        })
    }

    /// The plugin's linked component: loaded from the compiled cache (or compiled) and
    /// linked on first use, then kept.
    fn prepare<'p>(
        &self,
        plugin: &'p Plugin,
    ) -> Result<&'p wit::PluginPre<HostState>, PluginError> {
        if let Some(pre) = plugin.pre.get() {
            return Ok(pre);
        }
        let fail = |kind| PluginError::new(plugin.label(), kind);
        let wasm = self.wasm(plugin)?;
        let digest = plugin.digest.trim_start_matches("sha256:");
        let component = wasm
            .cache
            .load(&wasm.engine, &plugin.wasm, digest)
            .map_err(|e| fail(ErrorKind::Compile(format!("{e:#}"))))?;
        let instance_pre = wasm
            .linker
            .instantiate_pre(&component)
            .map_err(|e| fail(ErrorKind::Link(format!("{e:#}"))))?;
        let pre = wit::PluginPre::new(&plugin.source_api, instance_pre)
            .map_err(|e| fail(ErrorKind::Link(format!("{e:#}"))))?;
        Ok(plugin.pre.get_or_init(|| pre))
    }

    /// Asks a plugin for its contribution.
    pub fn contribute(
        &self,
        plugin: &Plugin,
        request: &Request,
    ) -> Result<Outcome<Contribution>, PluginError> {
        let grants = effective_grants(plugin, &request.grants)?;
        let memo = self
            .calls
            .as_ref()
            .map(|calls| (calls, CallMemo::key(plugin, request, &grants, &self.limits)));
        if let Some(outcome) = memo.as_ref().and_then(|(calls, key)| calls.recall(key)) {
            return Ok(outcome);
        }
        let started = std::time::SystemTime::now();
        let wit_request = wit::api::Request::from(&Request {
            grants: grants.clone(),
            ..request.clone()
        });
        // Only failures a missing grant can cause (something unavailable, a crash) get the
        // note; a bad name or bad settings are the plugin's own answer.
        let with_hint = |mut e: PluginError| {
            if matches!(
                e.kind,
                ErrorKind::Guest(GuestError::Unavailable(_) | GuestError::Internal(_))
                    | ErrorKind::Crashed(_)
            ) {
                e.hint = ungranted_hint(plugin, &grants);
            }
            e
        };
        let (outcome, reads) = self
            .call(
                plugin,
                &grants,
                request.base_dir.clone(),
                async |store, pre| pre.contribute(store, &wit_request).await,
            )
            .map_err(with_hint)?;
        let fail = |kind| PluginError::new(plugin.label(), kind);
        let contribution: Contribution = match outcome.value {
            Ok(c) => c.into(),
            Err(e) => return Err(with_hint(fail(ErrorKind::Guest(e.into())))),
        };
        check_contribution(&contribution, &self.limits).map_err(fail)?;
        if plugin.origin != Origin::Builtin {
            check_pip_options(&contribution, &grants.pip_options, &plugin.manifest.name)
                .map_err(fail)?;
        }
        let outcome = Outcome {
            value: contribution,
            logs: outcome.logs,
        };
        if let Some((calls, key)) = memo {
            calls.remember(&key, &reads, started, &outcome);
        }
        Ok(outcome)
    }

    /// The integrations a plugin provides (empty for a plain requirement source).
    pub fn catalogue(
        &self,
        plugin: &Plugin,
        platform: &Platform,
    ) -> Result<Outcome<Vec<Integration>>, PluginError> {
        let platform = platform.into();
        let (outcome, _) = self.call(
            plugin,
            &Grants::default(),
            PathBuf::from("/"),
            async |store, pre| pre.integrations(store, &platform).await,
        )?;
        let integrations: Vec<Integration> = outcome.value.into_iter().map(Into::into).collect();
        check_catalogue(&integrations, &self.limits)
            .map_err(|k| PluginError::new(plugin.label(), k))?;
        Ok(Outcome {
            value: integrations,
            logs: outcome.logs,
        })
    }

    /// One call in a fresh store with the limits applied; every failure becomes a
    /// `PluginError` naming the plugin, with the guest's stderr. The deadline is wall-clock
    /// for the whole call: the epoch interrupts the plugin's own code, and a timeout drops the
    /// call wherever it waits in host code (WASI, `host.exec`). Also returns what the plugin
    /// looked at in its grants.
    fn call<R: Send>(
        &self,
        plugin: &Plugin,
        grants: &Grants,
        base_dir: PathBuf,
        f: impl AsyncFnOnce(&mut Store<HostState>, &wit::PluginPre<HostState>) -> wasmtime::Result<R>
        + Send,
    ) -> Result<(Outcome<R>, Reads), PluginError> {
        let pre = self.prepare(plugin)?;
        let stderr = MemoryOutputPipe::new(self.limits.stderr);
        let label = plugin.label();
        let mut store = self.store(plugin, grants, base_dir, stderr.clone())?;
        let deadline = self.limits.deadline;
        let wasm = self.wasm(plugin)?;
        wasm.ticker.call_once(|| start_ticker(&wasm.engine));
        // A runtime of its own, dropped without waiting for WASI's blocking threads; on a
        // thread of its own when the caller is inside an async runtime already (blocking on
        // one there panics). A command's plan calls from plain threads: no thread started.
        let run = || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| wasmtime::Error::msg(format!("start the call's runtime: {e}")))?;
            let result =
                rt.block_on(async { tokio::time::timeout(deadline, f(&mut store, pre)).await });
            rt.shutdown_background();
            let doing = store.data_mut().doing.take();
            Ok::<_, wasmtime::Error>(result.map_err(|_| doing))
        };
        let result = if tokio::runtime::Handle::try_current().is_ok() {
            std::thread::scope(|s| {
                s.spawn(run)
                    .join()
                    .expect("the plugin call's thread does not panic")
            })
        } else {
            run()
        };
        let logs = std::mem::take(&mut store.data_mut().logs);
        let reads = std::mem::take(&mut store.data_mut().reads);
        drop(store);
        let kind = match result {
            Ok(Ok(Ok(value))) => return Ok((Outcome { value, logs }, reads)),
            Ok(Ok(Err(e))) | Err(e) => self.classify(e),
            Ok(Err(doing)) => ErrorKind::TimeoutWhile {
                deadline,
                doing: doing.unwrap_or_else(|| {
                    "waiting in a WASI call (sleeping, a clock or I/O)".to_string()
                }),
            },
        };
        Err(PluginError {
            plugin: label,
            kind,
            stderr: String::from_utf8_lossy(&stderr.contents()).into_owned(),
            hint: None,
        })
    }

    /// A fresh store for one call: its grants, its limits, nothing else.
    fn store(
        &self,
        plugin: &Plugin,
        grants: &Grants,
        base_dir: PathBuf,
        stderr: MemoryOutputPipe,
    ) -> Result<Store<HostState>, PluginError> {
        let label = plugin.label();
        let mut wasi = WasiCtxBuilder::new();
        wasi.stderr(stderr);
        for dir in &grants.read {
            let guest = dir.display().to_string();
            wasi.preopened_dir(dir, &guest, FsPerms::ReadOnly)
                .map_err(|e| {
                    PluginError::new(
                        &label,
                        ErrorKind::Refused(format!("read access to {guest}: {e:#}")),
                    )
                })?;
        }
        let limits = InstanceLimiter::new(self.limits.memory);
        let state = HostState {
            wasi: wasi.build(),
            table: ResourceTable::new(),
            limits,
            exec: grants.exec.clone(),
            env: grants.env.clone(),
            read: grants.read.clone(),
            deadline: metadata::Deadline {
                at: Instant::now() + self.limits.deadline,
                limit: self.limits.deadline,
            },
            base_dir,
            logs: Vec::new(),
            max_logs: self.limits.log_lines,
            exec_output: self.limits.output,
            doing: None,
            plugin: label,
            plugin_name: plugin.manifest.name.clone(),
            reads: Reads::default(),
        };
        let engine = &self.wasm(plugin)?.engine;
        let mut store = Store::new(engine, state);
        store.limiter(|s| &mut s.limits);
        store.set_epoch_deadline(ticks(self.limits.deadline));
        store.epoch_deadline_trap();
        Ok(store)
    }

    fn classify(&self, e: wasmtime::Error) -> ErrorKind {
        let e = match e.downcast::<Stop>() {
            Ok(Stop(kind)) => return kind,
            Err(e) => e,
        };
        match e.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => return ErrorKind::Timeout(self.limits.deadline),
            Some(trap) => return ErrorKind::Crashed(trap.to_string()),
            None => {}
        }
        let text = format!("{e:#}");
        if text.contains("forcing trap when growing memory") {
            ErrorKind::MemoryLimit(self.limits.memory)
        } else {
            ErrorKind::Crashed(text)
        }
    }
}

fn ticks(deadline: Duration) -> u64 {
    (deadline.as_millis() / TICK.as_millis()).max(1) as u64 + 1
}

/// One thread per process advances the epoch; it ends with the engine.
fn start_ticker(engine: &Engine) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("dockwright-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(TICK);
            }
        })
        .expect("spawn the epoch ticker");
}

/// The grants of a call, limited to what the plugin's manifest asks for. A grant of a
/// capability the plugin never asked for is dropped; nothing else is ever granted.
fn effective_grants(plugin: &Plugin, granted: &Grants) -> Result<Grants, PluginError> {
    let asks = &plugin.manifest.capabilities;
    let read = if asks.contains(&Capability::Read) {
        granted.read.clone()
    } else {
        Vec::new()
    };
    let exec: Vec<String> = granted
        .exec
        .iter()
        .filter(|p| asks.contains(&Capability::Exec((*p).clone())))
        .cloned()
        .collect();
    for dir in &read {
        if !dir.is_absolute() {
            return Err(PluginError::new(
                plugin.label(),
                ErrorKind::Refused(format!(
                    "read grant `{}` is not an absolute path",
                    dir.display()
                )),
            ));
        }
    }
    // Variables go only to granted programs: without one, nothing is passed.
    let env = if exec.is_empty() {
        Vec::new()
    } else {
        granted.env.clone()
    };
    Ok(Grants {
        read,
        exec,
        pip_options: granted.pip_options.clone(),
        env,
    })
}

/// For a failed call of a third-party plugin: the capabilities its manifest asks for that
/// this call did not get, and how to grant them. The sandbox only ever shows a plugin
/// "file not found" or "refused", so the user would otherwise not learn that a grant is
/// missing. Built-in plugins get their grants from the settings, so no hint applies.
fn ungranted_hint(plugin: &Plugin, granted: &Grants) -> Option<Box<str>> {
    if plugin.origin == Origin::Builtin {
        return None;
    }
    let name = &plugin.manifest.name;
    let missing: Vec<(String, String)> = plugin
        .manifest
        .capabilities
        .iter()
        .filter_map(|c| match c {
            Capability::Read if granted.read.is_empty() => Some((
                "read".to_string(),
                format!("{{{name}: {{read: [<directory>]}}}}"),
            )),
            Capability::Exec(p) if !granted.exec.contains(p) => {
                Some((format!("exec:{p}"), format!("{{{name}: {{exec: [{p}]}}}}")))
            }
            _ => None,
        })
        .collect();
    if missing.is_empty() {
        return None;
    }
    let asked: Vec<String> = missing.iter().map(|(c, _)| format!("`{c}`")).collect();
    let how: Vec<String> = missing
        .iter()
        .map(|(_, g)| format!("`grants: {g}`"))
        .collect();
    Some(
        format!(
            "plugin `{name}` asks for the capability {} but the pipeline does not grant it; \
         if it needs it, grant it in dockwright.yaml with {}",
            asked.join(", "),
            how.join(" and ")
        )
        .into(),
    )
}

/// Host-side checks of a contribution: its size, and text that could not be written into a
/// requirements file or an apt line as is.
pub(crate) fn check_contribution(c: &Contribution, limits: &Limits) -> Result<(), ErrorKind> {
    let limit = limits.output;
    let size: usize = c
        .requirements
        .iter()
        .map(|r| r.line.len() + r.origin.len())
        .sum::<usize>()
        + c.apt_packages
            .iter()
            .chain(&c.notes)
            .map(String::len)
            .sum::<usize>();
    if size > limit {
        return Err(ErrorKind::OutputTooLarge { size, limit });
    }
    at_most("notes", c.notes.len(), limits.notes)?;
    at_most("requirement lines", c.requirements.len(), limits.lines)?;
    at_most("apt packages", c.apt_packages.len(), limits.lines)?;
    for r in &c.requirements {
        requirement_line(&r.line)?;
        single_line("origin", &r.origin)?;
        if r.line.trim().is_empty() {
            return Err(ErrorKind::MalformedOutput(format!(
                "an empty requirement line (origin `{}`)",
                r.origin
            )));
        }
    }
    for p in &c.apt_packages {
        apt_package(p)?;
    }
    Ok(())
}

fn check_catalogue(integrations: &[Integration], limits: &Limits) -> Result<(), ErrorKind> {
    let limit = limits.output;
    let size: usize = integrations
        .iter()
        .map(|i| {
            i.name.len()
                + i.description.len()
                + i.requirements
                    .iter()
                    .chain(&i.apt_packages)
                    .map(String::len)
                    .sum::<usize>()
        })
        .sum();
    if size > limit {
        return Err(ErrorKind::OutputTooLarge { size, limit });
    }
    at_most("integrations", integrations.len(), limits.lines)?;
    let mut folded = std::collections::HashSet::new();
    for i in integrations {
        integration_name(&i.name)?;
        if !folded.insert(i.name.to_ascii_lowercase()) {
            return Err(ErrorKind::MalformedOutput(format!(
                "two integrations named `{}` but for case",
                i.name
            )));
        }
    }
    for i in integrations {
        single_line("integration name", &i.name)?;
        for r in &i.requirements {
            requirement_line(r)?;
        }
        for p in &i.apt_packages {
            apt_package(p)?;
        }
    }
    Ok(())
}

/// Option lines and direct URL references apply to a whole requirements file and can send
/// every install to another index: a third-party plugin's lines may carry only those the
/// pipeline grants it (`grants: {acme: {pip_options: [extra-index-url]}}`; `url` for direct
/// references). Constraint lines are namespaced by the planner, so they need no grant.
pub(crate) fn check_pip_options(
    c: &Contribution,
    granted: &[String],
    name: &str,
) -> Result<(), ErrorKind> {
    for r in &c.requirements {
        let Some(option) = pip_option(r.line.trim()) else {
            continue;
        };
        if !granted.iter().any(|g| g == option) {
            return Err(ErrorKind::Refused(format!(
                "the requirement line `{}` uses the pip option `{option}`, which applies to \
                 every install of its group; grant it if you trust the plugin: \
                 `grants: {{{name}: {{pip_options: [{option}]}}}}`",
                dockwright_plan::requirements::escape_text(&r.line)
            )));
        }
    }
    Ok(())
}

/// The pip option a line uses (long name), `url` for a direct URL reference, or `None`.
fn pip_option(line: &str) -> Option<&str> {
    if let Some(long) = line.strip_prefix("--") {
        return Some(long.split([' ', '=', '\t']).next().unwrap_or(long));
    }
    if let Some(short) = line.strip_prefix('-') {
        return Some(match short.chars().next() {
            Some('i') => "index-url",
            Some('f') => "find-links",
            Some('e') => "editable",
            Some('r') => "requirement",
            Some('c') => "constraint",
            _ => short.split([' ', '=']).next().unwrap_or(short),
        });
    }
    let requirement = line.split(';').next().unwrap_or(line);
    // A PEP 508 name never holds `@` or `:`; a bare path or URL is a requirement line too.
    let url = requirement.contains('@')
        || requirement.contains("://")
        || requirement.starts_with(['.', '/']);
    url.then_some("url")
}

/// An integration name as ZenML's are: an ASCII identifier (letters, digits, `_`, `-`,
/// starting with a letter), so no two can look alike on screen.
fn integration_name(name: &str) -> Result<(), ErrorKind> {
    let ok = name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(ErrorKind::MalformedOutput(format!(
            "integration name `{}` is not an ASCII identifier (letters, digits, `_`, `-`, \
             starting with a letter, at most 64)",
            dockwright_plan::requirements::escape_text(&name[..name.floor_char_boundary(64)])
        )))
    }
}

/// Empty strings cost the host a string each but count for nothing in the byte limit.
fn at_most(what: &'static str, count: usize, limit: usize) -> Result<(), ErrorKind> {
    if count > limit {
        return Err(ErrorKind::TooMany { what, count, limit });
    }
    Ok(())
}

/// Text shown to the user or written into a file: no control, line-breaking, zero-width or
/// bidi character (see `requirements::hidden_or_breaking`).
fn single_line(what: &str, s: &str) -> Result<(), ErrorKind> {
    if s.chars()
        .any(dockwright_plan::requirements::hidden_or_breaking)
    {
        return Err(ErrorKind::MalformedOutput(format!(
            "{what} `{}` contains a control, line-breaking, zero-width or bidi character",
            dockwright_plan::requirements::escape_text(s)
        )));
    }
    Ok(())
}

/// A requirement line pip and uv read as exactly the one line Dockwright shows.
fn requirement_line(s: &str) -> Result<(), ErrorKind> {
    dockwright_plan::requirements::check_line_text(s).map_err(|reason| {
        ErrorKind::MalformedOutput(format!(
            "requirement `{}` {reason}",
            dockwright_plan::requirements::escape_text(s)
        ))
    })
}

/// An apt package spec, by the same rule the settings and the Dockerfile apply.
fn apt_package(p: &str) -> Result<(), ErrorKind> {
    dockwright_plan::docker_syntax::check_apt_package(p).map_err(ErrorKind::MalformedOutput)
}

/// A host-side limit or refusal that ends the call (raised from host code as a trap).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct Stop(pub ErrorKind);

/// What a store holds during one call.
pub(crate) struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: InstanceLimiter,
    exec: Vec<String>,
    /// Host variables granted programs get besides PATH, HOME and LANG.
    env: Vec<String>,
    /// The directories granted for reading (`host.read-metadata` stays inside them).
    read: Vec<PathBuf>,
    /// When the call must end: host code that cannot be interrupted looks at it.
    deadline: metadata::Deadline,
    base_dir: PathBuf,
    logs: Vec<LogLine>,
    max_logs: usize,
    /// Bytes each of a granted program's stdout and stderr may hold.
    exec_output: usize,
    /// What the plugin waits for in host code, named when the deadline stops it there.
    doing: Option<String>,
    plugin: String,
    /// The manifest name, as `grants:` keys plugins.
    plugin_name: String,
    /// What the plugin looked at, for remembering the call.
    pub(super) reads: Reads,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

use wit::host_api as wit_host;

impl wit_host::Host for HostState {
    async fn log(&mut self, level: wit_host::LogLevel, message: String) -> wasmtime::Result<()> {
        if self.logs.len() >= self.max_logs {
            return Ok(());
        }
        let level = match level {
            wit_host::LogLevel::Debug => "debug",
            wit_host::LogLevel::Info => "info",
            wit_host::LogLevel::Warn => "warn",
            wit_host::LogLevel::Error => "error",
        };
        // A copy of the kept prefix: truncating would keep the whole allocation alive.
        let message = message[..message.floor_char_boundary(4096)].to_owned();
        self.logs.push(LogLine { level, message });
        Ok(())
    }

    async fn exec(
        &mut self,
        program: String,
        args: Vec<String>,
    ) -> wasmtime::Result<Result<wit_host::ExecOutput, String>> {
        if !self.exec.contains(&program) {
            return Ok(Err(format!(
                "running `{program}` was refused: the pipeline did not grant it to plugin {}. \
                 Grant it in dockwright.yaml: `grants: {{{}: {{exec: [{program}]}}}}`",
                self.plugin, self.plugin_name
            )));
        }
        // What a program does cannot be checked again later.
        self.reads.untrack();
        self.doing = Some(format!("waiting for `{program}` it ran"));
        let ran = exec::run(&program, &args, &self.base_dir, &self.env, self.exec_output).await;
        self.doing = None;
        Ok(ran.map_err(Stop)?.map(|ran| wit_host::ExecOutput {
            status: ran.status,
            stdout: ran.stdout,
            stderr: ran.stderr,
        }))
    }

    async fn host_api_version(&mut self) -> wasmtime::Result<String> {
        Ok(manifest::HOST_API[0].to_string())
    }

    async fn read_metadata(
        &mut self,
        dir: String,
    ) -> wasmtime::Result<Result<wit_host::MetadataListing, String>> {
        // Which files this read is not recorded: such a call is never remembered.
        self.reads.untrack();
        // On this thread, not handed to a blocking one: one call instead of thousands.
        Ok(metadata::read(&self.read, &dir, self.deadline).map_err(Stop)?)
    }
}

impl wit::api::Host for HostState {}

#[cfg(test)]
mod tests {
    use super::*;

    fn integration(name: &str) -> Integration {
        Integration {
            name: name.into(),
            requirements: vec![],
            apt_packages: vec![],
            description: String::new(),
        }
    }

    #[test]
    fn integration_names_are_ascii_identifiers_without_case_only_twins() {
        let limits = Limits::default();
        let check = |names: &[&str]| {
            let all: Vec<Integration> = names.iter().map(|n| integration(n)).collect();
            check_catalogue(&all, &limits)
        };
        assert!(check(&["sklearn", "pytorch_lightning", "great-expectations"]).is_ok());
        for bad in [
            &["skl\u{0435}arn"][..],
            &["sklearn\u{202e}"],
            &["sklearn", "Sklearn"],
            &["1password"],
            &[""],
        ] {
            let err = check(bad).unwrap_err();
            assert!(matches!(err, ErrorKind::MalformedOutput(_)), "{bad:?}");
            assert!(!err.to_string().contains('\u{202e}'), "{err}");
        }
    }

    #[test]
    fn an_apt_value_with_a_bad_architecture_is_refused_at_the_boundary() {
        let c = Contribution {
            apt_packages: vec!["git:amd_64".into()],
            ..Contribution::default()
        };
        let err = check_contribution(&c, &Limits::default()).unwrap_err();
        assert!(matches!(err, ErrorKind::MalformedOutput(_)), "{err}");
    }
}
