//! moby's `patternmatcher` and `ignorefile` test cases, transcribed as tables, plus every
//! example of Docker's `.dockerignore` documentation.

use std::path::Path;

use super::*;

#[derive(Clone, Copy, PartialEq, Debug)]
enum Expect {
    Fail,
    Exact,
    Inexact,
}
use Expect::{Exact, Fail, Inexact};

fn rules(patterns: &[&str]) -> IgnoreRules {
    IgnoreRules::new(patterns)
        .unwrap_or_else(|(index, error)| panic!("pattern {:?} rejected: {error}", patterns[index]))
}

/// moby's package-level `MatchesOrParentMatches(file, patterns)`: the file is cleaned
/// first and `.` never matches.
fn matches(file: &str, patterns: &[&str]) -> Result<bool, PatternError> {
    let rules = IgnoreRules::new(patterns).map_err(|(_, error)| error)?;
    let file = go_clean(file);
    if file == "." {
        return Ok(false);
    }
    Ok(rules.matches_or_parent_matches(&file))
}

/// Matches `text` the way the walker does: each parent directory first, handing its
/// per-pattern results down (moby's `MatchesUsingParentResults` test helper).
fn matches_walking(rules: &IgnoreRules, text: &str) -> bool {
    let parent = go_dir(text);
    let mut info = ParentMatches::default();
    if parent != "." {
        let dirs: Vec<&str> = parent.split('/').collect();
        for depth in 1..=dirs.len() {
            info = rules
                .matches_using_parent_results(&dirs[..depth].join("/"), &info)
                .1;
        }
    }
    rules.matches_using_parent_results(text, &info).0
}

// TestMatches (moby/patternmatcher), the Unix cases included.
const MATCHES: &[(&str, &str, Expect)] = &[
    ("**", "file", Exact),
    ("**", "file/", Exact),
    ("**/", "file", Exact),
    ("**/", "file/", Exact),
    ("**", "/", Exact),
    ("**/", "/", Exact),
    ("**", "dir/file", Exact),
    ("**/", "dir/file", Exact),
    ("**", "dir/file/", Exact),
    ("**/", "dir/file/", Exact),
    ("**/**", "dir/file", Exact),
    ("**/**", "dir/file/", Exact),
    ("dir/**", "dir/file", Exact),
    ("dir/**", "dir/file/", Exact),
    ("dir/**", "dir/dir2/file", Exact),
    ("dir/**", "dir/dir2/file/", Exact),
    ("**/dir", "dir", Exact),
    ("**/dir", "dir/file", Inexact),
    ("**/dir2/*", "dir/dir2/file", Exact),
    ("**/dir2/*", "dir/dir2/file/", Inexact),
    ("**/dir2/**", "dir/dir2/dir3/file", Exact),
    ("**/dir2/**", "dir/dir2/dir3/file/", Exact),
    ("**file", "file", Exact),
    ("**file", "dir/file", Exact),
    ("**/file", "dir/file", Exact),
    ("**file", "dir/dir/file", Exact),
    ("**/file", "dir/dir/file", Exact),
    ("**/file*", "dir/dir/file", Exact),
    ("**/file*", "dir/dir/file.txt", Exact),
    ("**/file*txt", "dir/dir/file.txt", Exact),
    ("**/file*.txt", "dir/dir/file.txt", Exact),
    ("**/file*.txt*", "dir/dir/file.txt", Exact),
    ("**/**/*.txt", "dir/dir/file.txt", Exact),
    ("**/**/*.txt2", "dir/dir/file.txt", Fail),
    ("**/*.txt", "file.txt", Exact),
    ("**/**/*.txt", "file.txt", Exact),
    ("a**/*.txt", "a/file.txt", Exact),
    ("a**/*.txt", "a/dir/file.txt", Exact),
    ("a**/*.txt", "a/dir/dir/file.txt", Exact),
    ("a/*.txt", "a/dir/file.txt", Fail),
    ("a/*.txt", "a/file.txt", Exact),
    ("a/*.txt**", "a/file.txt", Exact),
    ("a[b-d]e", "ae", Fail),
    ("a[b-d]e", "ace", Exact),
    ("a[b-d]e", "aae", Fail),
    ("a[^b-d]e", "aze", Exact),
    (".*", ".foo", Exact),
    (".*", "foo", Fail),
    ("abc.def", "abcdef", Fail),
    ("abc.def", "abc.def", Exact),
    ("abc.def", "abcZdef", Fail),
    ("abc?def", "abcZdef", Exact),
    ("abc?def", "abcdef", Fail),
    ("**/foo/bar", "foo/bar", Exact),
    ("**/foo/bar", "dir/foo/bar", Exact),
    ("**/foo/bar", "dir/dir2/foo/bar", Exact),
    ("abc/**", "abc", Fail),
    ("abc/**", "abc/def", Exact),
    ("abc/**", "abc/def/ghi", Exact),
    ("**/.foo", ".foo", Exact),
    ("**/.foo", "bar.foo", Fail),
    ("a(b)c/def", "a(b)c/def", Exact),
    ("a(b)c/def", "a(b)c/xyz", Fail),
    ("a.|)$(}+{bc", "a.|)$(}+{bc", Exact),
    (
        "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
        "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
        Exact,
    ),
    (
        "dist/*.whl",
        "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
        Exact,
    ),
    ("a\\\\", "a\\", Exact),
    ("a\\*b", "a*b", Exact),
];

