//! Image references as the Docker CLI reads them: `[registry/]repository[:tag]`, enough to
//! tag an image, pick the registry whose credentials a push needs, and find the pushed digest.

use super::error::EngineError;

/// Docker Hub, as its credentials are keyed in `~/.docker/config.json`.
const DOCKER_HUB_AUTH_KEY: &str = "https://index.docker.io/v1/";

/// A reference split into repository and tag (`localhost:5000/team/app` + `v1`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageReference {
    pub repository: String,
    pub tag: String,
}

impl ImageReference {
    /// Parses `name`; a missing tag means `latest`. Digest references (`@sha256:`) cannot be
    /// tagged or pushed and are refused.
    pub fn parse(name: &str) -> Result<ImageReference, EngineError> {
        let invalid = |reason: &str| EngineError::InvalidReference {
            reference: name.to_string(),
            reason: reason.to_string(),
        };
        if name.is_empty() {
            return Err(invalid("it is empty"));
        }
        if name.contains('@') {
            return Err(invalid(
                "a digest reference cannot be tagged or pushed; give a tag instead",
            ));
        }
        let last_slash = name.rfind('/').map_or(0, |i| i + 1);
        let (repository, tag) = match name[last_slash..].rfind(':') {
            Some(colon) => (&name[..last_slash + colon], &name[last_slash + colon + 1..]),
            None => (name, "latest"),
        };
        // Docker allows capitals in a tag (`app:V1`), never in the repository.
        if repository
            .chars()
            .any(|c| c.is_whitespace() || c.is_ascii_uppercase())
        {
            return Err(invalid(
                "repository names are lower-case and contain no spaces",
            ));
        }
        if repository.is_empty() || repository.ends_with('/') {
            return Err(invalid("the repository name is missing"));
        }
        if tag.is_empty()
            || tag.len() > 128
            || !tag
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        {
            return Err(invalid(
                "a tag is 1 to 128 letters, digits, '_', '.' or '-'",
            ));
        }
        Ok(ImageReference {
            repository: repository.to_string(),
            tag: tag.to_string(),
        })
    }

    /// The registry host the repository lives in (`docker.io` when none is named).
    pub fn registry(&self) -> &str {
        match self.repository.split_once('/') {
            Some((first, _))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                first
            }
            _ => "docker.io",
        }
    }

    /// The key under which the Docker config stores this registry's credentials.
    pub(crate) fn auth_key(&self) -> String {
        match self.registry() {
            "docker.io" => DOCKER_HUB_AUTH_KEY.to_string(),
            host => host.to_string(),
        }
    }
}

impl std::fmt::Display for ImageReference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.repository, self.tag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_tags_without_mistaking_a_registry_port_for_one() {
        let r = ImageReference::parse("127.0.0.1:5000/team/app:v1").unwrap();
        assert_eq!(
            (r.repository.as_str(), r.tag.as_str(), r.registry()),
            ("127.0.0.1:5000/team/app", "v1", "127.0.0.1:5000")
        );
        let r = ImageReference::parse("localhost:5000/app").unwrap();
        assert_eq!((r.tag.as_str(), r.registry()), ("latest", "localhost:5000"));
        let r = ImageReference::parse("team/app:1.0").unwrap();
        assert_eq!(
            (r.registry(), r.auth_key().as_str()),
            ("docker.io", DOCKER_HUB_AUTH_KEY)
        );
    }

    #[test]
    fn refuses_what_docker_would_refuse() {
        for bad in [
            "",
            "app@sha256:abc",
            "App:1",
            "app:",
            "app:bad tag",
            "registry:5000/",
        ] {
            assert!(ImageReference::parse(bad).is_err(), "{bad:?} was accepted");
        }
        let r = ImageReference::parse("team/app:Release-V1").unwrap();
        assert_eq!(r.tag, "Release-V1", "capitals are allowed in a tag");
    }
}
