//! Hostile remote systems: a SCIM service or an LDAP directory that is broken or compromised
//! tries to hang offboard, crash it, exhaust its memory, hide an account or read the token
//! back out. Each case asserts the safe outcome: a clear connector error, in bounded time.
//!
//! The servers here are fault injectors, named so: `HttpFaultServer` and `LdapFaultServer`
//! answer on 127.0.0.1 with exactly the bytes a case prescribes, which no real server would
//! send. Real-server behaviour is tested elsewhere (tests/scim.rs, tests/ldap.rs).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use offboard::connector::{Connector, ConnectorError};

/// A fault-injecting HTTP/1.1 server: each request gets `respond(request_index, request_head)`.
struct HttpFaultServer {
    port: u16,
}

impl HttpFaultServer {
    fn start(respond: impl Fn(usize, &str) -> Vec<u8> + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let respond = Arc::new(respond);
        let count = Arc::new(AtomicUsize::new(0));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let respond = respond.clone();
                let count = count.clone();
                std::thread::spawn(move || serve_http(stream, &*respond, &count));
            }
        });
        HttpFaultServer { port }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/scim/v2", self.port)
    }
}

fn serve_http(mut stream: TcpStream, respond: &dyn Fn(usize, &str) -> Vec<u8>, n: &AtomicUsize) {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(read) = stream.read(&mut buf) {
        if read == 0 {
            return;
        }
        head.extend_from_slice(&buf[..read]);
        if head.windows(4).any(|w| w == b"\r\n\r\n") {
            let text = String::from_utf8_lossy(&head).into_owned();
            head.clear();
            let answer = respond(n.fetch_add(1, Ordering::SeqCst), &text);
            if stream.write_all(&answer).is_err() {
                return;
            }
        }
    }
}

fn http(status: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/scim+json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

fn json(status: &str, body: serde_json::Value) -> Vec<u8> {
    http(status, body.to_string().as_bytes())
}

/// The connector of a one-system policy, as `plan` would build it.
fn connector(connector_line: &str) -> Box<dyn Connector> {
    // SAFETY: every test sets the same value; no test reads another variable concurrently.
    unsafe { std::env::set_var("HOSTILE_SERVER_SECRET", "tok-hostile-canary-5d1f") };
    let text = format!(
        "system target {{\n    {connector_line}\n    tier business\n    correlate email=\"userName\"\n}}\n"
    );
    let policy = offboard::policy::load_texts(vec![(PathBuf::from("policies/a.kdl"), text)])
        .unwrap_or_else(|e| panic!("{e:?}"));
    let system = &policy.systems[0];
    let settings = system.connector().expect("a connector");
    settings
        .connect(system.name(), std::path::Path::new("."))
        .expect("it builds")
}

fn scim(server: &HttpFaultServer) -> Box<dyn Connector> {
    connector(&format!(
        "connector scim url=\"{}\" token-env=HOSTILE_SERVER_SECRET timeout=\"3s\"",
        server.url()
    ))
}

/// Lists the accounts, asserting that it ends within `limit`, and returns the error.
fn list_fails(connector: Box<dyn Connector>, limit: Duration) -> ConnectorError {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let started = Instant::now();
    let outcome = runtime.block_on(connector.list_accounts());
    assert!(started.elapsed() < limit, "took {:?}", started.elapsed());
    match outcome {
        Ok(accounts) => panic!("expected an error, got {} accounts", accounts.len()),
        Err(e) => {
            let text = format!("{} {}", e.message, e.hint.clone().unwrap_or_default());
            assert!(!text.contains("canary"), "the token leaked: {text}");
            e
        }
    }
}

fn users(ids: &[&str], total: usize) -> serde_json::Value {
    let resources: Vec<_> = ids
        .iter()
        .map(|id| serde_json::json!({"id": id, "userName": format!("{id}@example.com")}))
        .collect();
    serde_json::json!({"totalResults": total, "Resources": resources})
}

// --- SCIM ------------------------------------------------------------------------------------

#[test]
fn a_scim_server_ignoring_start_index_cannot_loop_forever() {
    let server = HttpFaultServer::start(|_, _| json("200 OK", users(&["a", "b"], 1_000_000)));
    let e = list_fails(scim(&server), Duration::from_secs(10));
    assert!(e.message.contains("again"), "{}", e.message);
}

#[test]
fn a_scim_body_too_large_for_memory_is_refused_while_it_streams() {
    // Announces 65 MiB and sends it: refused at the limit, before all of it is buffered.
    let server = HttpFaultServer::start(|_, _| {
        let mut body = b"{\"Resources\": [".to_vec();
        body.resize(65 << 20, b' ');
        http("200 OK", &body)
    });
    let e = list_fails(scim(&server), Duration::from_secs(20));
    assert!(e.message.contains("larger than 64 MiB"), "{}", e.message);
}

#[test]
fn a_scim_user_without_an_id_is_an_error_not_a_missing_account() {
    let server = HttpFaultServer::start(|_, _| {
        json(
            "200 OK",
            serde_json::json!({"totalResults": 2, "Resources": [
                {"id": "a", "userName": "a@example.com"},
                {"userName": "hidden@example.com"}
            ]}),
        )
    });
    let e = list_fails(scim(&server), Duration::from_secs(10));
    assert!(e.message.contains("no id"), "{}", e.message);
}

#[test]
fn malformed_scim_pages_are_errors() {
    for (body, expected) in [
        (b"<html>maintenance</html>".to_vec(), "not JSON"),
        ("[".repeat(50_000).into_bytes(), "not JSON"),
        (
            br#"{"totalResults": "lots", "Resources": []}"#.to_vec(),
            "not a count",
        ),
        (
            br#"{"totalResults": 1, "Resources": {"id": "a"}}"#.to_vec(),
            "not a list",
        ),
        (
            br#"{"totalResults": 1, "Resources": ["a"]}"#.to_vec(),
            "not an object",
        ),
        (
            br#"{"totalResults": 1, "Resources": [{"id": 7}]}"#.to_vec(),
            "not a string",
        ),
        (b"\"just a string\"".to_vec(), "JSON object"),
    ] {
        let server = HttpFaultServer::start(move |_, _| http("200 OK", &body));
        let e = list_fails(scim(&server), Duration::from_secs(10));
        assert!(e.message.contains(expected), "{expected}: {}", e.message);
    }
}

#[test]
fn a_scim_server_echoing_the_authorization_header_gets_it_redacted() {
    let server = HttpFaultServer::start(|_, head| {
        let auth = head
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("authorization"))
            .unwrap_or("")
            .to_string();
        json("401 Unauthorized", serde_json::json!({"detail": auth}))
    });
    let e = list_fails(scim(&server), Duration::from_secs(10));
    assert!(e.message.contains("[redacted]"), "{}", e.message);
}

