//! `build_options` (in `build_config`, `parent_image_build_config` and the deprecated
//! top-level field): every Docker build option a ZenML user may write, in docker-py's
//! spelling (`buildargs`, `nocache`, `network_mode`, `container_limits`) or ZenML's /
//! the Docker CLI's (`build_args`, `no_cache`, `network`, `memory`), typed and checked here
//! so that each one reaches the engine's build request. An option the engine's build request
//! cannot carry, a docker-py argument Dockwright itself decides (`tag`, `dockerfile`) and an
//! unknown or misspelt key are errors at the line that wrote them, with the nearest name:
//! nothing is silently dropped (ZenML passes unknown keys on and lets the builder fail or
//! ignore them).

use std::collections::BTreeMap;

use serde::Serialize;

use super::reader::{Ctx, Result, index, join, key_position};
use super::yaml::{Node, Position, Value};
use crate::docker_syntax;

/// Docker build options, each under its canonical (ZenML / snake_case) name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct DockerBuildOptions {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pull: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rm: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub force_rm: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_cache: Option<bool>,
    /// Bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shm_size: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// Build arguments; each key also becomes an `ARG` line of the generated Dockerfile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build_args: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_from: Option<Vec<String>>,
    /// Multi-stage target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Network of `RUN` instructions (`bridge`, `host`, `none`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_mode: Option<String>,
    /// `os[/arch[/variant]]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// `host:ip` entries for `/etc/hosts` of `RUN` instructions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra_hosts: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_limits: Option<ContainerLimits>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub squash: Option<bool>,
    /// Which builder builds (the engine API's `version`): see [`BuilderVersion`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<BuilderVersion>,
}

/// The engine's builder, as its build request's `version` names it. Classic is Dockwright's
/// default (engines differ in their BuildKit support); BuildKit builds metadata instructions (`ENV`, `USER`, `LABEL`)
/// without a container and a commit each, which on engines where a commit walks the whole
/// file system (fuse-overlayfs, vfs) is most of a build's time, and it is what a cache
/// mount or a user Dockerfile's `RUN --mount` needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum BuilderVersion {
    #[serde(rename = "1")]
    Classic,
    #[serde(rename = "2")]
    BuildKit,
}

/// Resource limits of the build's `RUN` containers (docker-py's `container_limits`). The
/// numbers are 32-bit because the engine's build request (bollard 0.21) carries them so.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct ContainerLimits {
    /// Bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<i32>,
    /// Memory plus swap, bytes; -1 for unlimited swap.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memswap: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpushares: Option<i32>,
    /// CPUs allowed, e.g. `0-3` or `0,1`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpusetcpus: Option<String>,
    /// CFS period, microseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpuperiod: Option<i32>,
    /// CFS quota, microseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpuquota: Option<i32>,
}

/// Every accepted spelling and its canonical name: docker-py's keyword arguments, ZenML's
/// typed fields, and the Docker CLI's flags with `-` as `_` (how ZenML's CLI-based builders
/// spell extra keys). The container limits may also be written at the top level.
const SPELLINGS: &[(&str, &str)] = &[
    ("pull", "pull"),
    ("rm", "rm"),
    ("force_rm", "force_rm"),
    ("forcerm", "force_rm"),
    ("no_cache", "no_cache"),
    ("nocache", "no_cache"),
    ("shm_size", "shm_size"),
    ("shmsize", "shm_size"),
    ("labels", "labels"),
    ("label", "labels"),
    ("build_args", "build_args"),
    ("buildargs", "build_args"),
    ("build_arg", "build_args"),
    ("cache_from", "cache_from"),
    ("cachefrom", "cache_from"),
    ("target", "target"),
    ("network_mode", "network_mode"),
    ("networkmode", "network_mode"),
    ("network", "network_mode"),
    ("platform", "platform"),
    ("extra_hosts", "extra_hosts"),
    ("extrahosts", "extra_hosts"),
    ("add_host", "extra_hosts"),
    ("container_limits", "container_limits"),
    ("squash", "squash"),
    ("version", "version"),
    ("isolation", "isolation"),
    ("memory", "memory"),
    ("memswap", "memswap"),
    ("memory_swap", "memswap"),
    ("cpushares", "cpushares"),
    ("cpu_shares", "cpushares"),
    ("cpusetcpus", "cpusetcpus"),
    ("cpuset_cpus", "cpusetcpus"),
    ("cpuperiod", "cpuperiod"),
    ("cpu_period", "cpuperiod"),
    ("cpuquota", "cpuquota"),
    ("cpu_quota", "cpuquota"),
];