// TestMatches' multiPatternTests.
const MULTI_PATTERN_MATCHES: &[(&[&str], &str, Expect)] = &[
    (&["**", "!util/docker/web"], "util/docker/web/foo", Fail),
    (
        &["**", "!util/docker/web", "util/docker/web/foo"],
        "util/docker/web/foo",
        Exact,
    ),
    (
        &[
            "**",
            "!dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
        ],
        "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
        Fail,
    ),
    (
        &["**", "!dist/*.whl"],
        "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
        Fail,
    ),
];

#[test]
fn moby_matches_exact() {
    for &(pattern, text, expect) in MATCHES {
        let got = rules(&[pattern]).matches_exact(text);
        assert_eq!(got, expect == Exact, "pattern={pattern:?} text={text:?}");
    }
}

#[test]
fn moby_matches_or_parent_matches() {
    for &(pattern, text, expect) in MATCHES {
        let got = rules(&[pattern]).matches_or_parent_matches(text);
        assert_eq!(got, expect != Fail, "pattern={pattern:?} text={text:?}");
    }
    for &(patterns, text, expect) in MULTI_PATTERN_MATCHES {
        let got = rules(patterns).matches_or_parent_matches(text);
        assert_eq!(got, expect != Fail, "patterns={patterns:?} text={text:?}");
    }
}

#[test]
fn moby_matches_using_parent_results() {
    for &(pattern, text, expect) in MATCHES {
        let got = matches_walking(&rules(&[pattern]), text);
        assert_eq!(got, expect != Fail, "pattern={pattern:?} text={text:?}");
    }
    for &(patterns, text, expect) in MULTI_PATTERN_MATCHES {
        let got = matches_walking(&rules(patterns), text);
        assert_eq!(got, expect != Fail, "patterns={patterns:?} text={text:?}");
    }
}

#[test]
fn moby_matches_using_parent_results_without_context() {
    for &(pattern, text, expect) in MATCHES {
        let got = rules(&[pattern])
            .matches_using_parent_results(text, &ParentMatches::default())
            .0;
        assert_eq!(got, expect != Fail, "pattern={pattern:?} text={text:?}");
    }
    for &(patterns, text, expect) in MULTI_PATTERN_MATCHES {
        let got = rules(patterns)
            .matches_using_parent_results(text, &ParentMatches::default())
            .0;
        assert_eq!(got, expect != Fail, "patterns={patterns:?} text={text:?}");
    }
}

