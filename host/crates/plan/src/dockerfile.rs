//! The generated Dockerfile (DESIGN.md §5): pure text from a [`DockerfileInput`], no I/O.
//!
//! Order, least volatile first: `FROM` → `USER root` → `WORKDIR /app` → `ARG`s → `ENV`
//! (environment, which installs may read, e.g. a private index) → one setup `RUN` (the
//! permissions of `/app`, the apt line, the installer bootstrap, joined with `&&`: each
//! `RUN` is a container and a layer commit) → per requirements file `COPY` (after the constraints
//! files and the local paths it names) + install → `COPY . .` → local project install →
//! `chown`/`USER` → runtime `ENV`. The local project install comes *after* the source files
//! are copied (DESIGN.md lists it before): a command such as `pip install -e .` needs the
//! project in the image, which is why ZenML orders it this way too.
//!
//! Decisions:
//! - **Installs work on three kinds of parent.** pip runs as `python3 -m pip` (Debian has
//!   no `python`), prefixed with `PIP_BREAK_SYSTEM_PACKAGES=1` so a distribution Python
//!   marked externally managed (PEP 668) accepts the install; the variable is set on the
//!   `RUN` line only, so it does not leak into the running image, and pips too old to know
//!   it ignore it (a `--break-system-packages` flag would make them fail). uv is pointed
//!   at the interpreter explicitly, `--python "$(command -v python3 || command -v python)"`,
//!   which is the active virtualenv's when `VIRTUAL_ENV`/`PATH` point into one and the
//!   system's otherwise (where a bare `uv pip install` would refuse: "no virtual
//!   environment found"), with `--break-system-packages` for the PEP 668 case (harmless
//!   in a venv). Creating a venv in the image instead was rejected: Debian ships
//!   `python3-venv` separately, and step commands would run a different Python than the
//!   parent's.
//! - **The local project install runs where the install lines run**: the user's command is
//!   preceded by `export` of what the install lines pass as flags — `PIP_BREAK_SYSTEM_PACKAGES`
//!   (PEP 668), `UV_PYTHON` (the active `python3`: the virtualenv's when `PATH` points into
//!   one, else the system's, where a bare `uv pip install` finds no environment) and
//!   `UV_BREAK_SYSTEM_PACKAGES` — so ZenML's documented `uv pip install --no-deps -e .` and
//!   `pip install -e .` work unchanged on all three kinds of parent. A value the user set in
//!   `environment` for `UV_PYTHON` wins.
//! - **uv is bootstrapped only when missing**: `command -v uv || python3 -m pip install uv`,
//!   also when only the local project install command runs uv.
//! - **A non-root parent** (`USER 1000` in a user Dockerfile) still installs: the build runs
//!   as `root` and gives the image back to the parent's user at the end (`USER
//!   ${DOCKWRIGHT_PARENT_USER}`, the build argument `build` sets from the parent's config;
//!   `0` when built by hand). That user owns `/app` (`chown` in the setup `RUN`, on the
//!   directory only) and the files copied into it (`COPY --chown`), so a step can write
//!   there. ZenML's `chmod -R a+rw .` would copy every file into a new layer, and fails as a
//!   non-root user anyway. A parent that runs as root needs none of this, and on the
//!   classic builder each of those instructions costs seconds: [`Dockerfile::for_root_parent`]
//!   leaves them out, and `build` sends it when the parent's config says root (the parent's
//!   identity is part of the reuse decision, so the choice is too).
//! - **A group that only gained lines since an earlier build** is installed in two steps: the
//!   earlier build's file as it was (the engine reuses that install layer), then the whole
//!   group from it and a file of the added lines, so adding one package installs about one
//!   package ([`crate::install_history`] decides, from what earlier builds installed).
//! - **Local paths a requirements file names** (`./libs/x`, `-e .`) are copied just before
//!   the install of that file, each once, so that only a change under them reinstalls it;
//!   when the project root itself is named, the later `COPY . .` is not repeated.
//! - **Installer args** are ZenML's: defaults (`pip`: `--no-cache-dir
//!   --default-timeout=60`; `uv`: `--no-cache-dir`) overlaid by
//!   `python_package_installer_args`; `null`/`true` give `--key`, a value `--key=value`
//!   (shell-quoted when needed), a list one `--key=v` per item, `false` removes the option.
//!   A cache mount (`RUN --mount=…`, the only BuildKit feature used) drops `no-cache-dir`,
//!   so that the installer's cache outlives the build: a rebuild after adding a package
//!   downloads that package only. uv then copies from its cache (`UV_LINK_MODE=copy` on the
//!   line: the mount cannot be hard-linked into the image's filesystem).
//! - **One `ENV` instruction per place** (before the installs, and the runtime environment at
//!   the end), one `KEY="value"` pair per continuation line: each instruction is a step of
//!   its own on the classic builder.
//! - **ENV values survive exactly**: written in double quotes with `\\`, `\"` and `\$`
//!   escaped (the only escapes Docker's word lexer knows inside double quotes; `$` would
//!   otherwise expand). A Dockerfile line cannot hold a newline, so `\n` and `\r` are
//!   written as `${DOCKWRIGHT_NEWLINE}` / `${DOCKWRIGHT_CR}`, build arguments declared
//!   with `ARG` whose values [`Dockerfile::build_args`] carries and the engine must pass.
//! - Everything else put into a line is validated (image reference, user, apt package
//!   names, file names) or shell-quoted, so no value can end an instruction early or add
//!   one: apt packages and installer args can come from third-party plugins.
//! - apt packages are de-duplicated (first occurrence kept), installed with
//!   `--no-install-recommends`, and the apt lists and caches removed in the same layer.
//! - No `# syntax=` line (it would make the engine pull a frontend image), no
//!   `ENTRYPOINT`: steps give their command when they run.

use std::collections::{BTreeMap, BTreeSet};

use crate::docker_syntax::{
    check_apt_package, check_context_path, check_env_key, check_env_value, check_image_reference,
    check_installer_option, check_single_line, check_user, shell_quote,
};
use crate::settings::{
    DockerSettings, EnvVars, InstallerArg, InstallerArgs, PythonPackageInstaller,
};

/// Build argument carrying a newline into `ENV` values.
pub(crate) const NEWLINE_ARG: &str = "DOCKWRIGHT_NEWLINE";
/// Build argument carrying a carriage return into `ENV` values.
pub(crate) const CARRIAGE_RETURN_ARG: &str = "DOCKWRIGHT_CR";
/// Build argument carrying the parent image's user (its config's `User`, `0` for none),
/// which `build` sets: the generated image's files belong to it and it runs the steps.
pub const PARENT_USER_ARG: &str = "DOCKWRIGHT_PARENT_USER";

