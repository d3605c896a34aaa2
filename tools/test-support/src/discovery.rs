//! Checking requests against a Google API discovery document, the machine-readable description
//! Google publishes for each of its APIs ("Google API Discovery Service", "Using the Discovery
//! Document" <https://developers.google.com/discovery/v1/using>). Prism, which checks the other
//! connectors' requests against OpenAPI descriptions, cannot read discovery documents, so the
//! `google` connector's tests record the requests it makes (the stand-in in
//! [`crate::google`] logs them) and check each against the very document Google's own Python
//! client is generated from: `admin.directory_v1.json`, shipped in PyPI
//! `google-api-python-client` 2.202.0, which `bash tests/run.sh` installs into `target/venv`.
//!
//! A request line `METHOD /path?query` passes when one method of the document has that
//! `httpMethod` and a `path` template matching the path (relative to `rootUrl` plus
//! `servicePath`): `{x}` takes one segment or part of one (`{deviceId}:issueCommand`), `{+x}`
//! takes the rest, slashes included, and a path parameter's declared `pattern` must hold.
//! Where several templates match, the one with the most literal text wins (`users/{userKey}`
//! rather than `{+name}`). Then every query parameter, percent-decoded, must be declared by the
//! method (as a query parameter) or by the document's top-level `parameters` (`alt`, `fields`,
//! `key`, `prettyPrint`, `quotaUser`, ...), given once unless `repeated`; required ones must be
//! present; `enum` values must be among the allowed ones; integers must parse, fit their
//! `format` and respect `minimum`/`maximum`; booleans must be `true` or `false`. `POST /token`
//! (the OAuth token endpoint, not part of the Directory API) is not checked. Request bodies
//! are not checked either.

use crate::stand_in::{parse_pairs, pct_decode};
use std::path::{Path, PathBuf};

use serde_json::Value;

/// What [`Discovery::check`] answers for the token endpoint, which is no method of the API.
pub const TOKEN: &str = "token";

const DOCUMENT: &str = "admin.directory_v1.json";

/// The Admin SDK Directory API discovery document of the `google-api-python-client` that
/// `tests/run.sh` installs into `target/venv`. Panics, saying what to run, when it is missing.
pub fn directory_document() -> PathBuf {
    let lib = crate::fixtures::root().join("target/venv/lib");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&lib)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("python3"))
        .map(|e| {
            e.path()
                .join("site-packages/googleapiclient/discovery_cache/documents")
                .join(DOCUMENT)
        })
        .filter(|p| p.is_file())
        .collect();
    found.sort();
    found.pop().unwrap_or_else(|| {
        panic!(
            "no {DOCUMENT} under {}/python3*/site-packages/googleapiclient/discovery_cache/documents: \
             run `bash tests/run.sh`, which installs google-api-python-client==2.202.0 into target/venv",
            lib.display()
        )
    })
}

/// One parameter as the document declares it.
struct Param {
    location: String,
    kind: String,
    format: Option<String>,
    required: bool,
    repeated: bool,
    choices: Option<Vec<String>>,
    minimum: Option<i128>,
    maximum: Option<i128>,
    pattern: Option<String>,
}

/// A piece of a path template: literal text, `{x}` (within one segment) or `{+x}` (anything).
enum Piece {
    Lit(String),
    Var(String),
    Plus(String),
}

struct MethodDef {
    id: String,
    http: String,
    pieces: Vec<Piece>,
    /// Characters of literal text, to prefer the most specific template.
    literal_len: usize,
    params: Vec<(String, Param)>,
}

/// A loaded discovery document; see the module documentation.
pub struct Discovery {
    name: String,
    service_path: String,
    methods: Vec<MethodDef>,
    globals: Vec<(String, Param)>,
}