#[test]
fn a_scim_server_that_never_finishes_its_body_times_out() {
    let server = HttpFaultServer::start(|_, _| {
        // Headers promise a body that never comes; the connection stays open.
        std::thread::sleep(Duration::from_secs(30));
        Vec::new()
    });
    let e = list_fails(scim(&server), Duration::from_secs(10));
    assert!(e.message.contains("timed out"), "{}", e.message);
}

#[test]
fn a_scim_server_without_total_results_is_read_to_the_end() {
    // RFC 7644 requires totalResults; a server omitting it must not truncate the listing.
    let server = HttpFaultServer::start(|_, head| {
        let page = if head.contains("startIndex=1&") {
            serde_json::json!({"Resources": (0..100).map(|i| serde_json::json!({"id": format!("u{i}"), "userName": "x"})).collect::<Vec<_>>()})
        } else {
            serde_json::json!({"Resources": [{"id": "last", "userName": "last@example.com"}]})
        };
        json("200 OK", page)
    });
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let accounts = runtime.block_on(scim(&server).list_accounts()).unwrap();
    assert_eq!(accounts.len(), 101);
}

// --- LDAP ------------------------------------------------------------------------------------

/// BER: one tag-length-value.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 128 {
        out.push(n as u8);
    } else {
        let bytes: Vec<u8> = n
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

fn octets(s: &[u8]) -> Vec<u8> {
    tlv(0x04, s)
}

/// An LDAPMessage with message id `id` around protocol operation `op`.
fn message(id: u8, op: &[u8]) -> Vec<u8> {
    tlv(0x30, &[tlv(0x02, &[id]), op.to_vec()].concat())
}

/// A result (bind response 0x61, search done 0x65) with resultCode success.
fn success(op: u8) -> Vec<u8> {
    tlv(op, &[tlv(0x0a, &[0]), octets(b""), octets(b"")].concat())
}

fn entry(dn: &[u8], attrs: &[(&str, &[&[u8]])]) -> Vec<u8> {
    let list: Vec<u8> = attrs
        .iter()
        .flat_map(|(name, values)| {
            let values: Vec<u8> = values.iter().flat_map(|v| octets(v)).collect();
            tlv(
                0x30,
                &[octets(name.as_bytes()), tlv(0x31, &values)].concat(),
            )
        })
        .collect();
    tlv(0x64, &[octets(dn), tlv(0x30, &list)].concat())
}

/// A fault-injecting LDAP server: binds succeed, a search is answered with `reply(id)` bytes
/// (whatever they are), then a clean SearchResultDone.
struct LdapFaultServer {
    port: u16,
}

impl LdapFaultServer {
    fn start(reply: impl Fn(u8) -> Vec<u8> + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let reply = Arc::new(reply);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let reply = reply.clone();
                std::thread::spawn(move || serve_ldap(stream, &*reply));
            }
        });
        LdapFaultServer { port }
    }
}