// The single-function tests of moby's patternmatcher_test.go.
#[test]
fn moby_simple_cases() {
    assert_eq!(matches("fileutils.go", &["*"]), Ok(true)); // TestWildcardMatches
    assert_eq!(matches("fileutils.go", &["*.go"]), Ok(true)); // TestPatternMatches
    // TestExclusionPatternMatchesPatternBefore
    assert_eq!(
        matches("fileutils.go", &["!fileutils.go", "*.go"]),
        Ok(true)
    );
    // TestPatternMatchesFolderExclusions / ...WithSlashExclusions / ...WildcardExclusions
    assert_eq!(
        matches("docs/README.md", &["docs", "!docs/README.md"]),
        Ok(false)
    );
    assert_eq!(
        matches("docs/README.md", &["docs/", "!docs/README.md"]),
        Ok(false)
    );
    assert_eq!(
        matches("docs/README.md", &["docs/*", "!docs/README.md"]),
        Ok(false)
    );
    // TestExclusionPatternMatchesPatternAfter
    assert_eq!(
        matches("fileutils.go", &["*.go", "!fileutils.go"]),
        Ok(false)
    );
    // TestExclusionPatternMatchesWholeDirectory
    assert_eq!(matches(".", &["*.go"]), Ok(false));
    // TestSingleExclamationError
    assert!(matches("fileutils.go", &["!"]).is_err());
    // TestMatchesWithNoPatterns
    assert_eq!(matches("/any/path/there", &[]), Ok(false));
    // TestMatchesWithMalformedPatterns
    assert!(matches("/any/path/there", &["["]).is_err());
}

#[test]
fn moby_clean_patterns() {
    // TestCleanPatterns, ...StripEmptyPatterns
    assert_eq!(rules(&["docs", "config"]).patterns().len(), 2);
    assert_eq!(rules(&["docs", "config", ""]).patterns().len(), 2);
    // TestCleanPatternsExceptionFlag, ...LeadingSpaceTrimmed, ...TrailingSpaceTrimmed
    assert!(rules(&["docs", "!docs/README.md"]).has_exceptions());
    assert!(rules(&["docs", "  !docs/README.md"]).has_exceptions());
    assert!(rules(&["docs", "!docs/README.md  "]).has_exceptions());
    assert!(!rules(&["docs", "config"]).has_exceptions());
    // TestCleanPatternsErrorSingleException
    assert!(IgnoreRules::new(&["!"]).is_err());
}

// TestMatch: Go's own filepath.Match cases, run through the pattern matcher.
const GO_MATCH: &[(&str, &str, Result<bool, ()>)] = &[
    ("abc", "abc", Ok(true)),
    ("*", "abc", Ok(true)),
    ("*c", "abc", Ok(true)),
    ("a*", "a", Ok(true)),
    ("a*", "abc", Ok(true)),
    ("a*", "ab/c", Ok(true)),
    ("a*/b", "abc/b", Ok(true)),
    ("a*/b", "a/c/b", Ok(false)),
    ("a*b*c*d*e*/f", "axbxcxdxe/f", Ok(true)),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/f", Ok(true)),
    ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", Ok(false)),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", Ok(false)),
    ("a*b?c*x", "abxbbxdbxebxczzx", Ok(true)),
    ("a*b?c*x", "abxbbxdbxebxczzy", Ok(false)),
    ("ab[c]", "abc", Ok(true)),
    ("ab[b-d]", "abc", Ok(true)),
    ("ab[e-g]", "abc", Ok(false)),
    ("ab[^c]", "abc", Ok(false)),
    ("ab[^b-d]", "abc", Ok(false)),
    ("ab[^e-g]", "abc", Ok(true)),
    ("a\\*b", "a*b", Ok(true)),
    ("a\\*b", "ab", Ok(false)),
    ("a?b", "a☺b", Ok(true)),
    ("a[^a]b", "a☺b", Ok(true)),
    ("a???b", "a☺b", Ok(false)),
    ("a[^a][^a][^a]b", "a☺b", Ok(false)),
    ("[a-ζ]*", "α", Ok(true)),
    ("*[a-ζ]", "A", Ok(false)),
    ("a?b", "a/b", Ok(false)),
    ("a*b", "a/b", Ok(false)),
    ("[\\]a]", "]", Ok(true)),
    ("[\\-]", "-", Ok(true)),
    ("[x\\-]", "x", Ok(true)),
    ("[x\\-]", "-", Ok(true)),
    ("[x\\-]", "z", Ok(false)),
    ("[\\-x]", "x", Ok(true)),
    ("[\\-x]", "-", Ok(true)),
    ("[\\-x]", "a", Ok(false)),
    ("[]a]", "]", Err(())),
    ("[-]", "-", Err(())),
    ("[x-]", "x", Err(())),
    ("[x-]", "-", Err(())),
    ("[x-]", "z", Err(())),
    ("[-x]", "x", Err(())),
    ("[-x]", "-", Err(())),
    ("[-x]", "a", Err(())),
    ("\\", "a", Err(())),
    ("[a-b-c]", "a", Err(())),
    ("[", "a", Err(())),
    ("[^", "a", Err(())),
    ("[^bc", "a", Err(())),
    ("a[", "a", Err(())),
    ("a[", "ab", Err(())),
    ("*x", "xxx", Ok(true)),
];