impl Discovery {
    /// Read and index a discovery document. Panics when it cannot be read or is not one: the
    /// test cannot check anything without it.
    pub fn load(path: impl AsRef<Path>) -> Discovery {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("discovery: read {}: {e}", path.display()));
        let doc: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("discovery: {} is not JSON: {e}", path.display()));
        let mut methods = Vec::new();
        collect_methods(doc.get("resources"), &mut methods);
        assert!(
            !methods.is_empty(),
            "discovery: {} declares no methods",
            path.display()
        );
        let text_of = |k: &str| doc.get(k).and_then(Value::as_str).unwrap_or("");
        Discovery {
            name: format!("{} {}", text_of("name"), text_of("version")),
            service_path: text_of("servicePath").to_string(),
            methods,
            globals: params(doc.get("parameters")),
        }
    }

    /// [`directory_document`], loaded.
    pub fn directory() -> Discovery {
        Discovery::load(directory_document())
    }

    /// The id of the method `request` (`METHOD /path?query`, as the stand-ins log it) calls,
    /// e.g. `directory.users.list`, or every reason it does not conform, joined by "; ".
    /// `POST /token` answers [`TOKEN`].
    pub fn check(&self, request: &str) -> Result<&str, String> {
        let Some((method, target)) = request.trim().split_once(' ') else {
            return Err("not a request line \"METHOD /path?query\"".into());
        };
        let target = target.trim();
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        if path == "/token" {
            return Ok(TOKEN);
        }
        let Some(relative) = path
            .strip_prefix('/')
            .and_then(|p| p.strip_prefix(self.service_path.as_str()))
        else {
            return Err(format!("{path} is not under /{}", self.service_path));
        };
        // Every method whose template (and path parameter patterns) match the path.
        let mut by_path: Vec<(usize, Vec<(String, String)>)> = Vec::new();
        for (i, m) in self.methods.iter().enumerate() {
            let mut captured = Vec::new();
            if match_pieces(&m.pieces, relative, &mut captured)
                && captured.iter().all(|(name, raw)| {
                    m.param(name)
                        .and_then(|p| p.pattern.as_deref())
                        .and_then(|pat| simple_regex(pat, &pct_decode(raw, false)))
                        != Some(false)
                })
            {
                by_path.push((i, captured));
            }
        }
        if by_path.is_empty() {
            return Err(format!("no method of {} has the path {path}", self.name));
        }
        let Some((index, captured)) = by_path
            .iter()
            .filter(|(i, _)| self.methods[*i].http == method)
            .min_by_key(|(i, _)| std::cmp::Reverse(self.methods[*i].literal_len))
        else {
            let others: Vec<String> = by_path
                .iter()
                .map(|(i, _)| format!("{} {}", self.methods[*i].http, self.methods[*i].id))
                .collect();
            return Err(format!(
                "{method} is no method of this path (it has {})",
                others.join(", ")
            ));
        };
        let m = &self.methods[*index];
        let mut problems: Vec<String> = Vec::new();
        for (name, raw) in captured {
            if let Some(p) = m.param(name)
                && let Err(e) = check_value(name, p, &pct_decode(raw, false))
            {
                problems.push(e);
            }
        }
        let pairs = parse_pairs(query);
        let mut repeated: Vec<&str> = Vec::new();
        for (name, value) in &pairs {
            let p = match m.param(name) {
                Some(p) if p.location == "query" => p,
                Some(p) => {
                    problems.push(format!(
                        "{name} is a {} parameter of {}, not a query parameter",
                        p.location, m.id
                    ));
                    continue;
                }
                None => match self.globals.iter().find(|(n, _)| n == name) {
                    Some((_, p)) => p,
                    None => {
                        problems.push(format!("{name} is not a parameter of {}", m.id));
                        continue;
                    }
                },
            };
            if !p.repeated
                && !repeated.contains(&name.as_str())
                && pairs.iter().filter(|(n, _)| n == name).count() > 1
            {
                repeated.push(name);
                problems.push(format!("{name} is given more than once"));
            }
            if let Err(e) = check_value(name, p, value) {
                problems.push(e);
            }
        }
        for (name, p) in &m.params {
            if p.required && p.location == "query" && !pairs.iter().any(|(n, _)| n == name) {
                problems.push(format!("the required query parameter {name} is missing"));
            }
        }
        if problems.is_empty() {
            Ok(m.id.as_str())
        } else {
            Err(problems.join("; "))
        }
    }

    /// Every request that does not conform, as `REQUEST: why`, in order; `/token` is skipped.
    pub fn check_all(&self, requests: &[String]) -> Vec<String> {
        requests
            .iter()
            .filter_map(|r| self.check(r).err().map(|why| format!("{r}: {why}")))
            .collect()
    }
}

impl MethodDef {
    fn param(&self, name: &str) -> Option<&Param> {
        self.params.iter().find(|(n, _)| n == name).map(|(_, p)| p)
    }
}

