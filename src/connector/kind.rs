//! Connector kinds: what each kind declares about itself, and the one registry listing them.
//!
//! A kind owns everything about itself in its folder, `src/connector/<kind>/`: its settings
//! type (the `connector <kind> ...` line of a policy, read through the shared property API
//! [`Properties`], with spans and diagnostics), the actions it can do and which settings
//! switch them off, where its credentials go (for pinning pull-request plans to trusted
//! settings), and its [`Connector`] implementation. The policy, the planner and the CLI know
//! kinds only through [`ConnectorConfig`], which [`registry!`] generates from the list at the
//! kinds' list in `src/connector/mod.rs`, so no `match` over kinds is written by hand anywhere.
//!
//! # Adding a connector kind
//!
//! 1. Create `src/connector/<kind>/mod.rs` with the connector (implement [`Connector`]) and a
//!    settings type implementing [`Kind`]: its `NAME`, an `EXAMPLE` line, its `PROPERTIES`,
//!    its `ACTIONS`, `read` (from [`Properties`]) and `connect`; override `switched_off`,
//!    `credential_route`, `move_target`, `data_path`, or `by_hand` and `instructions` (what
//!    its API cannot do, made a person's task) where the kind has them.
//! 2. In `src/connector/mod.rs`, declare the module (`pub mod <kind>;`) and add one line to
//!    the `registry!` invocation below it.
//! 3. Add the kind to the conformance suite (`tests/conformance.rs`), which runs the shared
//!    test bodies against it, gated by its capabilities.
//!
//! Manual lanes (`connector manual ...`) are not a kind: they have no connector and no
//! accounts, only tasks for people, so they are [`crate::policy::ManualLane`]s.

use std::fmt;
use std::path::Path;

use super::{Connector, ConnectorConfig, ConnectorError, KINDS};
use crate::policy::Action;
use crate::policy::props::Properties;

/// What a connector kind declares about itself; implemented by its settings type.
pub trait Kind: Sized + Clone + PartialEq + fmt::Debug + Send + Sync + 'static {
    /// The name written after `connector`.
    const NAME: &'static str;
    /// "a" or "an", for messages ("an ldap connector").
    const ARTICLE: &'static str = "a";
    /// A complete `connector ...` line, shown as usage in diagnostics.
    const EXAMPLE: &'static str;
    /// The properties the `connector` node accepts.
    const PROPERTIES: &'static [&'static str];
    /// Every action the kind can do when configured for it.
    const ACTIONS: &'static [Action];

    /// Reads the settings from the node's properties. Problems are reported through `props`
    /// (with spans); `None` when the settings cannot be used.
    fn read(props: &mut Properties<'_, '_>) -> Option<Self>;

    /// When these settings switch `action` off, the hint naming the setting.
    fn switched_off(&self, _action: Action) -> Option<&'static str> {
        None
    }

    /// Where a credential goes and where it comes from (`url`, credential source): what a
    /// pull request must not change unreviewed. `None` for kinds without credentials.
    fn credential_route(&self) -> Option<(String, String)> {
        None
    }

    /// Where `move` puts an account that is disabled.
    fn move_target(&self) -> Option<&str> {
        None
    }

    /// The local file the kind reads, relative to the policy repository.
    fn data_path(&self) -> Option<&Path> {
        None
    }

    /// What `disable` leaves an account as, when more precise than "disabled" (the plan
    /// shows `active -> suspended`).
    fn disabled_as(&self) -> Option<&'static str> {
        None
    }

    /// Whether the kind leaves `action` to a person: the plan makes it a task with the
    /// steps of [`Kind::instructions`] (Exchange's mailbox conversion, which Graph lacks).
    fn by_hand(&self, _action: Action) -> bool {
        false
    }

    /// The exact steps for a person doing `action` on `account` by hand; `manager` is the
    /// leaver's manager from the roster, when known.
    fn instructions(
        &self,
        _action: Action,
        _account: &crate::connector::Account,
        _manager: Option<&str>,
    ) -> Vec<String> {
        Vec::new()
    }

    /// The connector for system `system`; `root` is the policy repository (for secret files
    /// and data paths).
    fn connect(&self, system: &str, root: &Path) -> Result<Box<dyn Connector>, ConnectorError>;

    /// The actions these settings allow, in the kind's order.
    fn capabilities(&self) -> Vec<Action> {
        Self::ACTIONS
            .iter()
            .copied()
            .filter(|a| self.switched_off(*a).is_none())
            .collect()
    }
}

/// A kind as the policy parser sees it before it has settings: its name and declarations,
/// and how to read a `connector` node into a [`ConnectorConfig`].
pub struct KindEntry {
    pub name: &'static str,
    pub article: &'static str,
    pub example: &'static str,
    pub properties: &'static [&'static str],
    pub actions: &'static [Action],
    pub read: fn(&mut Properties<'_, '_>) -> Option<ConnectorConfig>,
}