/// The keys of `container_limits`, in docker-py's spelling (the same aliases as above).
const LIMITS: [&str; 6] = [
    "memory",
    "memswap",
    "cpushares",
    "cpusetcpus",
    "cpuperiod",
    "cpuquota",
];

/// Options a ZenML user may know that cannot be honoured, and why.
const REFUSED: &[(&str, &str)] = &[
    (
        "ulimits",
        "the engine's build request as Dockwright sends it (bollard 0.21) has no ulimits; limit memory and CPU with `container_limits`",
    ),
    (
        "ulimit",
        "the engine's build request as Dockwright sends it (bollard 0.21) has no ulimits; limit memory and CPU with `container_limits`",
    ),
    (
        "tag",
        "Dockwright names the image (`target_repository`, `image_tag`)",
    ),
    (
        "t",
        "Dockwright names the image (`target_repository`, `image_tag`)",
    ),
    ("dockerfile", "the Dockerfile is the `dockerfile` setting"),
    ("file", "the Dockerfile is the `dockerfile` setting"),
    (
        "path",
        "the build context is `build_context_root` (or the project, for the generated image)",
    ),
    ("fileobj", "Dockwright sends the build context itself"),
    (
        "custom_context",
        "Dockwright sends the build context itself",
    ),
    ("encoding", "Dockwright sends the build context itself"),
    ("gzip", "Dockwright sends the build context itself"),
    (
        "quiet",
        "Dockwright reads the build output to show progress and failures",
    ),
    (
        "q",
        "Dockwright reads the build output to show progress and failures",
    ),
    ("decode", "Dockwright reads the build output itself"),
    ("timeout", "builds have no client timeout in Dockwright"),
    (
        "use_config_proxy",
        "pass proxies as `build_args` (HTTP_PROXY, ...) or `environment`",
    ),
    (
        "secret",
        "build secrets need a BuildKit session Dockwright does not offer",
    ),
    (
        "ssh",
        "SSH forwarding needs a BuildKit session Dockwright does not offer",
    ),
    (
        "output",
        "Dockwright builds into the engine's image store and pushes from there",
    ),
    (
        "outputs",
        "Dockwright builds into the engine's image store and pushes from there",
    ),
    (
        "cache_to",
        "the engine's build request cannot export a cache; use `cache_from` with a pushed image",
    ),
];

/// Reads a `build_options` mapping.
pub(crate) fn parse(ctx: &mut Ctx, node: &Node, path: &str) -> Result<DockerBuildOptions> {
    let entries = ctx.string_keyed(node, path)?;
    let mut options = DockerBuildOptions::default();
    let mut seen: BTreeMap<&str, (&str, &Node)> = BTreeMap::new();
    let mut limits = ContainerLimits::default();
    let mut has_limits = false;
    for (given, value) in &entries {
        let value_path = join(path, given);
        let key_at = key_position(node, given).unwrap_or(value.at);
        let name = canonical(ctx, given, key_at, &value_path)?;
        if let Some(first) = seen.insert(name, (given, value)) {
            return Err(same_option(ctx, name, first, (given, value), path));
        }
        if value.is_null() {
            continue;
        }
        if LIMITS.contains(&name) {
            has_limits = true;
            limit(ctx, &mut limits, name, value, &value_path)?;
            continue;
        }
        read_option(ctx, &mut options, name, value, &value_path)?;
    }
    if has_limits {
        merge_limits(ctx, &mut options, limits, &entries, path)?;
    }
    Ok(options)
}

/// Two spellings of one option: the error blames the one that is not the canonical name.
fn same_option(
    ctx: &Ctx,
    name: &str,
    first: (&str, &Node),
    second: (&str, &Node),
    path: &str,
) -> super::SettingsError {
    let (blamed, other) = if first.0 == name {
        (second, first)
    } else {
        (first, second)
    };
    let keep = if other.0 == name {
        format!("keep `{name}`")
    } else {
        "keep one".to_owned()
    };
    ctx.error(
        blamed.1.at,
        &join(path, blamed.0),
        format!("both `{}` and `{}` are given; {keep}", blamed.0, other.0),
    )
}

