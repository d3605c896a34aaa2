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
#   - Debian openssl, to make the certificate the graph connector signs client assertions with
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
SCIM_VERSION=0.8.3
if ! "$VENV/bin/python" -m pip show scim2-server 2>/dev/null | grep -qx "Version: $SCIM_VERSION"; then
    echo "tests/run.sh: installing scim2-server==$SCIM_VERSION into $VENV"
    if ! python3 -m venv "$VENV" 2>/dev/null; then
        # Debian's python3 needs the venv module as a separate package.
        apt_install python3-venv
        python3 -m venv "$VENV"
    fi
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "scim2-server==$SCIM_VERSION"
fi
"$VENV/bin/scim2-server" --help >/dev/null

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --locked "$@"