/// Whether an image config's `User` (`""` when unset) runs as root with root's group: then
/// [`Dockerfile::for_root_parent`] builds the same image as [`Dockerfile::text`]. A group
/// other than root's (`0:1000`) is not: the handover gives the files that group.
pub fn is_root_user(user: &str) -> bool {
    let is_root = |name: &str| name == "0" || name == "root";
    match user.split_once(':') {
        None => user.is_empty() || is_root(user),
        Some((name, group)) => is_root(name) && is_root(group),
    }
}

/// Everything the generated Dockerfile depends on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DockerfileInput {
    /// The `FROM` image.
    pub parent: String,
    /// Names of build arguments to declare (`ARG`), from the build options.
    pub build_args: Vec<String>,
    pub environment: EnvVars,
    /// From the settings and every plugin; de-duplicated here.
    pub apt_packages: Vec<String>,
    pub installer: PythonPackageInstaller,
    /// The user's args; the installer's defaults are added when rendering.
    pub installer_args: InstallerArgs,
    pub cache_mount: Option<String>,
    /// Requirements files in the context, in install order (see [`Group::file`]).
    pub requirement_files: Vec<String>,
    /// The constraints files a requirements file names with `-c` (context paths), copied
    /// into the image just before it so that the installer finds them.
    pub constraint_files: BTreeMap<String, Vec<String>>,
    /// The local paths (context paths, `.` for the root) a requirements file names, copied
    /// into the image just before it is installed.
    pub local_paths: BTreeMap<String, Vec<String>>,
    /// Requirements file → the file of the lines added since an earlier build installed it
    /// (see [`crate::install_history`]): copied after its install, then the whole group is
    /// installed again from both.
    pub added_files: BTreeMap<String, String>,
    pub local_project_install_command: Option<String>,
    /// Whether the build context's files are copied into `/app`.
    pub include_files: bool,
    pub user: Option<String>,
    pub runtime_environment: EnvVars,
}

impl DockerfileInput {
    /// The input for `settings` on `parent`, with the requirements files and the merged
    /// apt packages the planner gathered.
    pub(crate) fn from_settings(
        parent: impl Into<String>,
        settings: &DockerSettings,
        requirement_files: Vec<String>,
        apt_packages: Vec<String>,
    ) -> Self {
        let build_args = settings
            .main_build_config()
            .build_options
            .and_then(|options| options.build_args)
            .map(|args| args.into_keys().collect())
            .unwrap_or_default();
        DockerfileInput {
            parent: parent.into(),
            build_args,
            environment: settings.environment.clone(),
            apt_packages,
            installer: settings.python_package_installer,
            installer_args: settings.python_package_installer_args.clone(),
            cache_mount: settings.python_package_installer_cache_mount.clone(),
            requirement_files,
            constraint_files: BTreeMap::new(),
            local_paths: BTreeMap::new(),
            added_files: BTreeMap::new(),
            local_project_install_command: settings.local_project_install_command.clone(),
            include_files: settings.includes_files(),
            user: settings.user.clone(),
            runtime_environment: settings.runtime_environment.clone(),
        }
    }
}

/// A rendered Dockerfile and the build arguments it needs (pass them to every build).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dockerfile {
    pub text: String,
    /// The same Dockerfile without what only a non-root parent needs (`USER root`, the
    /// parent-user argument, `chown` and `--chown`, the final `USER`): what `build` sends
    /// when the parent runs as root. On the classic builder every instruction is a
    /// container and a commit that walks the whole file system, seconds each after the
    /// installs, and these would change nothing.
    pub for_root_parent: String,
    pub build_args: BTreeMap<String, String>,
}

/// A value that cannot be written into a Dockerfile safely.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot write {what} `{value}` into the Dockerfile: {reason}")]
pub struct DockerfileError {
    pub what: &'static str,
    pub value: String,
    pub reason: String,
}

fn invalid(what: &'static str, value: &str, reason: impl Into<String>) -> DockerfileError {
    DockerfileError {
        what,
        value: value.escape_debug().to_string(),
        reason: reason.into(),
    }
}

/// Renders the Dockerfile, and its variant for a parent that runs as root.
pub(crate) fn render(input: &DockerfileInput) -> Result<Dockerfile, DockerfileError> {
    check(input)?;
    let (text, build_args) = render_text(input, Handover::ToParentUser);
    let (for_root_parent, _) = render_text(input, Handover::None);
    Ok(Dockerfile {
        text,
        for_root_parent,
        build_args,
    })
}

/// Whether the Dockerfile hands the image back to the parent's user.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Handover {
    /// Build as root, give `/app` and the copied files to `${DOCKWRIGHT_PARENT_USER}` and
    /// end as that user: right for any parent.
    ToParentUser,
    /// The parent runs as root: those lines would change nothing.
    None,
}

fn render_text(input: &DockerfileInput, handover: Handover) -> (String, BTreeMap<String, String>) {
    let hands_over = handover == Handover::ToParentUser;
    let mut lines = vec![format!("FROM {}", input.parent)];
    if hands_over {
        lines.push("USER root".to_owned());
    }
    lines.push("WORKDIR /app".to_owned());
    let mut build_args = BTreeMap::new();
    let all_env = input
        .environment
        .values()
        .chain(input.runtime_environment.values());
    for value in all_env {
        if value.contains('\n') {
            build_args.insert(NEWLINE_ARG.to_owned(), "\n".to_owned());
        }
        if value.contains('\r') {
            build_args.insert(CARRIAGE_RETURN_ARG.to_owned(), "\r".to_owned());
        }
    }
    lines.extend(input.build_args.iter().map(|name| format!("ARG {name}")));
    lines.extend(build_args.keys().map(|name| format!("ARG {name}")));
    if hands_over {
        lines.push(format!("ARG {PARENT_USER_ARG}=0"));
    }
    lines.extend(env_lines(&input.environment));
    lines.extend(setup_line(input, handover));
    let (install, copied_root) = install_lines(input, handover);
    lines.extend(install);
    if input.include_files && !copied_root {
        lines.push(format!("COPY{} . .", chown(handover)));
    }
    if let Some(command) = &input.local_project_install_command {
        lines.push(format!(
            "{} export {PROJECT_INSTALL_ENV}; {command}",
            run_directive(input)
        ));
    }
    match &input.user {
        Some(user) => {
            lines.push(format!("RUN chown -R {user} ."));
            lines.push(format!("USER {user}"));
        }
        None if hands_over => lines.push(format!("USER ${{{PARENT_USER_ARG}}}")),
        None => {}
    }
    lines.extend(env_lines(&input.runtime_environment));
    let mut text = lines.join("\n");
    text.push('\n');
    (text, build_args)
}

