//! A local HTTP receiver for chat incoming webhooks (Slack- and Teams-compatible JSON): it
//! answers 200 and keeps every body posted to it.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use serde_json::Value;

use crate::stand_in::{Serving, bind, serve};

pub struct ChatReceiver {
    pub url: String,
    posts: Arc<Mutex<Vec<Value>>>,
    _serving: Serving,
}

impl ChatReceiver {
    pub fn start() -> ChatReceiver {
        let (listener, port) = bind("chat receiver");
        let posts: Arc<Mutex<Vec<Value>>> = Arc::default();
        let router = Router::new()
            .route(
                "/hook/{secret}",
                post(
                    |State(posts): State<Arc<Mutex<Vec<Value>>>>, body: axum::body::Bytes| async move {
                        let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                        posts.lock().unwrap().push(value);
                        "ok"
                    },
                ),
            )
            .with_state(posts.clone());
        ChatReceiver {
            url: format!("http://127.0.0.1:{port}/hook/T0-B0-secretpart"),
            posts,
            _serving: serve("chat receiver", listener, router),
        }
    }

    pub fn posts(&self) -> Vec<Value> {
        self.posts.lock().unwrap().clone()
    }
}