fn serve_ldap(mut stream: TcpStream, reply: &dyn Fn(u8) -> Vec<u8>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        // Requests from ldap3 are short: a length byte or 0x81/0x82 plus one or two bytes.
        while let Some((id, op, used)) = request(&buf) {
            buf.drain(..used);
            let answer = match op {
                0x60 => message(id, &success(0x61)),
                0x63 => [reply(id), message(id, &success(0x65))].concat(),
                _ => return,
            };
            if stream.write_all(&answer).is_err() {
                return;
            }
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// (message id, protocol op tag, bytes used) of the first complete request in `buf`.
fn request(buf: &[u8]) -> Option<(u8, u8, usize)> {
    let (len, header) = match *buf.get(1)? {
        n if n < 0x80 => (n as usize, 2),
        0x81 => (*buf.get(2)? as usize, 3),
        0x82 => (u16::from_be_bytes([*buf.get(2)?, *buf.get(3)?]) as usize, 4),
        _ => return None,
    };
    if buf.len() < header + len {
        return None;
    }
    let body = &buf[header..];
    // INTEGER message id (one byte for our short sessions), then the operation's tag.
    let id = *body.get(2)?;
    let op = *body.get(3)?;
    Some((id, op, header + len))
}

fn ldap(server: &LdapFaultServer) -> Box<dyn Connector> {
    connector(&format!(
        "connector ldap url=\"ldap://127.0.0.1:{}\" bind-dn=\"cn=admin,dc=x\" password-env=HOSTILE_SERVER_SECRET base-dn=\"dc=x\" timeout=\"3s\"",
        server.port
    ))
}

#[test]
fn a_directory_entry_with_a_dn_that_is_not_text_is_an_error_not_a_crash() {
    let server =
        LdapFaultServer::start(|id| message(id, &entry(b"uid=\xff\xfe,dc=x", &[("uid", &[b"a"])])));
    let e = list_fails(ldap(&server), Duration::from_secs(10));
    assert!(e.message.contains("not UTF-8"), "{}", e.message);
}

#[test]
fn malformed_directory_entries_are_errors_not_crashes() {
    for (op, expected) in [
        // An attribute without its value set.
        (
            tlv(
                0x64,
                &[
                    octets(b"uid=a,dc=x"),
                    tlv(0x30, &tlv(0x30, &octets(b"uid"))),
                ]
                .concat(),
            ),
            "lacks its name or values",
        ),
        // No attribute list at all.
        (tlv(0x64, &octets(b"uid=a,dc=x")), "no attribute list"),
        // The DN as a constructed value.
        (
            tlv(0x64, &[tlv(0x30, &[]), tlv(0x30, &[])].concat()),
            "not an octet string",
        ),
    ] {
        let server = LdapFaultServer::start(move |id| message(id, &op));
        let e = list_fails(ldap(&server), Duration::from_secs(10));
        assert!(e.message.contains(expected), "{expected}: {}", e.message);
    }
}

#[test]
fn a_malformed_ldap_message_ends_the_read_with_an_error() {
    // An empty LDAPMessage: ldap3's decoder gives up on the connection.
    let server = LdapFaultServer::start(|_| tlv(0x30, &[]));
    let e = list_fails(ldap(&server), Duration::from_secs(10));
    assert!(e.message.starts_with("search"), "{}", e.message);
}

#[test]
fn a_directory_that_never_answers_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let _held: Vec<_> = listener.incoming().take(4).collect();
        std::thread::sleep(Duration::from_secs(60));
    });
    let e = list_fails(ldap(&LdapFaultServer { port }), Duration::from_secs(10));
    assert!(e.message.contains("timed out"), "{}", e.message);
}

#[test]
fn a_well_formed_fault_server_entry_is_an_account() {
    // The control case: the injector speaks valid LDAP, so the cases above fail for their
    // fault and not for the injector.
    let server = LdapFaultServer::start(|id| {
        message(
            id,
            &entry(
                b"uid=ada,ou=People,dc=x",
                &[("objectClass", &[b"person"]), ("uid", &[b"ada"])],
            ),
        )
    });
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let accounts = runtime.block_on(ldap(&server).list_accounts()).unwrap();
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0].id, "ada");
}