/// Generates [`ConnectorConfig`] (one variant per kind), its dispatch methods and [`KINDS`].
/// Invoked once, in `src/connector/mod.rs`, beside the kinds' module declarations.
macro_rules! registry {
    ($($variant:ident => $settings:ty),+ $(,)?) => {
        /// A connected system's settings, by kind. Secrets appear only as
        /// [`crate::policy::SecretRef`]s.
        #[derive(Debug, Clone, PartialEq)]
        pub enum ConnectorConfig {
            $($variant($settings)),+
        }

        /// Every connector kind, in the order the documentation lists them.
        pub const KINDS: &[$crate::connector::kind::KindEntry] = &[$($crate::connector::kind::KindEntry {
            name: <$settings as $crate::connector::kind::Kind>::NAME,
            article: <$settings as $crate::connector::kind::Kind>::ARTICLE,
            example: <$settings as $crate::connector::kind::Kind>::EXAMPLE,
            properties: <$settings as $crate::connector::kind::Kind>::PROPERTIES,
            actions: <$settings as $crate::connector::kind::Kind>::ACTIONS,
            read: |props| <$settings as $crate::connector::kind::Kind>::read(props).map(ConnectorConfig::$variant),
        }),+];

        impl ConnectorConfig {
            /// The kind's name, as written after `connector`.
            pub fn kind(&self) -> &'static str {
                match self {
                    $(ConnectorConfig::$variant(_) => <$settings as $crate::connector::kind::Kind>::NAME),+
                }
            }

            /// The actions these settings allow.
            pub fn capabilities(&self) -> Vec<$crate::policy::Action> {
                match self {
                    $(ConnectorConfig::$variant(s) => $crate::connector::kind::Kind::capabilities(s)),+
                }
            }

            /// Whether these settings allow `action`.
            pub fn can(&self, action: $crate::policy::Action) -> bool {
                match self {
                    $(ConnectorConfig::$variant(s) => {
                        <$settings as $crate::connector::kind::Kind>::ACTIONS.contains(&action)
                            && $crate::connector::kind::Kind::switched_off(s, action).is_none()
                    }),+
                }
            }

            /// When these settings switch `action` off, the hint naming the setting.
            pub fn switched_off(&self, action: $crate::policy::Action) -> Option<&'static str> {
                match self {
                    $(ConnectorConfig::$variant(s) => $crate::connector::kind::Kind::switched_off(s, action)),+
                }
            }

            /// See [`Kind::credential_route`].
            pub fn credential_route(&self) -> Option<(String, String)> {
                match self {
                    $(ConnectorConfig::$variant(s) => $crate::connector::kind::Kind::credential_route(s)),+
                }
            }

            /// See [`Kind::move_target`].
            pub fn move_target(&self) -> Option<&str> {
                match self {
                    $(ConnectorConfig::$variant(s) => $crate::connector::kind::Kind::move_target(s)),+
                }
            }

            /// See [`Kind::data_path`].
            pub fn data_path(&self) -> Option<&::std::path::Path> {
                match self {
                    $(ConnectorConfig::$variant(s) => $crate::connector::kind::Kind::data_path(s)),+
                }
            }

            /// See [`Kind::disabled_as`].
            pub fn disabled_as(&self) -> Option<&'static str> {
                match self {
                    $(ConnectorConfig::$variant(s) => $crate::connector::kind::Kind::disabled_as(s)),+
                }
            }

            /// See [`Kind::by_hand`].
            pub fn by_hand(&self, action: $crate::policy::Action) -> bool {
                match self {
                    $(ConnectorConfig::$variant(s) => $crate::connector::kind::Kind::by_hand(s, action)),+
                }
            }

            /// See [`Kind::instructions`].
            pub fn instructions(
                &self,
                action: $crate::policy::Action,
                account: &$crate::connector::Account,
                manager: Option<&str>,
            ) -> Vec<String> {
                match self {
                    $(ConnectorConfig::$variant(s) => $crate::connector::kind::Kind::instructions(s, action, account, manager)),+
                }
            }

            /// See [`Kind::connect`].
            pub fn connect(
                &self,
                system: &str,
                root: &::std::path::Path,
            ) -> Result<Box<dyn $crate::connector::Connector>, $crate::connector::ConnectorError> {
                match self {
                    $(ConnectorConfig::$variant(s) => $crate::connector::kind::Kind::connect(s, system, root)),+
                }
            }
        }
    };
}

pub(crate) use registry;

/// The kind registered under `name`.
pub fn kind(name: &str) -> Option<&'static KindEntry> {
    KINDS.iter().find(|k| k.name == name)
}