#[test]
fn go_filepath_match_cases() {
    for &(pattern, text, expect) in GO_MATCH {
        let got = matches(text, &[pattern]).map_err(|_| ());
        assert_eq!(got, expect, "pattern={pattern:?} text={text:?}");
    }
}

// TestCompile: the kind of match chosen, and the regular expression built.
const COMPILE: &[(&str, &str, Option<&str>)] = &[
    ("*", "regexp", Some(r"^[^/]*$")),
    ("file*", "regexp", Some(r"^file[^/]*$")),
    ("*file", "regexp", Some(r"^[^/]*file$")),
    ("a*/b", "regexp", Some(r"^a[^/]*/b$")),
    ("**", "suffix", None),
    ("**/**", "regexp", Some(r"^(.*/)?.*$")),
    ("dir/**", "prefix", None),
    ("**/dir", "suffix", None),
    ("**/dir2/*", "regexp", Some(r"^(.*/)?dir2/[^/]*$")),
    ("**/dir2/**", "regexp", Some(r"^(.*/)?dir2/.*$")),
    ("**file", "suffix", None),
    ("**/file*txt", "regexp", Some(r"^(.*/)?file[^/]*txt$")),
    ("**/**/*.txt", "regexp", Some(r"^(.*/)?(.*/)?[^/]*\.txt$")),
    ("a[b-d]e", "regexp", Some(r"^a[b-d]e$")),
    (".*", "regexp", Some(r"^\.[^/]*$")),
    ("abc.def", "exact", None),
    ("abc?def", "regexp", Some(r"^abc[^/]def$")),
    ("**/foo/bar", "suffix", None),
    ("a(b)c/def", "exact", None),
    ("a.|)$(}+{bc", "exact", None),
    (
        "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
        "exact",
        None,
    ),
];

#[test]
fn moby_compile() {
    for &(pattern, kind, regex) in COMPILE {
        let compiled = rules(&[pattern]);
        let (got_kind, got_regex) = compiled.patterns()[0].describe();
        assert_eq!(got_kind, kind, "pattern={pattern:?}");
        assert_eq!(got_regex.as_deref(), regex, "pattern={pattern:?}");
    }
}

/// moby accepts `[Local-Only]/` in `New` and fails at the first match (inverted range
/// `l-O`); we reject it up front, with the same "syntax error" reason.
#[test]
fn inverted_class_range_is_rejected_when_compiled() {
    let error = IgnoreRules::new(&["[Local-Only]/"]).unwrap_err();
    assert_eq!(error.0, 0);
    assert_eq!(error.1.reason, "syntax error in pattern");
}