/// What `COPY` adds after its name: the copied files go to the image's user (see the module
/// doc).
fn chown(handover: Handover) -> &'static str {
    match handover {
        Handover::ToParentUser => " --chown=${DOCKWRIGHT_PARENT_USER}",
        Handover::None => "",
    }
}

/// What the local project install command runs with: what the install lines pass as flags
/// and prefixes (see the module doc).
const PROJECT_INSTALL_ENV: &str = "PIP_BREAK_SYSTEM_PACKAGES=1 PIP_ROOT_USER_ACTION=ignore UV_BREAK_SYSTEM_PACKAGES=1 UV_PYTHON=\"${UV_PYTHON:-$(command -v python3 || command -v python)}\"";

fn check(input: &DockerfileInput) -> Result<(), DockerfileError> {
    check_image_reference(&input.parent).map_err(|r| invalid("parent image", &input.parent, r))?;
    for name in &input.build_args {
        check_env_key(name).map_err(|r| invalid("build argument", name, r))?;
    }
    for (key, value) in input.environment.iter().chain(&input.runtime_environment) {
        check_env_key(key).map_err(|r| invalid("environment variable", key, r))?;
        check_env_value(value).map_err(|r| invalid("environment value", value, r))?;
    }
    for package in &input.apt_packages {
        check_apt_package(package).map_err(|r| invalid("apt package", package, r))?;
    }
    for (key, value) in &input.installer_args.0 {
        check_installer_option(key).map_err(|r| invalid("installer option", key, r))?;
        let values: &[String] = match value {
            InstallerArg::Value(v) => std::slice::from_ref(v),
            InstallerArg::Values(vs) => vs,
            InstallerArg::Flag | InstallerArg::Off => &[],
        };
        for v in values {
            check_single_line(v).map_err(|r| invalid("installer option value", v, r))?;
        }
    }
    if let Some(mount) = &input.cache_mount
        && (mount.is_empty() || mount.chars().any(char::is_whitespace))
    {
        return Err(invalid(
            "cache mount",
            mount,
            "must be one word, e.g. type=cache,target=/root/.cache/uv",
        ));
    }
    for file in &input.requirement_files {
        check_context_path(file).map_err(|r| invalid("requirements file", file, r))?;
    }
    for file in input.constraint_files.values().flatten() {
        check_context_path(file).map_err(|r| invalid("constraints file", file, r))?;
    }
    for path in input.local_paths.values().flatten() {
        check_context_path(path).map_err(|r| invalid("local path", path, r))?;
    }
    for file in input.added_files.values() {
        check_context_path(file).map_err(|r| invalid("requirements file", file, r))?;
    }
    if let Some(command) = &input.local_project_install_command {
        check_single_line(command)
            .map_err(|r| invalid("local project install command", command, r))?;
    }
    if let Some(user) = &input.user {
        check_user(user).map_err(|r| invalid("user", user, r))?;
    }
    Ok(())
}

/// One `ENV` instruction for all of `environment` (none when it is empty), a pair per
/// continuation line: the classic builder commits a layer-less image per instruction, which
/// costs about a second each on a real engine.
fn env_lines(environment: &EnvVars) -> impl Iterator<Item = String> + '_ {
    let pairs: Vec<String> = environment
        .iter()
        .map(|(key, value)| format!("{key}={}", quote_env_value(value)))
        .collect();
    (!pairs.is_empty())
        .then(|| format!("ENV {}", pairs.join(" \\\n    ")))
        .into_iter()
}