fn collect_methods(resources: Option<&Value>, out: &mut Vec<MethodDef>) {
    let Some(Value::Object(resources)) = resources else {
        return;
    };
    for r in resources.values() {
        if let Some(Value::Object(methods)) = r.get("methods") {
            out.extend(methods.values().filter_map(method_def));
        }
        collect_methods(r.get("resources"), out);
    }
}

fn method_def(m: &Value) -> Option<MethodDef> {
    let text = |k: &str| m.get(k).and_then(Value::as_str);
    let pieces = template(text("path")?);
    let literal_len = pieces
        .iter()
        .map(|p| match p {
            Piece::Lit(l) => l.len(),
            Piece::Var(_) | Piece::Plus(_) => 0,
        })
        .sum();
    Some(MethodDef {
        id: text("id")?.to_string(),
        http: text("httpMethod")?.to_string(),
        pieces,
        literal_len,
        params: params(m.get("parameters")),
    })
}

fn params(v: Option<&Value>) -> Vec<(String, Param)> {
    let Some(Value::Object(map)) = v else {
        return Vec::new();
    };
    map.iter()
        .map(|(name, p)| (name.clone(), param(p)))
        .collect()
}

fn param(v: &Value) -> Param {
    let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let number = |k: &str| match v.get(k) {
        Some(Value::String(t)) => t.parse::<i128>().ok(),
        Some(Value::Number(n)) => n.as_i64().map(i128::from),
        _ => None,
    };
    let flag = |k: &str| v.get(k).and_then(Value::as_bool).unwrap_or(false);
    Param {
        location: text("location").unwrap_or_default(),
        kind: text("type").unwrap_or_default(),
        format: text("format"),
        required: flag("required"),
        repeated: flag("repeated"),
        choices: v.get("enum").and_then(Value::as_array).map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        }),
        minimum: number("minimum"),
        maximum: number("maximum"),
        pattern: text("pattern"),
    }
}

/// `admin/directory/v1/users/{userKey}` into literal and variable pieces.
fn template(path: &str) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}').map(|c| open + c) else {
            break;
        };
        if open > 0 {
            out.push(Piece::Lit(rest[..open].to_string()));
        }
        let name = &rest[open + 1..close];
        out.push(match name.strip_prefix('+') {
            Some(n) => Piece::Plus(n.to_string()),
            None => Piece::Var(name.to_string()),
        });
        rest = &rest[close + 1..];
    }
    if !rest.is_empty() {
        out.push(Piece::Lit(rest.to_string()));
    }
    out
}

/// Match the raw (still percent-encoded) path against the pieces, recording each variable's
/// raw value. `{x}` takes at least one character and no `/`; `{+x}` at least one character.
fn match_pieces(pieces: &[Piece], s: &str, out: &mut Vec<(String, String)>) -> bool {
    let Some((first, rest)) = pieces.split_first() else {
        return s.is_empty();
    };
    let (name, limit) = match first {
        Piece::Lit(l) => {
            return s
                .strip_prefix(l.as_str())
                .is_some_and(|r| match_pieces(rest, r, out));
        }
        Piece::Var(name) => (name, s.find('/').unwrap_or(s.len())),
        Piece::Plus(name) => (name, s.len()),
    };
    for end in (1..=limit).rev() {
        if !s.is_char_boundary(end) {
            continue;
        }
        out.push((name.clone(), s[..end].to_string()));
        if match_pieces(rest, &s[end..], out) {
            return true;
        }
        out.pop();
    }
    false
}

enum Item {
    Lit(char),
    NotSlash,
    /// `.*` (0) or `.+` (1): at least this many characters.
    Any(usize),
}

/// The regular expressions discovery documents put on path parameters
/// (`^customers/[^/]+/chrome/printers/[^/]+$`, `^.*$`): `Some(whether value matches)` when the
/// pattern is anchored and made of literal characters, `[^/]+`, `.*` and `.+`; `None` (not
/// checked) for anything richer.
fn simple_regex(pattern: &str, value: &str) -> Option<bool> {
    let mut rest = pattern.strip_prefix('^')?.strip_suffix('$')?;
    let mut items = Vec::new();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("[^/]+") {
            items.push(Item::NotSlash);
            rest = r;
        } else if let Some(r) = rest.strip_prefix(".*") {
            items.push(Item::Any(0));
            rest = r;
        } else if let Some(r) = rest.strip_prefix(".+") {
            items.push(Item::Any(1));
            rest = r;
        } else {
            let c = rest.chars().next()?;
            if "\\.[](){}*+?|^$".contains(c) {
                return None;
            }
            items.push(Item::Lit(c));
            rest = &rest[c.len_utf8()..];
        }
    }
    Some(regex_match(&items, value))
}