/// Rust's regex syntax has nested classes and set operators that Go's lacks; a class
/// containing `[`, `&&` or `~~` must still mean what it means to Go.
#[test]
fn class_characters_special_only_to_rust_stay_literal() {
    assert!(rules(&["a[[]b"]).matches_exact("a[b"));
    assert!(rules(&["a[x&&y]b"]).matches_exact("a&b"));
    assert!(!rules(&["a[x&&y]b"]).matches_exact("azb"));
    assert!(rules(&["a[~~]b"]).matches_exact("a~b"));
    // An escaped `<` is a plain `<` to Go (to Rust `\<` is a word boundary).
    assert!(rules(&["a\\<*"]).matches_exact("a<b"));
}

// TestReadAll (moby/patternmatcher/ignorefile).
#[test]
fn moby_read_all() {
    assert!(read_patterns("").is_empty());
    let content =
        "test1\n/test2\n/a/file/here\n\nlastfile\n# this is a comment\n! /inverted/abs/path\n!\n! ";
    let got: Vec<String> = read_patterns(content)
        .into_iter()
        .map(|line| line.pattern)
        .collect();
    assert_eq!(
        got,
        [
            "test1",
            "test2",
            "a/file/here",
            "lastfile",
            "!inverted/abs/path",
            "!",
            "!"
        ]
    );
}

#[test]
fn read_all_details() {
    let lines = read_patterns(
        "\u{feff}# bom then comment\r\n  # not a comment\r\nfoo/./bar/../baz/\r\n/\n",
    );
    let got: Vec<(usize, &str)> = lines
        .iter()
        .map(|line| (line.line, line.pattern.as_str()))
        .collect();
    // A comment is only a `#` in column 1; cleaning resolves `.` and `..`; `/` stays.
    assert_eq!(got, [(2, "# not a comment"), (3, "foo/baz"), (4, "/")]);
}

#[test]
fn go_clean_cases() {
    for (input, want) in [
        ("", "."),
        (".", "."),
        ("/", "/"),
        ("a//b", "a/b"),
        ("a/./b/", "a/b"),
        ("a/../b", "b"),
        ("../a", "../a"),
        ("/../a", "/a"),
        ("a/b/../../..", ".."),
        ("!foo/../bar", "bar"),
    ] {
        assert_eq!(go_clean(input), want, "input={input:?}");
    }
}

#[test]
fn errors_name_file_line_and_pattern() {
    let error = IgnoreRules::parse("ok\n# c\n\nbad[\n", Path::new("/p/.dockerignore")).unwrap_err();
    assert_eq!(error.line, 4);
    assert_eq!(error.pattern, "bad[");
    assert_eq!(
        error.to_string(),
        "/p/.dockerignore:4: invalid .dockerignore pattern `bad[`: syntax error in pattern"
    );
    let error = IgnoreRules::parse("a\n!\n", Path::new("x")).unwrap_err();
    assert_eq!(
        (error.line, error.reason.as_str()),
        (2, "illegal exclusion pattern: \"!\"")
    );
}