/// Double-quotes a value for Docker's `ENV` (see the module doc).
pub(crate) fn quote_env_value(value: &str) -> String {
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('"');
    for c in value.chars() {
        match c {
            '\\' | '"' | '$' => {
                quoted.push('\\');
                quoted.push(c);
            }
            '\n' => quoted.push_str(&format!("${{{NEWLINE_ARG}}}")),
            '\r' => quoted.push_str(&format!("${{{CARRIAGE_RETURN_ARG}}}")),
            _ => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// One `RUN` for what the image needs once, before its installs: `/app` given to the image's
/// user, the apt packages, the uv bootstrap. One step instead of three: on the classic builder
/// every `RUN` costs a container and a layer commit, seconds each on a real engine.
fn setup_line(input: &DockerfileInput, handover: Handover) -> Option<String> {
    let mut commands = Vec::new();
    if handover == Handover::ToParentUser {
        commands.push(format!("chown \"${PARENT_USER_ARG}\" /app"));
    }
    commands.extend(apt_command(&input.apt_packages));
    if needs_uv(input) {
        // Braces: `a && b || c` would install uv when `a` failed, and hide the failure.
        commands.push(format!(
            "{{ command -v uv >/dev/null 2>&1 || {PIP} --no-cache-dir uv; }}"
        ));
    }
    (!commands.is_empty()).then(|| format!("RUN {}", commands.join(" && ")))
}

fn apt_command(packages: &[String]) -> Option<String> {
    let mut seen = BTreeSet::new();
    let unique: Vec<String> = packages
        .iter()
        .filter(|p| seen.insert(p.as_str()))
        .map(|p| shell_quote(p))
        .collect();
    if unique.is_empty() {
        return None;
    }
    Some(format!(
        "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends {} && rm -rf {APT_LEFTOVERS}",
        unique.join(" ")
    ))
}

/// Whether uv must be in the image: it installs the requirements, or the local project
/// install command runs it.
fn needs_uv(input: &DockerfileInput) -> bool {
    let installs_anything =
        !input.requirement_files.is_empty() || input.local_project_install_command.is_some();
    let command_runs_uv = input
        .local_project_install_command
        .as_deref()
        .is_some_and(runs_uv);
    (input.installer == PythonPackageInstaller::Uv && installs_anything) || command_runs_uv
}

/// What apt leaves behind that the image does not need, removed in the install's own layer:
/// the package lists, the package caches (`*.bin`, most of the layer after an update) and
/// downloaded archives (kept where the parent's apt config does not delete them).
const APT_LEFTOVERS: &str =
    "/var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/*.deb";

const PIP: &str = "PIP_BREAK_SYSTEM_PACKAGES=1 PIP_ROOT_USER_ACTION=ignore python3 -m pip install";
const UV: &str = "uv pip install --python \"$(command -v python3 || command -v python)\" --break-system-packages";

/// Each requirements file's copies and install; `true` when the context root itself was
/// copied (a requirements file names `-e .`).
fn install_lines(input: &DockerfileInput, handover: Handover) -> (Vec<String>, bool) {
    let mut lines = Vec::new();
    let command = match (input.installer, &input.cache_mount) {
        (PythonPackageInstaller::Pip, _) => PIP.to_owned(),
        // The cache mount is another filesystem than the image's: uv's default hard links
        // fail there, and it would warn and copy anyway.
        (PythonPackageInstaller::Uv, Some(_)) => format!("UV_LINK_MODE=copy {UV}"),
        (PythonPackageInstaller::Uv, None) => UV.to_owned(),
    };
    let args = installer_args(input);
    let run = run_directive(input);
    let mut copied = BTreeSet::new();
    for file in &input.requirement_files {
        for constraints in input.constraint_files.get(file).into_iter().flatten() {
            if copied.insert(constraints.as_str()) {
                lines.push(format!("COPY {constraints} {constraints}"));
            }
        }
        for path in input.local_paths.get(file).into_iter().flatten() {
            // Below a root already copied: in the image already.
            if !copied.contains(".") && copied.insert(path.as_str()) {
                lines.push(format!("COPY{} {path} {path}", chown(handover)));
            }
        }
        lines.push(format!("COPY {file} {file}"));
        let args = if args.is_empty() {
            String::new()
        } else {
            format!(" {args}")
        };
        lines.push(format!("{run} {command}{args} -r {file}"));
        if let Some(added) = input.added_files.get(file) {
            // The whole group, so that the installer resolves the added lines with the rest.
            lines.push(format!("COPY {added} {added}"));
            lines.push(format!("{run} {command}{args} -r {file} -r {added}"));
        }
    }
    (lines, copied.contains("."))
}

/// Whether a shell command runs `uv` (a word of its own, e.g. `uv pip install -e .` or
/// `cd x && uv pip install .`).
fn runs_uv(command: &str) -> bool {
    command
        .split(|c: char| c.is_whitespace() || ";&|()".contains(c))
        .any(|word| word == "uv")
}

fn run_directive(input: &DockerfileInput) -> String {
    match &input.cache_mount {
        Some(mount) => format!("RUN --mount={mount}"),
        None => "RUN".to_owned(),
    }
}

/// The installer's defaults overlaid by the user's args, as command-line words.
pub(crate) fn installer_args(input: &DockerfileInput) -> String {
    let defaults = match input.installer {
        PythonPackageInstaller::Pip => InstallerArgs(vec![
            ("no-cache-dir".into(), InstallerArg::Flag),
            ("default-timeout".into(), InstallerArg::Value("60".into())),
        ]),
        PythonPackageInstaller::Uv => {
            InstallerArgs(vec![("no-cache-dir".into(), InstallerArg::Flag)])
        }
    };
    let mut args = defaults.overlay(&input.installer_args);
    if input.cache_mount.is_some() {
        args.0.retain(|(key, _)| key != "no-cache-dir");
    }
    let mut words = Vec::new();
    for (key, value) in &args.0 {
        match value {
            InstallerArg::Flag => words.push(format!("--{key}")),
            InstallerArg::Off => {}
            InstallerArg::Value(v) => words.push(format!("--{key}={}", shell_quote(v))),
            InstallerArg::Values(vs) => {
                words.extend(vs.iter().map(|v| format!("--{key}={}", shell_quote(v))))
            }
        }
    }
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contribution::Group;

    const REQUIREMENT_FILES: [&str; 3] = [
        Group::Local.file(),
        Group::Requirements.file(),
        Group::Integrations.file(),
    ];

    fn input(parent: &str) -> DockerfileInput {
        DockerfileInput {
            parent: parent.to_owned(),
            build_args: Vec::new(),
            environment: EnvVars::default(),
            apt_packages: Vec::new(),
            installer: PythonPackageInstaller::Pip,
            installer_args: InstallerArgs::default(),
            cache_mount: None,
            requirement_files: Vec::new(),
            constraint_files: BTreeMap::new(),
            local_paths: BTreeMap::new(),
            added_files: BTreeMap::new(),
            local_project_install_command: None,
            include_files: false,
            user: None,
            runtime_environment: EnvVars::default(),
        }
    }

    fn text(input: &DockerfileInput) -> String {
        render(input).unwrap().text
    }

    fn map<M: FromIterator<(String, String)>>(pairs: &[(&str, &str)]) -> M {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn args(pairs: &[(&str, InstallerArg)]) -> InstallerArgs {
        InstallerArgs(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    /// What every generated Dockerfile starts with after `FROM`.
    const PROLOGUE: &str = "USER root\nWORKDIR /app\nARG DOCKWRIGHT_PARENT_USER=0";
    const CHOWN_APP: &str = "RUN chown \"$DOCKWRIGHT_PARENT_USER\" /app";
    const UV_BOOTSTRAP: &str = "{ command -v uv >/dev/null 2>&1 || PIP_BREAK_SYSTEM_PACKAGES=1 PIP_ROOT_USER_ACTION=ignore python3 -m pip install --no-cache-dir uv; }";

    const PIP_LINE: &str =
        "RUN PIP_BREAK_SYSTEM_PACKAGES=1 PIP_ROOT_USER_ACTION=ignore python3 -m pip install";

    #[test]
    fn nothing_to_add_is_from_and_workdir() {
        assert_eq!(
            text(&input("python:3.11-slim")),
            format!(
                "FROM python:3.11-slim\n{PROLOGUE}\n{CHOWN_APP}\nUSER ${{DOCKWRIGHT_PARENT_USER}}\n"
            )
        );
    }

    #[test]
    fn everything_in_the_documented_order() {
        let mut i = input("python:3.11-slim");
        i.build_args = vec!["HTTP_PROXY".into()];
        i.environment = map(&[("PIP_INDEX_URL", "http://index/simple")]);
        i.apt_packages = vec!["git".into(), "libgomp1".into(), "git".into()];
        i.requirement_files = REQUIREMENT_FILES.iter().map(|f| f.to_string()).collect();
        i.local_project_install_command = Some("python3 -m pip install --no-deps -e .".into());
        i.include_files = true;
        i.user = Some("app".into());
        i.runtime_environment = map(&[("MODE", "prod")]);
        let expected = [
            "FROM python:3.11-slim",
            "USER root",
            "WORKDIR /app",
            "ARG HTTP_PROXY",
            "ARG DOCKWRIGHT_PARENT_USER=0",
            "ENV PIP_INDEX_URL=\"http://index/simple\"",
            "RUN chown \"$DOCKWRIGHT_PARENT_USER\" /app && apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends git libgomp1 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/*.deb",
            "COPY .dockwright/requirements/1-local.txt .dockwright/requirements/1-local.txt",
            &format!("{PIP_LINE} --no-cache-dir --default-timeout=60 -r .dockwright/requirements/1-local.txt"),
            "COPY .dockwright/requirements/2-requirements.txt .dockwright/requirements/2-requirements.txt",
            &format!("{PIP_LINE} --no-cache-dir --default-timeout=60 -r .dockwright/requirements/2-requirements.txt"),
            "COPY .dockwright/requirements/3-integrations.txt .dockwright/requirements/3-integrations.txt",
            &format!("{PIP_LINE} --no-cache-dir --default-timeout=60 -r .dockwright/requirements/3-integrations.txt"),
            "COPY --chown=${DOCKWRIGHT_PARENT_USER} . .",
            &format!("RUN export {PROJECT_INSTALL_ENV}; python3 -m pip install --no-deps -e ."),
            "RUN chown -R app .",
            "USER app",
            "ENV MODE=\"prod\"",
        ]
        .join("\n")
            + "\n";
        let rendered = render(&i).unwrap();
        assert_eq!(rendered.text, expected);
        assert!(rendered.build_args.is_empty());
        assert!(!rendered.text.contains("# syntax"));
        assert!(
            !rendered.text.contains("--mount"),
            "no BuildKit unless asked"
        );
    }

    #[test]
    fn added_lines_are_installed_with_the_whole_group_after_the_earlier_install() {
        let mut i = input("p");
        i.installer = PythonPackageInstaller::Uv;
        i.requirement_files = REQUIREMENT_FILES.iter().map(|f| f.to_string()).collect();
        let before = text(&i);
        let added = ".dockwright/requirements/2-requirements.added.txt";
        i.added_files = BTreeMap::from([(REQUIREMENT_FILES[1].to_string(), added.to_string())]);
        let t = text(&i);
        let file = REQUIREMENT_FILES[1];
        let install = format!("RUN {UV} --no-cache-dir -r {file}");
        // The earlier install exactly as before (the engine reuses it), then the added file
        // and the whole group again, then the later groups as before.
        let expected = before.replace(
            &format!("{install}\n"),
            &format!("{install}\nCOPY {added} {added}\n{install} -r {added}\n"),
        );
        assert_ne!(expected, before);
        assert_eq!(t, expected);
        assert_eq!(
            render(&i).unwrap().for_root_parent.matches(added).count(),
            3,
            "the root-parent variant installs the same way"
        );
        i.added_files.insert(file.into(), "../added.txt".into());
        assert!(render(&i).is_err(), "an added file outside the context");
    }

    #[test]
    fn constraints_files_are_copied_once_just_before_the_first_file_naming_them() {
        let mut i = input("p");
        i.requirement_files = REQUIREMENT_FILES.iter().map(|f| f.to_string()).collect();
        let pins = ".dockwright/requirements/constraints/1-pins.txt".to_string();
        let more = ".dockwright/requirements/constraints/2-more.txt".to_string();
        i.constraint_files = BTreeMap::from([
            (
                REQUIREMENT_FILES[1].to_string(),
                vec![pins.clone(), more.clone()],
            ),
            (REQUIREMENT_FILES[2].to_string(), vec![pins.clone()]),
        ]);
        let t = text(&i);
        let copies: Vec<&str> = t.lines().filter(|l| l.starts_with("COPY")).collect();
        assert_eq!(
            copies,
            [
                "COPY .dockwright/requirements/1-local.txt .dockwright/requirements/1-local.txt",
                "COPY .dockwright/requirements/constraints/1-pins.txt .dockwright/requirements/constraints/1-pins.txt",
                "COPY .dockwright/requirements/constraints/2-more.txt .dockwright/requirements/constraints/2-more.txt",
                "COPY .dockwright/requirements/2-requirements.txt .dockwright/requirements/2-requirements.txt",
                "COPY .dockwright/requirements/3-integrations.txt .dockwright/requirements/3-integrations.txt",
            ]
        );
        i.constraint_files
            .insert(REQUIREMENT_FILES[0].to_string(), vec!["../x.txt".into()]);
        assert_eq!(render(&i).unwrap_err().what, "constraints file");
    }

    #[test]
    fn uv_is_bootstrapped_when_missing_and_targets_the_active_python() {
        let mut i = input("python:3.11");
        i.installer = PythonPackageInstaller::Uv;
        i.requirement_files = vec![REQUIREMENT_FILES[1].into()];
        let t = text(&i);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[4], format!("{CHOWN_APP} && {UV_BOOTSTRAP}"));
        assert_eq!(
            lines[6],
            "RUN uv pip install --python \"$(command -v python3 || command -v python)\" --break-system-packages --no-cache-dir -r .dockwright/requirements/2-requirements.txt"
        );
        // Nothing to install: no bootstrap.
        i.requirement_files.clear();
        assert!(!text(&i).contains("uv"));
        // A local project install alone still gets uv.
        i.local_project_install_command = Some("uv pip install --system -e .".into());
        i.include_files = true;
        assert!(text(&i).contains("command -v uv"));
    }

    #[test]
    fn local_paths_are_copied_once_just_before_the_file_naming_them() {
        let mut i = input("p");
        i.requirement_files = REQUIREMENT_FILES.iter().map(|f| f.to_string()).collect();
        i.local_paths = BTreeMap::from([
            (
                REQUIREMENT_FILES[1].to_string(),
                vec!["libs/mylib".into(), "libs/editable".into()],
            ),
            (REQUIREMENT_FILES[2].to_string(), vec!["libs/mylib".into()]),
        ]);
        i.include_files = true;
        let t = text(&i);
        let lines: Vec<&str> = t.lines().collect();
        let at = |l: &str| {
            lines
                .iter()
                .position(|x| *x == l)
                .unwrap_or_else(|| panic!("no `{l}` in\n{t}"))
        };
        let mylib = at("COPY --chown=${DOCKWRIGHT_PARENT_USER} libs/mylib libs/mylib");
        let editable = at("COPY --chown=${DOCKWRIGHT_PARENT_USER} libs/editable libs/editable");
        let group = at(
            "COPY .dockwright/requirements/2-requirements.txt .dockwright/requirements/2-requirements.txt",
        );
        assert!(
            at("COPY .dockwright/requirements/1-local.txt .dockwright/requirements/1-local.txt")
                < mylib
        );
        assert!(mylib < editable && editable < group, "{t}");
        assert_eq!(t.matches("libs/mylib libs/mylib").count(), 1, "{t}");
        // The files still come after the installs.
        assert!(at("COPY --chown=${DOCKWRIGHT_PARENT_USER} . .") > group);

        // The project root named by `-e .`: copied before the install, not again later.
        i.local_paths = BTreeMap::from([(
            REQUIREMENT_FILES[1].to_string(),
            vec![".".into(), "libs/mylib".into()],
        )]);
        let t = text(&i);
        assert_eq!(t.matches(" . .").count(), 1, "{t}");
        assert!(
            t.find(" . .").unwrap() < t.find("2-requirements.txt .dockwright").unwrap(),
            "{t}"
        );
        assert!(
            !t.contains("libs/mylib libs/mylib"),
            "below the root: copied already\n{t}"
        );

        i.local_paths = BTreeMap::from([(REQUIREMENT_FILES[1].to_string(), vec!["my lib".into()])]);
        assert_eq!(render(&i).unwrap_err().what, "local path");
    }

    #[test]
    fn the_local_project_install_runs_with_what_the_install_lines_pass() {
        let mut i = input("p");
        i.include_files = true;
        i.local_project_install_command = Some("pip install -e .".into());
        let t = text(&i);
        assert!(
            t.contains("\nRUN export PIP_BREAK_SYSTEM_PACKAGES=1 PIP_ROOT_USER_ACTION=ignore UV_BREAK_SYSTEM_PACKAGES=1 UV_PYTHON=\"${UV_PYTHON:-$(command -v python3 || command -v python)}\"; pip install -e .\n"),
            "{t}"
        );
        assert!(!t.contains("command -v uv"), "pip needs no uv: {t}");
        // uv is bootstrapped for a command that runs it, whatever the installer.
        for command in [
            "uv pip install --no-deps -e .",
            "cd src && uv pip install .",
        ] {
            i.local_project_install_command = Some(command.into());
            assert!(text(&i).contains(UV_BOOTSTRAP), "{command}");
        }
        i.local_project_install_command = Some("pip install -e ./uvicorn-fork".into());
        assert!(!text(&i).contains("command -v uv"));
    }

    #[test]
    fn the_build_runs_as_root_and_gives_the_image_back_to_the_parents_user() {
        let mut i = input("p");
        i.include_files = true;
        let t = text(&i);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[1], "USER root");
        assert_eq!(lines[3], "ARG DOCKWRIGHT_PARENT_USER=0");
        assert_eq!(lines[4], CHOWN_APP);
        assert_eq!(lines.last(), Some(&"USER ${DOCKWRIGHT_PARENT_USER}"));
        assert!(
            !t.contains("chown -R"),
            "the files are copied with --chown, not changed after: {t}"
        );
        // `user` decides instead.
        i.user = Some("app".into());
        let t = text(&i);
        assert!(t.ends_with("RUN chown -R app .\nUSER app\n"), "{t}");
    }

    #[test]
    fn a_root_parent_gets_the_same_dockerfile_without_the_handover() {
        let mut i = input("p");
        i.include_files = true;
        i.requirement_files = vec!["r.txt".into()];
        i.local_paths.insert("r.txt".into(), vec!["libs/x".into()]);
        i.runtime_environment = map(&[("A", "1")]);
        let rendered = render(&i).unwrap();
        // Every line of the variant is a line of the general Dockerfile, in the same order,
        // with `--chown` dropped: what is left out is only the handover.
        let general: Vec<String> = rendered
            .text
            .lines()
            .map(|l| l.replace(" --chown=${DOCKWRIGHT_PARENT_USER}", ""))
            .filter(|l| {
                !matches!(
                    l.as_str(),
                    "USER root"
                        | "ARG DOCKWRIGHT_PARENT_USER=0"
                        | "USER ${DOCKWRIGHT_PARENT_USER}"
                        | CHOWN_APP
                )
            })
            .collect();
        let variant: Vec<&str> = rendered.for_root_parent.lines().collect();
        assert_eq!(variant, general, "{}", rendered.for_root_parent);
        assert_eq!(
            rendered.for_root_parent,
            "FROM p\nWORKDIR /app\nCOPY libs/x libs/x\nCOPY r.txt r.txt\n\
             RUN PIP_BREAK_SYSTEM_PACKAGES=1 PIP_ROOT_USER_ACTION=ignore python3 -m pip install \
             --no-cache-dir --default-timeout=60 -r r.txt\nCOPY . .\nENV A=\"1\"\n"
        );
        // The setup `RUN` stays for what else it does.
        i.apt_packages = vec!["git".into()];
        let variant = render(&i).unwrap().for_root_parent;
        assert!(variant.contains("\nRUN apt-get update && "), "{variant}");
        // `user` still takes the image.
        i.user = Some("app".into());
        let variant = render(&i).unwrap().for_root_parent;
        assert!(
            variant.contains("\nRUN chown -R app .\nUSER app\n"),
            "{variant}"
        );
    }

    #[test]
    fn root_is_uid_0_or_root_with_roots_group() {
        for user in ["", "0", "root", "0:0", "root:root", "root:0", "0:root"] {
            assert!(is_root_user(user), "{user:?}");
        }
        for user in [
            "1000",
            "app",
            "0:1000",
            "root:staff",
            "1000:0",
            "Root",
            "root:",
        ] {
            assert!(!is_root_user(user), "{user:?}");
        }
    }

    #[test]
    fn installer_args_follow_zenml() {
        // ZenML's test_python_package_installer_args.
        let mut i = input("p");
        i.requirement_files = vec!["requirements.txt".into()];
        i.installer_args = args(&[
            ("default-timeout", InstallerArg::Value("99".into())),
            ("other-arg", InstallerArg::Value("value".into())),
            ("option", InstallerArg::Flag),
        ]);
        assert!(text(&i).contains(&format!(
            "{PIP_LINE} --no-cache-dir --default-timeout=99 --other-arg=value --option -r requirements.txt"
        )));
        i.installer = PythonPackageInstaller::Uv;
        assert_eq!(
            installer_args(&i),
            "--no-cache-dir --default-timeout=99 --other-arg=value --option"
        );
    }

    #[test]
    fn false_removes_an_option_lists_repeat_and_odd_values_are_quoted() {
        let mut i = input("p");
        i.installer_args = args(&[
            ("no-cache-dir", InstallerArg::Off),
            (
                "extra-index-url",
                InstallerArg::Values(vec!["http://a/simple".into(), "http://b/simple".into()]),
            ),
            (
                "constraint",
                InstallerArg::Value("my constraints.txt".into()),
            ),
            ("note", InstallerArg::Value("it's $HOME".into())),
        ]);
        assert_eq!(
            installer_args(&i),
            "--default-timeout=60 --extra-index-url=http://a/simple --extra-index-url=http://b/simple --constraint='my constraints.txt' --note='it'\\''s $HOME'"
        );
    }

    #[test]
    fn a_cache_mount_drops_no_cache_dir_and_covers_the_local_install() {
        let mut i = input("p");
        i.installer = PythonPackageInstaller::Uv;
        i.cache_mount = Some("type=cache,target=/root/.cache/uv".into());
        i.requirement_files = vec![REQUIREMENT_FILES[1].into()];
        i.include_files = true;
        i.local_project_install_command = Some("uv pip install --system --no-deps -e .".into());
        let t = text(&i);
        assert!(t.contains("RUN --mount=type=cache,target=/root/.cache/uv UV_LINK_MODE=copy uv pip install --python \"$(command -v python3 || command -v python)\" --break-system-packages -r .dockwright/requirements/2-requirements.txt"), "{t}");
        assert!(t.contains(&format!("\nRUN --mount=type=cache,target=/root/.cache/uv export {PROJECT_INSTALL_ENV}; uv pip install --system --no-deps -e .\n")), "{t}");
        assert!(!t.contains("--no-cache-dir -r"), "{t}");
        assert!(
            t.contains(&format!("{CHOWN_APP} && {UV_BOOTSTRAP}\n")),
            "the bootstrap needs no mount: {t}"
        );
        i.installer = PythonPackageInstaller::Pip;
        i.cache_mount = Some("type=cache,target=/root/.cache/pip".into());
        assert!(text(&i).contains(&format!(
            "RUN --mount=type=cache,target=/root/.cache/pip {} --default-timeout=60 -r",
            PIP_LINE.trim_start_matches("RUN ")
        )));
    }

    #[test]
    fn apt_packages_are_deduplicated_quoted_and_lists_cleaned() {
        let mut i = input("debian:bookworm");
        i.apt_packages = ["git", "libgomp1", "git", "python3=3.11.2-1+b1", "libgomp1"]
            .map(String::from)
            .to_vec();
        let t = text(&i);
        let apt: Vec<&str> = t.lines().filter(|l| l.contains("apt-get")).collect();
        assert_eq!(
            apt,
            [
                "RUN chown \"$DOCKWRIGHT_PARENT_USER\" /app && apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends git libgomp1 python3=3.11.2-1+b1 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/*.deb"
            ]
        );
    }

    #[test]
    fn env_values_are_double_quoted_with_docker_escapes() {
        assert_eq!(quote_env_value(r#"say "hi""#), r#""say \"hi\"""#);
        assert_eq!(quote_env_value("$HOME ${X}"), r#""\$HOME \${X}""#);
        assert_eq!(quote_env_value(r"back\slash\"), r#""back\\slash\\""#);
        assert_eq!(quote_env_value("a b  c"), r#""a b  c""#);
        assert_eq!(quote_env_value(""), r#""""#);
        assert_eq!(quote_env_value("it's"), r#""it's""#);
        assert_eq!(
            quote_env_value("1\n2\r"),
            r#""1${DOCKWRIGHT_NEWLINE}2${DOCKWRIGHT_CR}""#
        );
    }

    #[test]
    fn newlines_in_env_values_come_in_as_declared_build_args() {
        let mut i = input("p");
        i.environment = map(&[("A", "plain")]);
        assert!(render(&i).unwrap().build_args.is_empty());
        i.runtime_environment = map(&[("CERT", "line1\nline2\n")]);
        let rendered = render(&i).unwrap();
        assert_eq!(rendered.build_args, map(&[(NEWLINE_ARG, "\n")]));
        let lines: Vec<&str> = rendered.text.lines().collect();
        assert_eq!(lines[3], "ARG DOCKWRIGHT_NEWLINE");
        assert_eq!(lines[5], "ENV A=\"plain\"");
        assert_eq!(lines[6], CHOWN_APP);
        assert_eq!(lines[7], "USER ${DOCKWRIGHT_PARENT_USER}");
        assert_eq!(
            lines[8],
            "ENV CERT=\"line1${DOCKWRIGHT_NEWLINE}line2${DOCKWRIGHT_NEWLINE}\""
        );
    }

    #[test]
    fn user_and_runtime_environment_come_last() {
        let mut i = input("p");
        i.include_files = true;
        i.user = Some("1000:1000".into());
        // In the order written, as ZenML writes them.
        i.runtime_environment = map(&[("B", "2"), ("A", "1")]);
        let t = text(&i);
        assert!(
            t.ends_with(
                "COPY --chown=${DOCKWRIGHT_PARENT_USER} . .\nRUN chown -R 1000:1000 .\nUSER 1000:1000\nENV B=\"2\" \\\n    A=\"1\"\n"
            ),
            "{t}"
        );
    }

    #[test]
    fn files_are_copied_only_when_included() {
        let mut i = input("p");
        assert!(!text(&i).contains(" . ."));
        i.include_files = true;
        assert!(text(&i).contains("\nCOPY --chown=${DOCKWRIGHT_PARENT_USER} . .\n"));
    }

    #[test]
    fn from_settings_takes_what_the_dockerfile_needs() {
        let yaml = "name: p\nsettings:\n  docker:\n    python_package_installer: pip\n    build_config:\n      build_options: {build_args: {MODE: prod, HTTP_PROXY: x}}\n    environment: {A: \"1\"}\n    user: app\n    allow_including_files_in_images: false\n";
        let pipeline =
            crate::settings::parse(yaml, std::path::Path::new("dockwright.yaml")).unwrap();
        let i = DockerfileInput::from_settings(
            "base:1",
            &pipeline.docker,
            vec![REQUIREMENT_FILES[0].into()],
            vec!["git".into()],
        );
        assert_eq!(i.build_args, ["HTTP_PROXY", "MODE"]);
        assert!(!i.include_files);
        assert_eq!(i.installer, PythonPackageInstaller::Pip);
        let t = text(&i);
        assert!(
            t.starts_with(
                "FROM base:1\nUSER root\nWORKDIR /app\nARG HTTP_PROXY\nARG MODE\nARG DOCKWRIGHT_PARENT_USER=0\nENV A=\"1\"\nRUN chown \"$DOCKWRIGHT_PARENT_USER\" /app && apt-get"
            ),
            "{t}"
        );
        assert!(t.contains("USER app"));
    }

    #[test]
    fn values_that_could_break_out_of_a_line_are_refused() {
        let mut i = input("p");
        i.environment = map(&[("BAD-KEY", "x")]);
        assert_eq!(render(&i).unwrap_err().what, "environment variable");
        let mut i = input("p");
        i.apt_packages = vec!["git\nRUN curl evil".into()];
        assert_eq!(render(&i).unwrap_err().what, "apt package");
        let mut i = input("p");
        i.local_project_install_command = Some("pip install . \\".into());
        assert_eq!(
            render(&i).unwrap_err().what,
            "local project install command"
        );
        let mut i = input("p");
        i.user = Some("app\nUSER root".into());
        assert_eq!(render(&i).unwrap_err().what, "user");
        let mut i = input("p");
        i.requirement_files = vec!["../etc/passwd".into()];
        assert_eq!(render(&i).unwrap_err().what, "requirements file");
        let mut i = input("python:3.11\nRUN x");
        assert_eq!(render(&i).unwrap_err().what, "parent image");
        i.parent = "p".into();
        i.installer_args = args(&[("index-url", InstallerArg::Value("a\nb".into()))]);
        let error = render(&i).unwrap_err();
        assert_eq!(error.what, "installer option value");
        assert_eq!(
            error.to_string(),
            "cannot write installer option value `a\\nb` into the Dockerfile: must be a single line"
        );
        let mut i = input("p");
        i.environment = map(&[("A", "nul\0")]);
        assert_eq!(render(&i).unwrap_err().what, "environment value");
        let mut i = input("p");
        i.cache_mount = Some("type=cache, target=/x".into());
        assert_eq!(render(&i).unwrap_err().what, "cache mount");
    }

    #[test]
    fn validators_accept_the_usual_and_refuse_the_rest() {
        for ok in ["PATH", "_x", "http_proxy", "A1"] {
            assert!(check_env_key(ok).is_ok(), "{ok}");
        }
        for bad in ["", "1A", "A-B", "A B", "É"] {
            assert!(check_env_key(bad).is_err(), "{bad}");
        }
        for ok in [
            "git",
            "libc6:amd64",
            "g++",
            "python3=3.11.2-1+b1",
            "git/bookworm-backports",
            "libstdc++6",
        ] {
            assert!(check_apt_package(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a", "Git", "-x", "git;ls", "git ls", "git=", "git:"] {
            assert!(check_apt_package(bad).is_err(), "{bad}");
        }
        for ok in ["app", "1000", "1000:1000", "app:staff", "_svc"] {
            assert!(check_user(ok).is_ok(), "{ok}");
        }
        for bad in ["", "app:", "a b", "$USER", "-x"] {
            assert!(check_user(bad).is_err(), "{bad}");
        }
        assert_eq!(shell_quote("http://a/simple"), "http://a/simple");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("a'b"), "'a'\\''b'");
    }

    #[test]
    fn rendering_is_deterministic() {
        let mut i = input("p");
        i.environment = map(&[("Z", "1"), ("A", "2"), ("M", "x\ny")]);
        i.apt_packages = vec!["b-pkg".into(), "a-pkg".into()];
        assert_eq!(render(&i).unwrap(), render(&i.clone()).unwrap());
        let t = text(&i);
        // One instruction, in the order written.
        assert!(t.find("ENV Z=").unwrap() < t.find(" A=").unwrap());
        assert!(t.find(" A=").unwrap() < t.find(" M=").unwrap());
        assert!(
            t.contains("install -y --no-install-recommends b-pkg a-pkg"),
            "apt order as given"
        );
    }

    /// The quoting, checked by the real engine: ENV lines are built with the classic
    /// builder on `scratch` (no base image needed) and read back from the image config.
    #[test]
    fn env_values_survive_a_real_docker_build() {
        use std::io::Write;
        use std::process::{Command, Stdio};

        let values: EnvVars = map(&[
            ("QUOTES", r#"say "hi" and 'bye'"#),
            ("SPACES", "  a b  "),
            ("DOLLARS", "$HOME ${PATH} $ $$"),
            ("BACKSLASHES", r"C:\dir\ \n \\ end\"),
            ("NEWLINES", "line1\nline2\n\nend"),
            ("CR", "a\r\nb"),
            ("TAB", "a\tb"),
            ("EMPTY", ""),
            ("UNICODE", "héllo → ✓"),
            ("EQUALS", "a=b=c"),
            ("HASH", "# not a comment"),
        ]);
        let mut i = input("scratch");
        i.environment = values.clone();
        i.runtime_environment = map(&[("RUNTIME_MULTI", "x\ny$z\"")]);
        let mut rendered = render(&i).unwrap();
        // `scratch` has no shell: only the ENV lines are under test.
        rendered.text = rendered
            .text
            .lines()
            .filter(|l| !l.starts_with("RUN "))
            .map(|l| format!("{l}\n"))
            .collect();

        let tag = format!("dockwright-test-env-quoting:{}", std::process::id());
        let mut build = Command::new("docker");
        build
            .env("DOCKER_BUILDKIT", "0")
            .args(["build", "-q", "-t", &tag]);
        for (name, value) in &rendered.build_args {
            build.arg("--build-arg").arg(format!("{name}={value}"));
        }
        let mut child = build
            .arg("-")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the docker CLI (tests need a Docker engine)");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(rendered.text.as_bytes())
            .unwrap();
        let built = child.wait_with_output().unwrap();
        assert!(
            built.status.success(),
            "docker build failed: {}\n{}",
            String::from_utf8_lossy(&built.stderr),
            rendered.text
        );

        let inspect = Command::new("docker")
            .args(["image", "inspect", "--format", "{{json .Config.Env}}", &tag])
            .output()
            .unwrap();
        let _ = Command::new("docker").args(["rmi", "-f", &tag]).output();
        assert!(
            inspect.status.success(),
            "{}",
            String::from_utf8_lossy(&inspect.stderr)
        );
        let env: Vec<String> = serde_json::from_slice(&inspect.stdout).unwrap();
        let env: BTreeMap<String, String> = env
            .iter()
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        for (key, expected) in values.iter().chain(&i.runtime_environment) {
            assert_eq!(env.get(key), Some(expected), "{key}");
        }
    }
}
