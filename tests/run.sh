#!/usr/bin/env bash
# The test command (README and .ci/run both call this): install what the tests need, idempotently,
# then run the whole suite. Safe to re-run; fast when everything is already installed.
#
#   - Rust toolchain (must already be there: rustup)
#   - Python venv with PyPI scim2-server==0.8.3, the real SCIM 2.0 server the SCIM tests start
#   - Debian slapd + ldap-utils (OpenLDAP 2.5), the real directory the LDAP tests start
#   - Debian chromium, to check the audit's HTML page headless
#   - Debian postgresql, the real server the journal's PostgreSQL backend is tested against
#     (started by the tests as a plain process on a free port; the package's own cluster is
#     not used)
#   - PyPI aiosmtpd==1.4.6 in the venv: the real SMTP server notifications are delivered to
#   - Debian openssl, to make the certificate the graph connector signs client assertions with
#   - PyPI google-api-python-client==2.202.0 (no dependencies) in the venv: Google's discovery
#     document for the Directory API, which the google tests check requests against
#   - npm @stoplight/prism-cli@5.14.2 and @okta/openapi@2.15.0 in target/node: Okta's API
#     description and the validating proxy the okta tests run in front of the stand-in
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
    echo "tests/run.sh: cargo is not installed; install the Rust toolchain (rustup) first" >&2
    exit 1
fi

# apt-get, as root or through sudo, without prompts; only when something is missing.
apt_install() {
    local SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if [ ! -x /usr/sbin/slapd ] || ! command -v ldapadd >/dev/null 2>&1 || [ ! -e /usr/lib/ldap/ppolicy.so ]; then
    echo "tests/run.sh: installing slapd and ldap-utils"
    apt_install slapd ldap-utils
fi

# Headless Chromium opens the audit's HTML page in the tests.
if [ ! -x /usr/bin/chromium ]; then
    echo "tests/run.sh: installing chromium"
    apt_install chromium
fi

# The graph tests make a certificate for the connector's client assertion with openssl.
if ! command -v openssl >/dev/null 2>&1; then
    echo "tests/run.sh: installing openssl"
    apt_install openssl
fi

if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || ! id postgres >/dev/null 2>&1; then
    echo "tests/run.sh: installing postgresql"
    apt_install postgresql
fi

VENV=target/venv
# `grep -x ... >/dev/null`, not `grep -q`: -q stops reading at the first match, pip gets a
# broken pipe, and under pipefail the check fails, so every run reinstalled.
SCIM_VERSION=0.8.3
if ! "$VENV/bin/python" -m pip show scim2-server 2>/dev/null | grep -x "Version: $SCIM_VERSION" >/dev/null; then
    echo "tests/run.sh: installing scim2-server==$SCIM_VERSION into $VENV"
    if ! python3 -m venv "$VENV" 2>/dev/null; then
        # Debian's python3 needs the venv module as a separate package.
        apt_install python3-venv
        python3 -m venv "$VENV"
    fi
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "scim2-server==$SCIM_VERSION"
fi
"$VENV/bin/scim2-server" --help >/dev/null

# A real SMTP server (PyPI aiosmtpd) receives the notifications `serve`, `apply` and `leave`
# send; the tests start it with its Maildir handler and read what arrived.
AIOSMTPD_VERSION=1.4.6
if ! "$VENV/bin/python" -m pip show aiosmtpd 2>/dev/null | grep -x "Version: $AIOSMTPD_VERSION" >/dev/null; then
    echo "tests/run.sh: installing aiosmtpd==$AIOSMTPD_VERSION into $VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "aiosmtpd==$AIOSMTPD_VERSION"
fi
"$VENV/bin/python" -m aiosmtpd --version >/dev/null

# Google's published description of the Directory API (a discovery document) ships inside
# google-api-python-client; the google connector's requests are checked against it. Only the
# document is needed, so the package is installed without its dependencies.
GOOGLE_CLIENT_VERSION=2.202.0
if ! "$VENV/bin/python" -m pip show google-api-python-client 2>/dev/null | grep -x "Version: $GOOGLE_CLIENT_VERSION" >/dev/null; then
    echo "tests/run.sh: installing google-api-python-client==$GOOGLE_CLIENT_VERSION (its discovery documents) into $VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps "google-api-python-client==$GOOGLE_CLIENT_VERSION"
fi
ls "$VENV"/lib/python3*/site-packages/googleapiclient/discovery_cache/documents/admin.directory_v1.json >/dev/null

# Okta's published description of its Management API (npm @okta/openapi) and Stoplight Prism,
# which the okta tests put in front of the stand-in as a validating proxy.
NODE_DIR=target/node
PRISM_VERSION=5.14.2
OKTA_OPENAPI_VERSION=2.15.0
if ! grep -qs "\"version\": \"$PRISM_VERSION\"" "$NODE_DIR/node_modules/@stoplight/prism-cli/package.json" \
    || ! grep -qs "\"version\": \"$OKTA_OPENAPI_VERSION\"" "$NODE_DIR/node_modules/@okta/openapi/package.json"; then
    if ! command -v npm >/dev/null 2>&1; then
        echo "tests/run.sh: installing nodejs and npm"
        apt_install nodejs npm
    fi
    echo "tests/run.sh: installing @stoplight/prism-cli@$PRISM_VERSION and @okta/openapi@$OKTA_OPENAPI_VERSION into $NODE_DIR"
    mkdir -p "$NODE_DIR"
    npm install --prefix "$NODE_DIR" --no-audit --no-fund --silent \
        "@stoplight/prism-cli@$PRISM_VERSION" "@okta/openapi@$OKTA_OPENAPI_VERSION"
fi
"$NODE_DIR/node_modules/.bin/prism" --version >/dev/null
test -f "$NODE_DIR/node_modules/@okta/openapi/dist/spec.json"

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --locked "$@"