/// Every example of Docker's `.dockerignore` documentation: (file, path, excluded).
const DOCS_EXAMPLES: &[(&str, &str, bool)] = &[
    // "/foo/bar and foo/bar both exclude a file or directory named bar in the foo
    // subdirectory ... Neither excludes anything else."
    ("/foo/bar", "foo/bar", true),
    ("foo/bar", "foo/bar", true),
    ("/foo/bar", "foo/bar/inside", true),
    ("foo/bar", "bar", false),
    ("foo/bar", "x/foo/bar", false),
    ("foo/bar", "foo", false),
    // "# comment" is ignored; */temp*; */*/temp*; temp?
    ("# comment\n*/temp*\n*/*/temp*\ntemp?", "# comment", false),
    (
        "# comment\n*/temp*\n*/*/temp*\ntemp?",
        "somedir/temporary.txt",
        true,
    ),
    ("# comment\n*/temp*\n*/*/temp*\ntemp?", "somedir/temp", true),
    (
        "# comment\n*/temp*\n*/*/temp*\ntemp?",
        "somedir/subdir/temporary.txt",
        true,
    ),
    ("# comment\n*/temp*\n*/*/temp*\ntemp?", "tempa", true),
    ("# comment\n*/temp*\n*/*/temp*\ntemp?", "tempb", true),
    ("# comment\n*/temp*\n*/*/temp*\ntemp?", "temp", false),
    ("# comment\n*/temp*\n*/*/temp*\ntemp?", "tempab", false),
    (
        "# comment\n*/temp*\n*/*/temp*\ntemp?",
        "temporary.txt",
        false,
    ),
    (
        "# comment\n*/temp*\n*/*/temp*\ntemp?",
        "a/b/c/temporary.txt",
        false,
    ),
    // "**/*.go excludes all files that end with .go found anywhere ... including the root"
    ("**/*.go", "main.go", true),
    ("**/*.go", "pkg/a/b/x.go", true),
    ("**/*.go", "pkg/a/b/x.gox", false),
    // "*.md / !README.md": all markdown files except README.md
    ("*.md\n!README.md", "CHANGES.md", true),
    ("*.md\n!README.md", "README.md", false),
    // "*.md / !README*.md / README-secret.md": no markdown except README files other
    // than README-secret.md
    (
        "*.md\n!README*.md\nREADME-secret.md",
        "README-secret.md",
        true,
    ),
    (
        "*.md\n!README*.md\nREADME-secret.md",
        "README-public.md",
        false,
    ),
    ("*.md\n!README*.md\nREADME-secret.md", "other.md", true),
    // "*.md / README-secret.md / !README*.md": all README files are included; the middle
    // line has no effect
    (
        "*.md\nREADME-secret.md\n!README*.md",
        "README-secret.md",
        false,
    ),
    ("*.md\nREADME-secret.md\n!README*.md", "other.md", true),
    // "specify * as the first pattern, followed by one or more ! exception patterns"
    ("*\n!src\n!requirements.txt", "src/app/main.py", false),
    ("*\n!src\n!requirements.txt", "requirements.txt", false),
    ("*\n!src\n!requirements.txt", "data/big.bin", true),
    ("*\n!src\n!requirements.txt", "notes.txt", true),
    // "Lines that are blank after preprocessing are ignored"; "." and ".." elements are
    // removed by cleaning; "For historical reasons, the pattern . is ignored."
    ("   \n\t\n./data/../data/", "data/x", true),
    (".", "anything", false),
    (".", "dir/file", false),
];

#[test]
fn docker_documentation_examples() {
    for &(file, path, excluded) in DOCS_EXAMPLES {
        let compiled = IgnoreRules::parse(file, Path::new(".dockerignore")).unwrap();
        assert_eq!(
            matches_walking(&compiled, path),
            excluded,
            "file={file:?} path={path:?}"
        );
        assert_eq!(
            compiled.matches_or_parent_matches(path),
            excluded,
            "file={file:?} path={path:?}"
        );
    }
}

#[test]
fn pruning_rule_follows_exception_prefixes() {
    let compiled = rules(&["node_modules", "!node_modules/keep/me.txt", "data"]);
    assert!(compiled.exception_may_reach_inside("node_modules"));
    assert!(compiled.exception_may_reach_inside("node_modules/keep"));
    assert!(!compiled.exception_may_reach_inside("node_modules/other"));
    assert!(!compiled.exception_may_reach_inside("data"));
    // moby compares raw prefixes: a wildcard exception only reaches a directory whose
    // path is literally its prefix.
    let wildcard = rules(&["*", "!*/keep.txt"]);
    assert!(!wildcard.exception_may_reach_inside("src"));
    assert!(!rules(&["data"]).exception_may_reach_inside("data"));
}
