//! Secrets written into a policy (inline properties, credentials in URLs) and secret sources.

use super::*;

/// Property names that would put a secret into the policy text.
pub(super) const INLINE_SECRET_PROPS: &[&str] = &[
    "token",
    "password",
    "secret",
    "api-key",
    "apikey",
    "api-token",
    "client-secret",
    "bearer-token",
    "access-token",
    "private-key",
    "bind-password",
];

/// Whether a property or query-parameter name holds a credential, whatever its spelling
/// (`api_key`, `API-Key`, `client_secret`, ...).
pub(super) fn is_secret_name(name: &str) -> bool {
    let key = name.to_ascii_lowercase().replace('_', "-");
    INLINE_SECRET_PROPS.contains(&key.as_str())
        || [
            "key",
            "sig",
            "signature",
            "pass",
            "pwd",
            "credential",
            "credentials",
        ]
        .contains(&key.as_str())
}

/// Whether a URL carries a credential: a password in its userinfo (`https://u:p@host`) or a
/// query parameter named like a secret (`?access_token=...`).
pub(super) fn has_url_credential(url: &str) -> bool {
    url_credential(url).is_some()
}

pub(super) fn url_credential(url: &str) -> Option<(usize, usize)> {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let authority_end = url[after_scheme..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| after_scheme + i);
    let authority = &url[after_scheme..authority_end];
    if let Some(at) = authority.rfind('@')
        && let Some(colon) = authority[..at].find(':')
    {
        return Some((after_scheme + colon + 1, after_scheme + at));
    }
    let query_start = url.find('?')? + 1;
    let query_end = url[query_start..]
        .find('#')
        .map_or(url.len(), |i| query_start + i);
    let mut offset = query_start;
    for pair in url[query_start..query_end].split('&') {
        if let Some((name, value)) = pair.split_once('=')
            && is_secret_name(name)
            && !value.is_empty()
        {
            let start = offset + name.len() + 1;
            return Some((start, start + value.len()));
        }
        offset += pair.len() + 1;
    }
    None
}

impl FileParser<'_> {
    pub(super) fn inline_secret(&mut self, entry: &KdlEntry, key: &str) {
        let value_span = self.value_span(entry);
        self.b.secrets.push(value_span);
        let base = match key {
            "password" | "bind-password" => "password",
            "secret" => "secret",
            _ => "token",
        };
        self.error(
            Diagnostic::error(
                "policy::inline-secret",
                value_span,
                format!("secret written inline in `{key}`"),
            )
            .label("a secret in a policy file ends up in git history")
            .help(format!(
                "read it from the environment or a file instead: `{base}-env=VARIABLE` or `{base}-file=/run/secrets/NAME`; rotate this secret, it may already be committed"
            )),
        );
    }

    pub(super) fn check_url(&mut self, url: &Spanned<String>, schemes: &[&str]) -> Option<()> {
        if has_url_credential(&url.value) {
            // The whole value is masked in every rendering of the policy.
            self.b.secrets.push(url.span);
            self.error(
                Diagnostic::error(
                    "policy::inline-secret",
                    url.span,
                    "a credential is written inline in the URL",
                )
                .label("a secret in a policy file ends up in git history")
                .help("remove the password or token from the URL and use `token-env=`/`password-env=` (or `-file=`); rotate this secret, it may already be committed"),
            );
            return None;
        }
        let lower = url.value.to_ascii_lowercase();
        let ok = schemes
            .iter()
            .any(|s| lower.starts_with(s) && lower.len() > s.len());
        if ok {
            return Some(());
        }
        self.error(
            Diagnostic::error(
                "policy::url",
                url.span,
                format!("`{}` is not a valid URL here", url.value),
            )
            .label(format!("expected {}", schemes.join(" or ")))
            .help(format!(
                "write the full URL starting with {}",
                schemes.join(" or ")
            )),
        );
        None
    }

    /// `token-env=` / `token-file=` (or `password-…`): exactly one.
    pub(super) fn secret_ref(
        &mut self,
        node: &KdlNode,
        base: &str,
        usage: &str,
    ) -> Option<SecretRef> {
        let env_key = format!("{base}-env");
        let file_key = format!("{base}-file");
        let env = self.string_prop(node, &env_key);
        let file = self.string_prop(node, &file_key);
        match (env, file) {
            (Some(env), None) => {
                let valid = !env.value.is_empty()
                    && env
                        .value
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_')
                    && !env.value.starts_with(|c: char| c.is_ascii_digit());
                if valid {
                    Some(SecretRef::Env(env.value))
                } else {
                    self.error(
                        Diagnostic::error(
                            "policy::secret-reference",
                            env.span,
                            format!("`{env_key}` must name an environment variable"),
                        )
                        .label("not a variable name")
                        .help("environment variable names use letters, digits and `_`, e.g. OKTA_SCIM_TOKEN; never put the secret itself here"),
                    );
                    None
                }
            }
            (None, Some(file)) => Some(SecretRef::File(PathBuf::from(file.value))),
            (Some(_), Some(file)) => {
                self.error(
                    Diagnostic::error(
                        "policy::secret-reference",
                        file.span,
                        format!("give either `{env_key}` or `{file_key}`, not both"),
                    )
                    .label("second source for the same secret")
                    .help(format!("keep one: usage: {usage}")),
                );
                None
            }
            (None, None) => {
                // An inline secret was already reported for this node; one error is enough.
                let inline = node.entries().iter().any(|e| {
                    e.name()
                        .is_some_and(|n| INLINE_SECRET_PROPS.contains(&n.value()))
                });
                if inline {
                    return None;
                }
                let span = self.node_name_span(node);
                self.error(
                    Diagnostic::error(
                        "policy::missing-property",
                        span,
                        format!("this connector needs `{env_key}=` or `{file_key}=`"),
                    )
                    .label("no credentials configured")
                    .help(format!("usage: {usage}")),
                );
                None
            }
        }
    }
}