fn regex_match(items: &[Item], s: &str) -> bool {
    let Some((first, rest)) = items.split_first() else {
        return s.is_empty();
    };
    let (min, limit) = match first {
        Item::Lit(c) => {
            return s.strip_prefix(*c).is_some_and(|r| regex_match(rest, r));
        }
        Item::NotSlash => (1, s.find('/').unwrap_or(s.len())),
        Item::Any(min) => (*min, s.len()),
    };
    (min..=limit)
        .rev()
        .any(|end| s.is_char_boundary(end) && regex_match(rest, &s[end..]))
}

/// Whether `value` is acceptable for the parameter `name` as declared by `p`.
fn check_value(name: &str, p: &Param, value: &str) -> Result<(), String> {
    if let Some(choices) = &p.choices
        && !choices.iter().any(|c| c == value)
    {
        return Err(format!(
            "{name}={value:?} is not one of {}",
            choices.join(", ")
        ));
    }
    let integer = |bits: &str| -> Result<i128, String> {
        let n: i128 = value
            .parse()
            .map_err(|_| format!("{name}={value:?} is not an integer"))?;
        let fits = match bits {
            "int32" => i32::try_from(n).is_ok(),
            "uint32" => u32::try_from(n).is_ok(),
            "int64" => i64::try_from(n).is_ok(),
            "uint64" => u64::try_from(n).is_ok(),
            _ => true,
        };
        if fits {
            Ok(n)
        } else {
            Err(format!("{name}={value} does not fit {bits}"))
        }
    };
    let format = p.format.as_deref().unwrap_or("");
    match p.kind.as_str() {
        "integer" => {
            let n = integer(format)?;
            if let Some(min) = p.minimum
                && n < min
            {
                return Err(format!("{name}={n} is below the minimum {min}"));
            }
            if let Some(max) = p.maximum
                && n > max
            {
                return Err(format!("{name}={n} is above the maximum {max}"));
            }
        }
        "string" if matches!(format, "int32" | "uint32" | "int64" | "uint64") => {
            integer(format)?;
        }
        "boolean" if value != "true" && value != "false" => {
            return Err(format!("{name}={value:?} is not true or false"));
        }
        "number" if value.parse::<f64>().is_err() => {
            return Err(format!("{name}={value:?} is not a number"));
        }
        _ => {}
    }
    if let Some(pattern) = &p.pattern
        && simple_regex(pattern, value) == Some(false)
    {
        return Err(format!("{name}={value:?} does not match {pattern}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_requests_the_document_declares() {
        let d = Discovery::load(directory_document());
        let cases = [
            (
                "GET /admin/directory/v1/users?customer=my_customer&maxResults=2",
                "directory.users.list",
            ),
            (
                "GET /admin/directory/v1/users?customer=my_customer&maxResults=500&pageToken=b2Zmc2V0OjI&query=email%3D%27jane%40example.com%27%20isSuspended%3Dfalse&showDeleted=true&projection=basic",
                "directory.users.list",
            ),
            (
                "GET /admin/directory/v1/users?customer=my_customer&orderBy=%65mail&sortOrder=DESCENDING&prettyPrint=false&fields=users(id,primaryEmail),nextPageToken",
                "directory.users.list",
            ),
            (
                "GET /admin/directory/v1/users/jane%40example.com?projection=full&viewType=admin_view",
                "directory.users.get",
            ),
            (
                "PATCH /admin/directory/v1/users/jane%40example.com",
                "directory.users.patch",
            ),
            (
                "PUT /admin/directory/v1/users/103141592653589000001",
                "directory.users.update",
            ),
            (
                "DELETE /admin/directory/v1/users/jane%40example.com",
                "directory.users.delete",
            ),
            (
                "POST /admin/directory/v1/users/103141592653589000001/undelete",
                "directory.users.undelete",
            ),
            (
                "POST /admin/directory/v1/users/jane%40example.com/signOut",
                "directory.users.signOut",
            ),
            (
                "GET /admin/directory/v1/users/jane%40example.com/tokens",
                "directory.tokens.list",
            ),
            (
                "DELETE /admin/directory/v1/users/jane%40example.com/tokens/1234.apps.googleusercontent.com",
                "directory.tokens.delete",
            ),
            (
                "GET /admin/directory/v1/users/jane%40example.com/asps",
                "directory.asps.list",
            ),
            (
                "DELETE /admin/directory/v1/users/jane%40example.com/asps/7",
                "directory.asps.delete",
            ),
            (
                "GET /admin/directory/v1/groups?userKey=jane%40example.com&maxResults=200&pageToken=x",
                "directory.groups.list",
            ),
            (
                "GET /admin/directory/v1/groups?customer=my_customer&query=email%3Asales%40example.com",
                "directory.groups.list",
            ),
            (
                "POST /admin/directory/v1/groups/sales%40example.com/members",
                "directory.members.insert",
            ),
            (
                "DELETE /admin/directory/v1/groups/sales%40example.com/members/jane%40example.com",
                "directory.members.delete",
            ),
            (
                "GET /admin/directory/v1/groups/sales%40example.com/hasMember/jane%40example.com",
                "directory.members.hasMember",
            ),
            // A variable and a literal in one segment; `{+x}` with and without a pattern.
            (
                "POST /admin/directory/v1/customer/my_customer/devices/chromeos/abc123:issueCommand",
                "admin.customer.devices.chromeos.issueCommand",
            ),
            (
                "GET /admin/directory/v1/customers/C01/chrome/printers/p1",
                "admin.customers.chrome.printers.get",
            ),
            (
                "GET /admin/directory/v1/customer/my_customer/orgunits/Sales/EMEA",
                "directory.orgunits.get",
            ),
            ("POST /token", TOKEN),
        ];
        for (request, id) in cases {
            assert_eq!(d.check(request), Ok(id), "{request}");
        }
    }

    #[test]
    fn refuses_what_the_document_does_not_declare() {
        let d = Discovery::load(directory_document());
        let why = |request: &str| match d.check(request) {
            Ok(id) => panic!("{request} passed as {id}"),
            Err(why) => why,
        };
        let cases = [
            (
                "GET /admin/directory/v1/users?customer=my_customer&maxResults=501",
                "above the maximum 500",
            ),
            (
                "GET /admin/directory/v1/users?customer=my_customer&maxResults=0",
                "below the minimum 1",
            ),
            (
                "GET /admin/directory/v1/users?customer=my_customer&maxResults=two",
                "not an integer",
            ),
            (
                "GET /admin/directory/v1/users?customer=my_customer&projection=everything",
                "projection",
            ),
            (
                "GET /admin/directory/v1/users?customer=my_customer&%24filter=x",
                "$filter is not a parameter of directory.users.list",
            ),
            (
                "GET /admin/directory/v1/users?customer=my_customer&maxResults=2&maxResults=3",
                "more than once",
            ),
            (
                "GET /admin/directory/v1/users/jane%40example.com?userKey=x",
                "path parameter",
            ),
            (
                "GET /admin/directory/v1/users/jane%40example.com?prettyPrint=yes",
                "prettyPrint",
            ),
            (
                "POST /admin/directory/v1/users/jane%40example.com/tokens",
                "GET directory.tokens.list",
            ),
            (
                "DELETE /admin/directory/v1/users/jane%40example.com/asps/seven",
                "codeId",
            ),
            (
                "POST /admin/directory/v1/customer/my_customer/devices/chromeos/moveDevicesToOu",
                "orgUnitPath",
            ),
            ("GET /admin/directory/v1/userz", "no method"),
            ("GET /v1.0/users", "no method"),
            ("nonsense", "request line"),
        ];
        for (request, expected) in cases {
            let why = why(request);
            assert!(why.contains(expected), "{request}: {why}");
        }
    }

    #[test]
    fn check_all_names_each_nonconforming_request() {
        let d = Discovery::load(directory_document());
        let requests = [
            "POST /token",
            "GET /admin/directory/v1/users?customer=my_customer",
            "GET /admin/directory/v1/users?customer=my_customer&maxResults=9999",
        ]
        .map(String::from);
        let violations = d.check_all(&requests);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert!(
            violations[0].starts_with(
                "GET /admin/directory/v1/users?customer=my_customer&maxResults=9999: "
            ),
            "{violations:?}"
        );
    }
}
