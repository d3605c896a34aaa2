//! A real SCIM server (`scim2-server` from PyPI) and a small independent SCIM client for
//! seeding and checking what the connector under test did.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

use crate::fixtures::root;
use crate::servers::{start_with_retries, stop, wait_listening};

pub const SCIM_TOKEN: &str = "test-scim-token-5b1f";

/// A real `scim2-server` (PyPI scim2-server 0.8.3) on 127.0.0.1, stopped on drop.
pub struct ScimServer {
    child: Option<Child>,
    pub port: u16,
}

impl ScimServer {
    fn binary() -> PathBuf {
        std::env::var_os("OFFBOARD_SCIM_SERVER")
            .map(PathBuf::from)
            .unwrap_or_else(|| root().join("target/venv/bin/scim2-server"))
    }

    /// Start on a free port with `--dynamic-tenants`; panics with the reason if it cannot.
    pub fn start() -> ScimServer {
        start_with_retries("scim2-server", Self::try_start_on)
    }

    /// Start on `port` (a restart on the same port); panics with the reason if it cannot.
    pub fn start_on(port: u16) -> ScimServer {
        Self::try_start_on(port).unwrap_or_else(|e| panic!("{e}"))
    }

    fn try_start_on(port: u16) -> Result<ScimServer, String> {
        let bin = Self::binary();
        assert!(
            bin.exists(),
            "scim2-server not found at {}: run `bash tests/run.sh` (it installs PyPI scim2-server==0.8.3 into target/venv)",
            bin.display()
        );
        let mut child = Command::new(&bin)
            .args([
                "--hostname",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--bearer-token",
                SCIM_TOKEN,
                "--dynamic-tenants",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        if let Err(e) = wait_listening(&mut child, port, "scim2-server") {
            stop(child);
            return Err(e);
        }
        Ok(ScimServer {
            child: Some(child),
            port,
        })
    }

    /// Base URL of one tenant (each has its own store).
    pub fn url(&self, tenant: &str) -> String {
        format!("http://127.0.0.1:{}/{tenant}/v2", self.port)
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for ScimServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A tiny SCIM client for seeding and independent checks (not the connector under test).
pub struct ScimClient {
    pub base: String,
    http: reqwest::Client,
}

impl ScimClient {
    pub fn new(base: &str) -> Self {
        ScimClient {
            base: base.to_string(),
            http: reqwest::Client::new(),
        }
    }

    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}/{path}", self.base))
            .bearer_auth(SCIM_TOKEN);
        if let Some(b) = body {
            req = req
                .header("Content-Type", "application/scim+json")
                .body(b.to_string());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn create_user(&self, user_name: &str, email: &str, active: bool) -> String {
        let (status, body) = self
            .request(
                reqwest::Method::POST,
                "Users",
                Some(json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": user_name,
                    "emails": [{"value": email, "primary": true}],
                    "active": active,
                })),
            )
            .await;
        assert_eq!(status, 201, "create user: {body}");
        body["id"].as_str().unwrap().to_string()
    }

    pub async fn create_group(&self, name: &str, members: &[&str]) -> String {
        let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
        let (status, body) = self
            .request(
                reqwest::Method::POST,
                "Groups",
                Some(json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                    "displayName": name,
                    "members": members,
                })),
            )
            .await;
        assert_eq!(status, 201, "create group: {body}");
        body["id"].as_str().unwrap().to_string()
    }

    pub async fn user(&self, id: &str) -> Option<Value> {
        let (status, body) = self
            .request(reqwest::Method::GET, &format!("Users/{id}"), None)
            .await;
        (status == 200).then_some(body)
    }

    /// Ids of the groups that list `id` as a member (read from every group, no filter).
    pub async fn groups_of(&self, id: &str) -> Vec<String> {
        let (_, body) = self
            .request(reqwest::Method::GET, "Groups?count=1000", None)
            .await;
        body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|g| {
                g["members"]
                    .as_array()
                    .is_some_and(|ms| ms.iter().any(|m| m["value"] == id))
            })
            .map(|g| g["displayName"].as_str().unwrap().to_string())
            .collect()
    }
}
