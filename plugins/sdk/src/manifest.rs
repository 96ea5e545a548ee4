//! The plugin manifest, encoded as JSON at compile time into the `dockwright-manifest` custom
//! section, so the host can read who a plugin is and what it asks for without compiling it.

/// What a plugin says about itself. Built by [`manifest!`](crate::manifest!).
pub struct Manifest {
    pub name: &'static str,
    pub version: &'static str,
    /// The plugin API versions it works with, a semver range ("^1.0").
    pub api: &'static str,
    /// The requirement group it serves: "local", "requirements" or "integrations".
    pub group: &'static str,
    /// Capabilities it asks for: "read" (read-only directories), "exec:<program>".
    pub capabilities: &'static [&'static str],
    pub description: &'static str,
}

/// Declares the plugin's manifest. Name and version come from the crate's `Cargo.toml`.
///
/// ```ignore
/// dockwright_plugin_sdk::manifest! {
///     group: "requirements",
///     capabilities: ["read", "exec:poetry"],
///     description: "The `requirements` attribute",
/// }
/// ```
#[macro_export]
macro_rules! manifest {
    (group: $group:expr, $(capabilities: [$($cap:expr),* $(,)?],)? description: $description:expr $(,)?) => {
        const _: () = {
            const MANIFEST: $crate::manifest::Manifest = $crate::manifest::Manifest {
                name: env!("CARGO_PKG_NAME"),
                version: env!("CARGO_PKG_VERSION"),
                api: $crate::API_RANGE,
                group: $group,
                capabilities: &[$($($cap),*)?],
                description: $description,
            };
            const LEN: usize = $crate::manifest::encoded_len(&MANIFEST);
            #[unsafe(link_section = "dockwright-manifest")]
            #[used]
            static SECTION: [u8; LEN] = $crate::manifest::encode::<LEN>(&MANIFEST);
        };
    };
}

/// Length of [`encode`]'s output.
pub const fn encoded_len(m: &Manifest) -> usize {
    let mut out = Writer {
        buf: [0u8; 0],
        len: 0,
        measure: true,
    };
    write_manifest(&mut out, m);
    out.len
}

/// The manifest as JSON bytes.
pub const fn encode<const N: usize>(m: &Manifest) -> [u8; N] {
    let mut out = Writer {
        buf: [0u8; N],
        len: 0,
        measure: false,
    };
    write_manifest(&mut out, m);
    out.buf
}

struct Writer<const N: usize> {
    buf: [u8; N],
    len: usize,
    measure: bool,
}

impl<const N: usize> Writer<N> {
    const fn byte(&mut self, b: u8) {
        if !self.measure {
            self.buf[self.len] = b;
        }
        self.len += 1;
    }

    const fn raw(&mut self, s: &str) {
        let bytes = s.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            self.byte(bytes[i]);
            i += 1;
        }
    }

    /// A JSON string; control characters become spaces.
    const fn string(&mut self, s: &str) {
        self.byte(b'"');
        let bytes = s.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b == b'"' || b == b'\\' {
                self.byte(b'\\');
                self.byte(b);
            } else if b < 0x20 {
                self.byte(b' ');
            } else {
                self.byte(b);
            }
            i += 1;
        }
        self.byte(b'"');
    }

    const fn field(&mut self, key: &str, value: &str, first: bool) {
        if !first {
            self.byte(b',');
        }
        self.string(key);
        self.byte(b':');
        self.string(value);
    }
}

const fn write_manifest<const N: usize>(out: &mut Writer<N>, m: &Manifest) {
    out.byte(b'{');
    out.field("name", m.name, true);
    out.field("version", m.version, false);
    out.field("api", m.api, false);
    out.field("group", m.group, false);
    out.field("description", m.description, false);
    out.raw(",\"capabilities\":[");
    let mut i = 0;
    while i < m.capabilities.len() {
        if i > 0 {
            out.byte(b',');
        }
        out.string(m.capabilities[i]);
        i += 1;
    }
    out.raw("]}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_valid_json() {
        const M: Manifest = Manifest {
            name: "acme",
            version: "1.2.3",
            api: "^1.0",
            group: "integrations",
            capabilities: &["read", "exec:poetry"],
            description: "say \"hi\"\\\n",
        };
        const LEN: usize = encoded_len(&M);
        let bytes = encode::<LEN>(&M);
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["name"], "acme");
        assert_eq!(v["capabilities"][1], "exec:poetry");
        assert_eq!(v["description"], "say \"hi\"\\ ");
    }
}
