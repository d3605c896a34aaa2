//! What offboard's integration tests and benchmarks share, one module per concern:
//!
//! - [`fixtures`]: the repository root, copies of the bundled example, git repositories;
//! - [`servers`]: starting real servers on 127.0.0.1 (free ports, waiting, retries), and the
//!   explicit local-only switch that skips them;
//! - [`scim`]: a real `scim2-server` and an independent SCIM client;
//! - [`graph`]: an in-process stand-in for the Microsoft Graph and identity platform subset
//!   the `graph` connector speaks (written from Microsoft's documentation, not Graph itself);
//! - [`google`]: an in-process stand-in for the Google Workspace Admin SDK Directory API and
//!   service-account token subset the `google` connector speaks (written from Google's
//!   documentation and discovery document, not Google itself);
//! - [`leaks`]: a runtime, the last run's id, and everything a command sequence wrote, for
//!   the vendor connectors' tests and their canary checks;
//! - [`okta`]: an in-process stand-in for the Okta Management API subset the `okta` connector
//!   speaks (written from Okta's documentation and checked against Okta's published spec);
//! - [`prism`]: Stoplight Prism as a real validating proxy, which checks every request and
//!   answer against a vendor's published API description (Okta's, for the Okta stand-in);
//! - [`discovery`]: checks recorded requests against a Google API discovery document (the
//!   Directory API's, from `google-api-python-client`), which Prism cannot read;
//! - [`slapd`]: a real OpenLDAP `slapd`;
//! - `stand_in` (private): serving a vendor stand-in on its own runtime, reading queries;
//! - [`postgres`]: a real PostgreSQL server, for the journal;
//! - [`terminal`]: `offboard` on a pseudo-terminal, for the interactive flows;
//! - [`smtp`]: a real SMTP server (aiosmtpd) and the mail it received;
//! - [`chat`]: a local receiver for chat incoming webhooks;
//! - [`serving`]: `offboard serve` as a process, over real HTTP;
//! - [`delay_fault`]: a fault-injecting proxy that slows a real server down;
//! - [`executor`]: a journal, a plan of given changes and an executor, for driving `apply`
//!   directly.
//!
//! It is a library (a workspace member, not part of the product), so each test uses what it
//! needs and nothing is compiled into a test as dead code. Tests import it as `common`:
//! `use offboard_test_support as common;`.

pub mod chat;
pub mod delay_fault;
pub mod discovery;
pub mod executor;
pub mod fixtures;
pub mod google;
pub mod graph;
pub mod leaks;
pub mod okta;
pub mod postgres;
pub mod prism;
pub mod scim;
pub mod servers;
pub mod serving;
pub mod slapd;
pub mod smtp;
mod stand_in;
pub mod terminal;

pub use chat::ChatReceiver;
pub use delay_fault::DelayFaultProxy;
pub use executor::{apply_timed, change_for, executor, executor_with, init_journal, plan_of};
pub use fixtures::{account_status, commit_all, copy_dir, example_copy, offboard, root};
pub use google::{GoogleStandIn, GoogleUser, Quota};
pub use graph::{GraphStandIn, GraphUser, GroupKind};
pub use leaks::{everything_written, files_under, last_run_id, runtime};
pub use okta::{OktaBehindPrism, OktaStandIn, OktaUser};
pub use postgres::Postgres;
pub use prism::Prism;
pub use scim::{SCIM_TOKEN, ScimClient, ScimServer};
pub use servers::{free_port, skip_real_servers};
pub use serving::ServeProcess;
pub use slapd::{LDAP_ADMIN, LDAP_ADMIN_PASSWORD, LDAP_SUFFIX, Slapd};
pub use smtp::{Mail, Protection, SmtpServer};
pub use terminal::on_a_terminal;
