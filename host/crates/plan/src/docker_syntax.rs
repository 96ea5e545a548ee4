//! Facts about Docker's and Debian's syntax that decide whether a value can be written into a
//! Dockerfile line as is: environment names and values, apt package specs, users, installer
//! options, single-line commands, image references, context paths, and POSIX shell quoting.
//! Settings validation, the Dockerfile renderer and the plugin boundary all check with these,
//! so a value one of them accepts is one the others accept.

/// POSIX shell quoting: plain words stay as they are, anything else is single-quoted.
pub(crate) fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// An environment variable (or build argument) name: `[A-Za-z_][A-Za-z0-9_]*`.
pub(crate) fn check_env_key(key: &str) -> Result<(), String> {
    let valid = key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "`{key}` is not a valid environment variable name: use letters, digits and `_`, not starting with a digit"
        ))
    }
}

/// An environment value: anything but NUL, which no environment can hold.
pub(crate) fn check_env_value(value: &str) -> Result<(), String> {
    if value.contains('\0') {
        Err("contains a NUL character, which an environment variable cannot hold".into())
    } else {
        Ok(())
    }
}

/// A Debian package name (policy §5.6.1: lower-case letters, digits, `+`, `-`, `.`, at
/// least two characters, starting alphanumeric), optionally with `:arch` and then
/// `=version` or `/release`.
pub fn check_apt_package(spec: &str) -> Result<(), String> {
    let (name_arch, selector) = match spec.find(['=', '/']) {
        Some(i) => (&spec[..i], Some(&spec[i + 1..])),
        None => (spec, None),
    };
    let (name, arch) = match name_arch.split_once(':') {
        Some((name, arch)) => (name, Some(arch)),
        None => (name_arch, None),
    };
    let name_ok = name.len() >= 2
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c));
    let arch_ok = arch
        .is_none_or(|a| !a.is_empty() && a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    let selector_ok = selector.is_none_or(|s| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".+~:-_".contains(c))
    });
    if name_ok && arch_ok && selector_ok {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not a Debian package name (lower-case letters, digits, `+`, `-`, `.`; optionally `:arch`, `=version` or `/release`)",
            spec.escape_debug()
        ))
    }
}

/// A user for `USER` and `chown`: a name or id, optionally `:group`.
pub(crate) fn check_user(user: &str) -> Result<(), String> {
    let part_ok = |p: &str| {
        p.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
    };
    let valid = match user.split_once(':') {
        Some((name, group)) => part_ok(name) && part_ok(group),
        None => part_ok(user),
    };
    if valid {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not a user name: use a name or id of letters, digits, `_`, `.` and `-`, optionally `:group`",
            user.escape_debug()
        ))
    }
}

/// An installer option name as ZenML writes it: without the leading dashes.
pub(crate) fn check_installer_option(name: &str) -> Result<(), String> {
    if let Some(stripped) = name.strip_prefix('-') {
        return Err(format!(
            "write the option without leading dashes: `{}`",
            stripped.trim_start_matches('-')
        ));
    }
    let valid = name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not an option name (letters, digits, `-` and `_`)",
            name.escape_debug()
        ))
    }
}

/// Text that goes into one `RUN` line as is: no line breaks, no trailing backslash
/// (which would continue the instruction on the next line).
pub(crate) fn check_single_line(text: &str) -> Result<(), String> {
    if text.contains(['\n', '\r', '\0']) {
        Err("must be a single line".into())
    } else if text.trim_end().ends_with('\\') {
        Err("must not end with a backslash (it would continue the instruction)".into())
    } else {
        Ok(())
    }
}

pub(crate) fn check_image_reference(image: &str) -> Result<(), String> {
    let valid = !image.is_empty()
        && image
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._:/@-".contains(c));
    if valid {
        Ok(())
    } else {
        Err("an image reference has only letters, digits and `._:/@-`".into())
    }
}

/// A relative path inside the build context, without `..` or characters `COPY` would
/// interpret (`$` expands, spaces split).
pub(crate) fn check_context_path(path: &str) -> Result<(), String> {
    let valid = !path.is_empty()
        && !path.starts_with('/')
        && path.split('/').all(|part| !part.is_empty() && part != "..")
        && path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/".contains(c));
    if valid {
        Ok(())
    } else {
        Err("must be a relative path of letters, digits and `._-/`, without `..`".into())
    }
}
