//! The declarative description of every key `dockwright.yaml` accepts: its name, the shape
//! of its value, its documentation (ZenML 0.98's `DockerSettings` field docs where the key is
//! one of them), its default, and whether it is required or deprecated.
//!
//! Owns: the one list of keys the reader checks unknown keys against (the reader's
//! `TOP_LEVEL`, `STEP_KEYS`, `FIELDS`, ... are taken from here) and the source the JSON
//! Schema of `dockwright.yaml` is generated from ([`super::schema`]), so the two cannot drift.
//! The reader still does the typing itself (it needs positions and exact messages); the
//! schema test loads every example through both.

/// The shape of a value, as far as a JSON Schema can tell.
#[derive(Debug)]
pub(crate) enum Shape {
    /// Text.
    Str,
    /// Text matching a regular expression.
    Pattern(&'static str),
    /// A string, number or boolean, read as written (`1.10` stays `1.10`).
    Scalar,
    Bool,
    UInt,
    /// A list of strings.
    Strings,
    /// One of these words.
    Word(&'static [&'static str]),
    /// Any of these shapes.
    AnyOf(&'static [Shape]),
    /// A mapping with only these keys.
    Object(&'static [Field]),
    /// A mapping with these typed keys, and any others passed through.
    OpenObject(&'static [Field]),
    /// A mapping of any string keys to values of this shape.
    MapOf(&'static Shape),
    /// A mapping whose keys are among these names, each value of this shape.
    KeysOf(&'static [&'static str], &'static Shape),
    /// A list of values of this shape.
    ListOf(&'static Shape),
    /// Anything.
    Any,
}

/// One key of a mapping.
#[derive(Debug)]
pub(crate) struct Field {
    pub name: &'static str,
    pub shape: Shape,
    pub doc: &'static str,
    /// The default, as JSON text.
    pub default: Option<&'static str>,
    pub required: bool,
    pub deprecated: bool,
}

const fn field(name: &'static str, shape: Shape, doc: &'static str) -> Field {
    Field {
        name,
        shape,
        doc,
        default: None,
        required: false,
        deprecated: false,
    }
}

impl Field {
    const fn default(mut self, json: &'static str) -> Field {
        self.default = Some(json);
        self
    }

    const fn required(mut self) -> Field {
        self.required = true;
        self
    }

    const fn deprecated(mut self) -> Field {
        self.deprecated = true;
        self
    }
}

/// The names of `fields`, in order, for the reader's unknown-key checks.
pub(crate) const fn names<const N: usize>(fields: &[Field; N]) -> [&'static str; N] {
    let mut out = [""; N];
    let mut i = 0;
    while i < N {
        out[i] = fields[i].name;
        i += 1;
    }
    out
}

const ENVIRONMENT: Shape = Shape::MapOf(&Shape::Scalar);
const SCALAR_MAP: Shape = Shape::MapOf(&Shape::Scalar);

/// The top level of `dockwright.yaml`.
pub(crate) const TOP: [Field; 7] = [
    field(
        "name",
        Shape::Str,
        "The pipeline's name; used in image tags.",
    )
    .required(),
    field(
        "stack",
        Shape::AnyOf(&[Shape::Str, STACK]),
        "The stack: a path to a stack file (relative to this file), or a mapping of component type to its flavor. With `install_stack_requirements`, the integrations of its flavors are installed.",
    ),
    field(
        "settings",
        Shape::Object(&SETTINGS),
        "The pipeline's settings; every step starts from them.",
    ),
    field(
        "plugins",
        Shape::ListOf(&Shape::Object(&PLUGIN)),
        "Extra requirement-source plugins this pipeline needs, pinned by name and semver range (installed with `dockwright plugin install`).",
    ),
    field(
        "grants",
        Shape::MapOf(&Shape::Object(&GRANT)),
        "Plugin name → what it may read and run. Third-party plugins get nothing else.",
    ),
    field(
        "integration_providers",
        Shape::MapOf(&Shape::Pattern("^[A-Za-z0-9_-]+$")),
        "Integration name → the plugin that provides it, for names several installed providers offer.",
    ),
    field(
        "steps",
        Shape::ListOf(&Shape::Object(&STEP)),
        "The pipeline's steps, each run as a container in the image built for its settings.",
    ),
];

/// `settings`.
pub(crate) const SETTINGS: [Field; 2] = [
    field(
        "docker",
        Shape::Object(&DOCKER),
        "ZenML's `DockerSettings`: how the image is built.",
    ),
    field(
        "orchestrator",
        Shape::MapOf(&Shape::Any),
        "The orchestrator's settings (for Kubernetes: ZenML's `KubernetesOrchestratorSettings` names, e.g. pod_settings, active_deadline_seconds); a step may set its own pod_settings.",
    ),
];

/// One entry of `steps`.
pub(crate) const STEP: [Field; 5] = [
    field(
        "name",
        Shape::Pattern("^[A-Za-z0-9_][A-Za-z0-9_.-]*$"),
        "The step's name (letters, digits, `_`, `.`, `-`); it appears in image tags and container names.",
    )
    .required(),
    field(
        "command",
        Shape::Strings,
        "The container's command, as a list of words, e.g. [python3, steps/train.py].",
    )
    .required(),
    field(
        "after",
        Shape::Strings,
        "Names of the steps that must finish first.",
    ),
    field(
        "settings",
        Shape::Object(&SETTINGS),
        "The step's own settings, merged over the pipeline's (mappings key by key, lists and scalars replace).",
    ),
    field(
        "environment",
        ENVIRONMENT,
        "Environment of the step's container at run time (not baked into the image).",
    ),
];

/// One entry of `plugins`.
pub(crate) const PLUGIN: [Field; 2] = [
    field("name", Shape::Str, "The plugin's name.").required(),
    field(
        "version",
        Shape::Str,
        "A semver range the installed plugin must match, e.g. \"^1.2\".",
    )
    .required(),
];

/// One entry of `grants`.
pub(crate) const GRANT: [Field; 4] = [
    field(
        "read",
        Shape::Strings,
        "Directories the plugin may read (relative to this file).",
    ),
    field("exec", Shape::Strings, "Programs the plugin may run."),
    field(
        "pip_options",
        Shape::Strings,
        "pip options a third-party plugin may return (e.g. extra-index-url), and `url` for direct URL references; refused otherwise.",
    ),
    field(
        "env",
        Shape::Strings,
        "Host environment variables passed to the programs the plugin runs (exec), besides PATH, HOME and LANG; no other reaches them.",
    ),
];

/// A stack component given as a mapping.
pub(crate) const COMPONENT: [Field; 3] = [
    field(
        "flavor",
        Shape::Str,
        "The component's flavor, e.g. s3 or mlflow.",
    )
    .required(),
    field(
        "uri",
        Shape::Str,
        "Where the component lives; for a container_registry, the registry images are named for and pushed to.",
    ),
    field(
        "config",
        Shape::MapOf(&Shape::Any),
        "The component's configuration as ZenML writes it (for a kubernetes orchestrator: kubernetes_context, kubernetes_namespace, service_account_name, pod_settings, artifacts_pvc, image_pull_secrets, ...).",
    ),
];

const STACK: Shape = Shape::KeysOf(
    super::COMPONENT_TYPES,
    &Shape::AnyOf(&[Shape::Str, Shape::Object(&COMPONENT)]),
);

/// `build_config` and `parent_image_build_config` (ZenML's `DockerBuildConfig`).
pub(crate) const BUILD_CONFIG: [Field; 2] = [
    field(
        "build_options",
        Shape::OpenObject(&BUILD_OPTIONS),
        "Docker build options (ZenML's and docker-py's spellings); other keys are passed through as `--<key>` options.",
    ),
    field(
        "dockerignore",
        Shape::Str,
        "Path to a dockerignore file for this build.",
    ),
];

/// The typed keys of ZenML's `DockerBuildOptions` (other keys are allowed).
/// A size in bytes, or a number with a unit as Docker writes it (`64m`).
const SIZE: Shape = Shape::AnyOf(&[Shape::UInt, Shape::Pattern("^[0-9]+[bkmgBKMG]?$")]);

pub(crate) const BUILD_OPTIONS: [Field; 12] = [
    field(
        "pull",
        Shape::Bool,
        "Always try to pull newer parent images.",
    ),
    field("rm", Shape::Bool, "Remove intermediate containers."),
    field("no_cache", Shape::Bool, "Do not use the build cache."),
    field("nocache", Shape::Bool, "docker-py spelling of `no_cache`."),
    field(
        "shm_size",
        SIZE,
        "Size of /dev/shm: bytes, or with a unit (`64m`, `1g`).",
    ),
    field("shmsize", SIZE, "docker-py spelling of `shm_size`."),
    field("labels", SCALAR_MAP, "Labels set on the image."),
    field(
        "build_args",
        SCALAR_MAP,
        "Build arguments; each also becomes an `ARG` line of the generated Dockerfile.",
    ),
    field(
        "buildargs",
        SCALAR_MAP,
        "docker-py spelling of `build_args`.",
    ),
    field(
        "cache_from",
        Shape::Strings,
        "Images to use as cache sources.",
    ),
    field(
        "cachefrom",
        Shape::Strings,
        "docker-py spelling of `cache_from`.",
    ),
    field(
        "version",
        Shape::AnyOf(&[Shape::UInt, Shape::Pattern("^[12]$")]),
        "The builder: 1 (classic, the default) or 2 (BuildKit: faster where each instruction is a commit, and needed for `RUN --mount`).",
    ),
];

/// `settings.docker`: ZenML 0.98's `DockerSettings`.
pub(crate) const DOCKER: [Field; 34] = [
    field(
        "parent_image",
        Shape::Str,
        "FROM image of the generated Dockerfile. Ignored (with a warning) when `dockerfile` is set.",
    ),
    field(
        "dockerfile",
        Shape::Str,
        "Path to a user Dockerfile, built first; a generated image goes on top of it only when something else needs adding.",
    ),
    field(
        "build_context_root",
        Shape::Str,
        "Context directory of the user-Dockerfile build only; without it the context holds just the Dockerfile.",
    ),
    field(
        "parent_image_build_config",
        Shape::Object(&BUILD_CONFIG),
        "dockerignore and build options of the user-Dockerfile build.",
    ),
    field(
        "build_config",
        Shape::Object(&BUILD_CONFIG),
        "dockerignore and build options of the main (generated-Dockerfile) build.",
    ),
    field(
        "skip_build",
        Shape::Bool,
        "Use `parent_image` as it is, without building; requires `parent_image`.",
    )
    .default("false"),
    field(
        "prevent_build_reuse",
        Shape::Bool,
        "Never reuse an existing image with the same build key.",
    )
    .default("false"),
    field(
        "target_repository",
        Shape::Pattern("^[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*)*$"),
        "Repository name of the images (no registry part, no tag).",
    ),
    field(
        "image_tag",
        Shape::Pattern("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"),
        "Tag for the image(s), used as written.",
    ),
    field(
        "python_package_installer",
        Shape::Word(&["pip", "uv"]),
        "The installer of the requirements: pip or uv.",
    )
    .default("\"uv\""),
    field(
        "python_package_installer_cache_mount",
        Shape::Pattern("^\\S+$"),
        "If set, installs run with `RUN --mount=<value>` (needs BuildKit) and the default `no-cache-dir` argument is dropped.",
    ),
    field(
        "python_package_installer_args",
        Shape::MapOf(&Shape::Any),
        "Arguments of the installer, merged over the defaults: null or true for a bare `--flag`, false removes it, a list repeats it.",
    ),
    field(
        "disable_automatic_requirements_detection",
        Shape::Bool,
        "Accepted for ZenML compatibility; Dockwright never picks up requirements implicitly.",
    )
    .default("true"),
    field(
        "replicate_local_python_environment",
        Shape::AnyOf(&[
            Shape::Word(&["pip_freeze", "uv_freeze", "poetry_export"]),
            Shape::Bool,
            Shape::Strings,
        ]),
        "Install the packages of the local Python environment: pip_freeze, uv_freeze, poetry_export, true (pip_freeze), or a command whose output is the requirements.",
    ),
    field(
        "pyproject_path",
        Shape::Str,
        "A pyproject.toml whose dependencies are exported and installed.",
    ),
    field(
        "pyproject_export_command",
        Shape::Strings,
        "The command that exports `pyproject_path`'s dependencies; `{directory}` is replaced by the pyproject file's folder.",
    ),
    field(
        "requirements",
        Shape::AnyOf(&[Shape::Str, Shape::Strings]),
        "A path to a requirements file, or a list of requirement lines.",
    ),
    field(
        "required_integrations",
        Shape::Strings,
        "ZenML integration names whose requirements and apt packages are installed.",
    )
    .default("[]"),
    field(
        "install_stack_requirements",
        Shape::Bool,
        "Install the requirements and apt packages of the stack's integrations.",
    )
    .default("true"),
    field(
        "install_deployment_requirements",
        Shape::Bool,
        "Accepted for ZenML compatibility; Dockwright has no deployer.",
    )
    .default("true"),
    field(
        "local_project_install_command",
        Shape::Str,
        "Run after the code is copied (e.g. `uv pip install --no-deps -e .`); forces code inclusion.",
    ),
    field(
        "apt_packages",
        Shape::Strings,
        "apt packages to install.",
    )
    .default("[]"),
    field(
        "environment",
        ENVIRONMENT,
        "Environment variables set before the installs (ENV lines); installs may read them.",
    )
    .default("{}"),
    field(
        "runtime_environment",
        ENVIRONMENT,
        "Environment variables set at the end of the image, for the steps.",
    )
    .default("{}"),
    field(
        "user",
        Shape::Str,
        "The user the steps run as (chown of the code and USER at the end).",
    ),
    field(
        "allow_including_files_in_images",
        Shape::Bool,
        "Copy the project's files into the image.",
    )
    .default("true"),
    field(
        "allow_download_from_code_repository",
        Shape::Bool,
        "Accepted for ZenML compatibility; Dockwright has no code repository to download from.",
    )
    .default("true"),
    field(
        "allow_download_from_artifact_store",
        Shape::Bool,
        "Accepted for ZenML compatibility; Dockwright has no artifact store to download code from.",
    )
    .default("true"),
    field(
        "build_options",
        Shape::OpenObject(&BUILD_OPTIONS),
        "Deprecated: use build_config.build_options (used as its fallback).",
    )
    .deprecated(),
    field(
        "dockerignore",
        Shape::Str,
        "Deprecated: use build_config.dockerignore (used as its fallback).",
    )
    .deprecated(),
    field(
        "copy_files",
        Shape::Bool,
        "Deprecated and without effect.",
    )
    .deprecated(),
    field(
        "copy_global_config",
        Shape::Bool,
        "Deprecated and without effect.",
    )
    .deprecated(),
    field(
        "source_files",
        Shape::Word(&["download", "include", "download_or_include", "ignore"]),
        "Deprecated: use allow_including_files_in_images (include and download_or_include mean true).",
    )
    .deprecated(),
    field(
        "required_hub_plugins",
        Shape::Strings,
        "Deprecated and without effect (the ZenML Hub was removed).",
    )
    .deprecated(),
];
