//! The settings `local-env` serves: `replicate_local_python_environment` (parsed the way
//! ZenML's DockerSettings reads it) and what the host adds: the `site_packages` directories it
//! located and, optionally, the local interpreter's `python_version`.

use serde_json::Value;

use crate::Error;

/// The part of the settings the plugin is given.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Settings {
    #[serde(default)]
    pub replicate_local_python_environment: Value,
    /// The environment's site-packages directories, in `sys.path` order (added by the host).
    #[serde(default)]
    pub site_packages: Vec<String>,
    /// `X.Y` of the local interpreter, when the host knows it; otherwise it is read from the
    /// `lib/pythonX.Y/site-packages` path.
    #[serde(default)]
    pub python_version: Option<String>,
}

/// How the local environment is replicated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Method {
    /// `pip_freeze` or `true`: what `pip freeze` prints, from the files.
    PipFreeze,
    /// `uv_freeze`: what `uv pip freeze` prints, from the files.
    UvFreeze,
    /// `poetry_export`: the output of `poetry export --format=requirements.txt`.
    PoetryExport,
    /// A command list: its output. The first word is the program, run without a shell.
    Command(Vec<String>),
}

const FIELD: &str = "replicate_local_python_environment";

/// The method the setting asks for; `None` when it is unset or false.
///
/// Like ZenML: a list of strings is a command; `pip_freeze`, `uv_freeze` and `poetry_export`
/// name a method; otherwise a (lax) boolean, where true means `pip_freeze`.
pub fn method(value: &Value) -> Result<Option<Method>, Error> {
    match value {
        Value::Null | Value::Bool(false) => Ok(None),
        Value::Bool(true) => Ok(Some(Method::PipFreeze)),
        Value::Array(words) => command(words).map(Some),
        Value::String(s) => match s.as_str() {
            "pip_freeze" => Ok(Some(Method::PipFreeze)),
            "uv_freeze" => Ok(Some(Method::UvFreeze)),
            "poetry_export" => Ok(Some(Method::PoetryExport)),
            other => match other.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(Some(Method::PipFreeze)),
                "false" | "0" | "no" | "off" => Ok(None),
                _ => Err(Error::Invalid(format!(
                    "{FIELD}: `{other}` is not a method; use pip_freeze, uv_freeze, poetry_export, \
                     true, or a command list such as [\"pip\", \"freeze\"]"
                ))),
            },
        },
        Value::Number(n) => match n.as_u64() {
            Some(1) => Ok(Some(Method::PipFreeze)),
            Some(0) => Ok(None),
            _ => Err(Error::Invalid(format!("{FIELD}: {n} is not a boolean"))),
        },
        Value::Object(_) => Err(Error::Invalid(format!(
            "{FIELD}: a mapping is not allowed; use a method name, true, or a command list"
        ))),
    }
}

fn command(words: &[Value]) -> Result<Method, Error> {
    let mut out = Vec::with_capacity(words.len());
    for (i, word) in words.iter().enumerate() {
        match word {
            Value::String(s) => out.push(s.clone()),
            other => {
                return Err(Error::Invalid(format!(
                    "{FIELD}[{i}]: {other} is not a string"
                )));
            }
        }
    }
    if out.first().is_none_or(|p| p.trim().is_empty()) {
        return Err(Error::Invalid(format!(
            "{FIELD}: the command list is empty; give the program and its arguments"
        )));
    }
    Ok(Method::Command(out))
}

/// `(major, minor)` of the local interpreter: the explicit setting, else the last
/// `pythonX.Y` component of a site-packages path.
pub fn python_version(settings: &Settings) -> Result<Option<(u32, u32)>, Error> {
    if let Some(v) = &settings.python_version {
        return parse_major_minor(v)
            .map(Some)
            .ok_or_else(|| Error::Invalid(format!("python_version: `{v}` is not `X.Y`")));
    }
    Ok(settings.site_packages.iter().find_map(|dir| {
        dir.rsplit('/')
            .find_map(|part| part.strip_prefix("python").and_then(parse_major_minor))
    }))
}

fn parse_major_minor(s: &str) -> Option<(u32, u32)> {
    let mut parts = s.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn methods_parse_like_zenml() {
        assert_eq!(method(&json!(true)).unwrap(), Some(Method::PipFreeze));
        assert_eq!(method(&json!("yes")).unwrap(), Some(Method::PipFreeze));
        assert_eq!(method(&json!("off")).unwrap(), None);
        assert_eq!(method(&json!(null)).unwrap(), None);
        assert_eq!(method(&json!("uv_freeze")).unwrap(), Some(Method::UvFreeze));
        assert_eq!(
            method(&json!(["poetry", "export"])).unwrap(),
            Some(Method::Command(vec!["poetry".into(), "export".into()]))
        );
        let err = method(&json!("pip freeze")).unwrap_err();
        assert!(matches!(err, Error::Invalid(m) if m.contains("`pip freeze`")));
        assert!(matches!(method(&json!([])), Err(Error::Invalid(_))));
        assert!(matches!(method(&json!(["pip", 3])), Err(Error::Invalid(m)) if m.contains("[1]")));
    }

    #[test]
    fn python_version_comes_from_the_path_or_the_setting() {
        let mut s = Settings {
            site_packages: vec!["/venv/lib/python3.12/site-packages".into()],
            ..Settings::default()
        };
        assert_eq!(python_version(&s).unwrap(), Some((3, 12)));
        s.python_version = Some("3.10".into());
        assert_eq!(python_version(&s).unwrap(), Some((3, 10)));
        s.python_version = Some("three".into());
        assert!(python_version(&s).is_err());
        s.python_version = None;
        s.site_packages = vec!["/opt/env/Lib/site-packages".into()];
        assert_eq!(python_version(&s).unwrap(), None);
    }
}