/// The canonical name of a key, or the error that says why it cannot be used.
fn canonical(ctx: &Ctx, given: &str, at: Position, path: &str) -> Result<&'static str> {
    if let Some((_, name)) = SPELLINGS.iter().find(|(s, _)| *s == given) {
        return Ok(name);
    }
    if let Some((_, why)) = REFUSED.iter().find(|(s, _)| *s == given) {
        return Err(ctx.error(
            at,
            path,
            format!("the build option `{given}` cannot be used: {why}"),
        ));
    }
    let known = SPELLINGS.iter().map(|(s, _)| *s);
    let help = match crate::suggest::closest(given, known) {
        Some(near) => format!("did you mean `{near}`?"),
        None => format!(
            "known build options: {}",
            SPELLINGS
                .iter()
                .filter(|(s, c)| s == c)
                .map(|(s, _)| *s)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    Err(ctx.error_with_help(at, path, format!("unknown build option `{given}`"), help))
}

fn read_option(
    ctx: &mut Ctx,
    options: &mut DockerBuildOptions,
    name: &str,
    value: &Node,
    path: &str,
) -> Result<()> {
    match name {
        "pull" => options.pull = Some(ctx.bool(value, path)?),
        "rm" => options.rm = Some(ctx.bool(value, path)?),
        "force_rm" => options.force_rm = Some(ctx.bool(value, path)?),
        "no_cache" => options.no_cache = Some(ctx.bool(value, path)?),
        "squash" => options.squash = Some(ctx.bool(value, path)?),
        "version" => options.version = Some(builder_version(ctx, value, path)?),
        "shm_size" => options.shm_size = Some(bytes(ctx, value, path)?),
        "labels" => options.labels = Some(ctx.string_map(value, path)?),
        "build_args" => options.build_args = Some(build_args(ctx, value, path)?),
        "cache_from" => options.cache_from = Some(ctx.string_list(value, path)?),
        "target" => options.target = Some(ctx.non_empty_string(value, path)?),
        "network_mode" => options.network_mode = Some(ctx.non_empty_string(value, path)?),
        "platform" => options.platform = Some(ctx.non_empty_string(value, path)?),
        "extra_hosts" => options.extra_hosts = Some(extra_hosts(ctx, value, path)?),
        "container_limits" => {
            let limits = container_limits(ctx, value, path)?;
            options.container_limits = Some(limits);
        }
        "isolation" => isolation(ctx, value, path)?,
        other => unreachable!("`{other}` has a reader"),
    }
    Ok(())
}

/// `version`: `1` (classic) or `2` (BuildKit), as a number or a string, as the engine's
/// build request and `DOCKER_BUILDKIT` spell it.
fn builder_version(ctx: &Ctx, value: &Node, path: &str) -> Result<BuilderVersion> {
    let written = match &value.value {
        Value::Int(n) => n.to_string(),
        Value::Str(s) => s.trim().to_owned(),
        _ => String::new(),
    };
    match written.as_str() {
        "1" => Ok(BuilderVersion::Classic),
        "2" => Ok(BuilderVersion::BuildKit),
        _ => Err(ctx.error_with_help(
            value.at,
            path,
            "`version` is the builder: 1 (classic) or 2 (BuildKit)",
            "write `version: 2` to build with BuildKit, or leave it out for the classic builder",
        )),
    }
}

/// Limits written at the top level join `container_limits`; one limit written in both
/// places is ambiguous.
fn merge_limits(
    ctx: &Ctx,
    options: &mut DockerBuildOptions,
    top: ContainerLimits,
    entries: &[(&str, &Node)],
    path: &str,
) -> Result<()> {
    let Some(nested) = options.container_limits.take() else {
        options.container_limits = Some(top);
        return Ok(());
    };
    let pick = |a: Option<i32>, b: Option<i32>, name: &str| -> Result<Option<i32>> {
        match (a, b) {
            (Some(_), Some(_)) => Err(both_limits(ctx, entries, path, name)),
            (a, b) => Ok(a.or(b)),
        }
    };
    let cpusetcpus = match (top.cpusetcpus, nested.cpusetcpus) {
        (Some(_), Some(_)) => return Err(both_limits(ctx, entries, path, "cpusetcpus")),
        (a, b) => a.or(b),
    };
    options.container_limits = Some(ContainerLimits {
        memory: pick(top.memory, nested.memory, "memory")?,
        memswap: pick(top.memswap, nested.memswap, "memswap")?,
        cpushares: pick(top.cpushares, nested.cpushares, "cpushares")?,
        cpusetcpus,
        cpuperiod: pick(top.cpuperiod, nested.cpuperiod, "cpuperiod")?,
        cpuquota: pick(top.cpuquota, nested.cpuquota, "cpuquota")?,
    });
    Ok(())
}

fn both_limits(
    ctx: &Ctx,
    entries: &[(&str, &Node)],
    path: &str,
    name: &str,
) -> super::SettingsError {
    let (given, node) = entries
        .iter()
        .find(|(k, _)| SPELLINGS.iter().any(|(s, c)| s == k && *c == name))
        .copied()
        .unwrap_or((name, entries[0].1));
    ctx.error(
        node.at,
        &join(path, given),
        format!("`{name}` is given both here and in `container_limits`; keep one"),
    )
}

fn container_limits(ctx: &mut Ctx, node: &Node, path: &str) -> Result<ContainerLimits> {
    let mut limits = ContainerLimits::default();
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for (given, value) in ctx.string_keyed(node, path)? {
        let value_path = join(path, given);
        let name = SPELLINGS
            .iter()
            .find(|(s, c)| *s == given && LIMITS.contains(c))
            .map(|(_, c)| *c)
            .ok_or_else(|| {
                ctx.error_with_help(
                    value.at,
                    &value_path,
                    format!("unknown container limit `{given}`"),
                    crate::suggest::closest(given, LIMITS)
                        .map(|near| format!("did you mean `{near}`?"))
                        .unwrap_or_else(|| format!("known limits: {}", LIMITS.join(", "))),
                )
            })?;
        if let Some(first) = seen.insert(name, given) {
            return Err(ctx.error(
                value.at,
                &value_path,
                format!("both `{first}` and `{given}` are given; keep one"),
            ));
        }
        if !value.is_null() {
            limit(ctx, &mut limits, name, value, &value_path)?;
        }
    }
    Ok(limits)
}

fn limit(
    ctx: &Ctx,
    limits: &mut ContainerLimits,
    name: &str,
    value: &Node,
    path: &str,
) -> Result<()> {
    match name {
        "memory" => limits.memory = Some(bytes(ctx, value, path)?),
        "memswap" => limits.memswap = Some(memswap(ctx, value, path)?),
        "cpushares" => limits.cpushares = Some(int32(ctx, value, path)?),
        "cpusetcpus" => limits.cpusetcpus = Some(ctx.non_empty_string(value, path)?),
        "cpuperiod" => limits.cpuperiod = Some(int32(ctx, value, path)?),
        "cpuquota" => limits.cpuquota = Some(int32(ctx, value, path)?),
        other => unreachable!("`{other}` is a limit"),
    }
    Ok(())
}

/// Why a number must fit 32 bits, for the messages.
const BOLLARD_I32: &str = "the engine's build request (bollard 0.21) carries it as a 32-bit number, so at most 2147483647";

/// A non-negative integer that fits the request's 32-bit field.
fn int32(ctx: &Ctx, node: &Node, path: &str) -> Result<i32> {
    let n = ctx.unsigned(node, path)?;
    i32::try_from(n)
        .map_err(|_| ctx.error(node.at, path, format!("{n} is too large: {BOLLARD_I32}")))
}

/// `memswap`: bytes as for `memory`, or -1 for unlimited swap.
fn memswap(ctx: &Ctx, node: &Node, path: &str) -> Result<i32> {
    match node.value {
        Value::Int(-1) => Ok(-1),
        _ => bytes(ctx, node, path),
    }
}

/// A size in bytes: an integer, or a string with Docker's binary units (`512m`, `2g`).
fn bytes(ctx: &Ctx, node: &Node, path: &str) -> Result<i32> {
    let n: u64 = match &node.value {
        Value::Str(text) => parse_size(text).ok_or_else(|| {
            ctx.error_with_help(
                node.at,
                path,
                format!("`{text}` is not a size"),
                "write bytes as a number, or a number with a unit: b, k, m or g (e.g. 512m)",
            )
        })?,
        _ => ctx.unsigned(node, path).map_err(|_| {
            ctx.error(
                node.at,
                path,
                format!(
                    "expected a size in bytes (e.g. 536870912 or 512m), found {}",
                    node.kind()
                ),
            )
        })?,
    };
    i32::try_from(n).map_err(|_| {
        ctx.error(
            node.at,
            path,
            format!("{n} bytes is too large: {BOLLARD_I32}"),
        )
    })
}

/// Docker's `RAMInBytes`: a number with an optional binary unit (b, k, m, g, t; `kb`,
/// `mib`... also accepted).
fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim().to_ascii_lowercase();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let number: u64 = number.parse().ok()?;
    let unit = unit.trim();
    let unit = unit
        .strip_suffix("ib")
        .or_else(|| unit.strip_suffix('b'))
        .unwrap_or(unit);
    let shift = match unit {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        _ => return None,
    };
    number.checked_mul(1u64 << shift)
}

