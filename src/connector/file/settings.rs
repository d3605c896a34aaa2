//! The `connector file` settings: where the export lies and how it is encoded.

use std::path::{Path, PathBuf};

use super::FileConnector;
use crate::connector::kind::Kind;
use crate::connector::{Connector, ConnectorError};
use crate::policy::props::Properties;
use crate::policy::{Action, FileFormat};

/// `connector file path="..." format=json|csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSettings {
    /// Relative to the policy repository root.
    pub path: PathBuf,
    pub format: FileFormat,
}

impl Kind for FileSettings {
    const NAME: &'static str = "file";
    const EXAMPLE: &'static str = "connector file path=\"inventory/accounts/NAME.json\"";
    const PROPERTIES: &'static [&'static str] = &["path", "format"];
    const ACTIONS: &'static [Action] = &[
        Action::Disable,
        Action::RevokeSessions,
        Action::RemoveGroups,
        Action::RemoveLicenses,
        Action::Delete,
    ];

    fn read(props: &mut Properties<'_, '_>) -> Option<Self> {
        let path = props.path("path").unwrap_or_else(|| {
            PathBuf::from(format!("inventory/accounts/{}.json", props.system()))
        });
        let format = match props.keyword("format", &["json", "csv"], "file format")? {
            Some(f) if f == "csv" => FileFormat::Csv,
            Some(_) => FileFormat::Json,
            // Without `format=`, the extension decides.
            None if path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("csv")) =>
            {
                FileFormat::Csv
            }
            None => FileFormat::Json,
        };
        Some(FileSettings { path, format })
    }

    fn data_path(&self) -> Option<&Path> {
        Some(&self.path)
    }

    fn connect(&self, system: &str, root: &Path) -> Result<Box<dyn Connector>, ConnectorError> {
        Ok(Box::new(FileConnector::new(
            system,
            root.join(&self.path),
            self.format,
        )))
    }
}