/// `extra_hosts`: a mapping host → IP (docker-py) or a list of `host:ip` (the CLI's
/// `--add-host`). The engine's build request carries one entry (bollard 0.21 sends a
/// single `extrahosts` value; the engine wants one parameter per host).
fn extra_hosts(ctx: &Ctx, node: &Node, path: &str) -> Result<Vec<String>> {
    let hosts: Vec<(String, &Node)> = match &node.value {
        Value::Map(_) => ctx
            .string_keyed(node, path)?
            .into_iter()
            .map(|(host, ip)| {
                let ip = ctx.non_empty_string(ip, &join(path, host))?;
                Ok((format!("{host}:{ip}"), node))
            })
            .collect::<Result<_>>()?,
        Value::Seq(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let entry = ctx.non_empty_string(item, &index(path, i))?;
                if !entry.contains(':') {
                    return Err(ctx.error(
                        item.at,
                        &index(path, i),
                        format!("`{entry}` is not `host:ip`"),
                    ));
                }
                Ok((entry, item))
            })
            .collect::<Result<_>>()?,
        _ => {
            return Err(ctx.error(
                node.at,
                path,
                format!(
                    "expected a mapping of host to IP address, found {}",
                    node.kind()
                ),
            ));
        }
    };
    if hosts.len() > 1 {
        return Err(ctx.error(
            node.at,
            path,
            format!(
                "{} extra hosts are given, but the engine's build request (bollard 0.21) carries one; keep one",
                hosts.len()
            ),
        ));
    }
    Ok(hosts.into_iter().map(|(entry, _)| entry).collect())
}

/// `isolation`: only the engine's default exists on Linux engines, and the build request
/// (bollard 0.21) has no field for another.
fn isolation(ctx: &Ctx, node: &Node, path: &str) -> Result<()> {
    let value = ctx.non_empty_string(node, path)?;
    if value == "default" {
        return Ok(());
    }
    Err(ctx.error(
        node.at,
        path,
        format!(
            "isolation `{value}` cannot be used: the engine's build request (bollard 0.21) has no isolation field, and Linux engines know only `default`"
        ),
    ))
}

fn build_args(ctx: &Ctx, node: &Node, path: &str) -> Result<BTreeMap<String, String>> {
    let args = ctx.string_map(node, path)?;
    for (name, value) in ctx.string_keyed(node, path)? {
        if let Err(message) = docker_syntax::check_env_key(name) {
            return Err(ctx.error(
                value.at,
                &join(path, name),
                message.replace("environment variable", "build argument"),
            ));
        }
    }
    Ok(args)
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_read_as_docker_reads_them() {
        assert_eq!(parse_size("64"), Some(64));
        assert_eq!(parse_size("64b"), Some(64));
        assert_eq!(parse_size("512k"), Some(512 << 10));
        assert_eq!(parse_size("512M"), Some(512 << 20));
        assert_eq!(parse_size("1g"), Some(1 << 30));
        assert_eq!(parse_size("1GiB"), Some(1 << 30));
        assert_eq!(parse_size("1gb"), Some(1 << 30));
        assert_eq!(parse_size("lots"), None);
        assert_eq!(parse_size("1x"), None);
        assert_eq!(parse_size(""), None);
    }
}
