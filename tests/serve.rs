//! `offboard serve` as a process, against real servers: a SCIM server as the identity
//! provider (PyPI scim2-server), a real SMTP server (PyPI aiosmtpd) receiving the
//! notifications, a local receiver for the chat webhook, and real HTTP requests with
//! correct, wrong, stale and replayed signatures. The scheduler runs on a clock read from a
//! file, so "at the cutoff, not before" is tested at the cutoff.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use offboard::journal::{Journal, Record};
use offboard::server::signature::{Scheme, sign};
use offboard_test_support as common;

const TOKEN_VAR: &str = "OFFBOARD_TEST_SCIM_TOKEN";
const HR_SECRET: &str = "hr-webhook-secret-3f9a1c";
const BAMBOO_SECRET: &str = "bamboo-webhook-secret-77d1";
const HIBOB_SECRET: &str = "hibob-webhook-secret-0be2";

/// One person of the roster: (employee id, email, name, status, termination type, last day,
/// manager).
type Row<'a> = (
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
);

struct Site {
    dir: tempfile::TempDir,
    _scim: common::ScimServer,
    client: common::ScimClient,
    smtp: common::SmtpServer,
    chat: common::ChatReceiver,
    /// SCIM id by email.
    ids: HashMap<String, String>,
}

impl Site {
    /// A policy repository whose identity provider is a real SCIM server holding an active
    /// account for every row, reached through `scim_port` (the server's own port, or a proxy
    /// in front of it).
    fn new(rows: &[Row<'_>], proxy_delay: Option<Duration>) -> Site {
        Site::with_policy(rows, proxy_delay, "", common::Protection::None)
    }

    /// The same, with `extra` policy text.
    fn with_policy(
        rows: &[Row<'_>],
        proxy_delay: Option<Duration>,
        extra: &str,
        protection: common::Protection,
    ) -> Site {
        let scim = common::ScimServer::start();
        // The proxy serves until the test process ends.
        let scim_port = proxy_delay.map_or(scim.port, |d| {
            common::DelayFaultProxy::start(scim.port, d).port
        });
        let client = common::ScimClient::new(&scim.url("idp"));
        let smtp = common::SmtpServer::start_protected(protection);
        let chat = common::ChatReceiver::start();
        let dir = tempfile::tempdir().unwrap();
        // The server's certificate comes from a CA of its own: the policy trusts it by file.
        let smtp_line = match protection {
            common::Protection::None => format!(
                r#"smtp host="127.0.0.1" port={} tls="none" from="offboard@acme.example""#,
                smtp.port
            ),
            protected => {
                std::fs::copy(smtp.ca_file(), dir.path().join("smtp-ca.pem")).unwrap();
                format!(
                    r#"smtp host="localhost" port={} tls="{}" from="offboard@acme.example" ca-file="smtp-ca.pem""#,
                    smtp.port,
                    if protected == common::Protection::Tls {
                        "tls"
                    } else {
                        "starttls"
                    }
                )
            }
        };
        std::fs::create_dir_all(dir.path().join("policies")).unwrap();
        let policy = format!(
            r#"defaults {{
    max-disable-share "100%"
    override-confirm-within "1s"
    escalate-after "1h"
}}
people {{
    source csv path="people.csv"
}}
system idp {{
    owner "it-ops@acme.example"
    connector scim url="http://127.0.0.1:{scim_port}/idp/v2" token-env="{TOKEN_VAR}"
    tier identity-provider
    correlate email="email"
    on-leave disable
}}
rule involuntary {{
    when "person.termination_type == \"involuntary\""
    cutoff immediately
    notify "security@acme.example" "sec-chat" "it-teams"
    auto-apply #true
}}
rule voluntary {{
    when "person.termination_type == \"voluntary\""
    cutoff end-of-last-day
}}
notifications {{
    default "it-ops@acme.example"
    {smtp_line}
    chat "sec-chat" url-env="SEC_CHAT_URL" style="slack"
    chat "it-teams" url-env="IT_TEAMS_URL" style="teams"
}}
trigger "hr" scheme="generic" secret-env="HR_SECRET"
trigger "bamboohr" scheme="bamboohr" secret-env="BAMBOO_SECRET"
trigger "hibob" scheme="hibob" secret-env="HIBOB_SECRET"
{extra}
"#
        );
        std::fs::write(dir.path().join("policies/policy.kdl"), policy).unwrap();
        let mut csv = String::from(
            "employee_id,email,name,department,manager_email,status,termination_type,last_day\n",
        );
        for (id, email, name, status, kind, last_day, manager) in rows {
            csv.push_str(&format!(
                "{id},{email},{name},Engineering,{manager},{status},{kind},{last_day}\n"
            ));
        }
        std::fs::write(dir.path().join("people.csv"), csv).unwrap();
        common::commit_all(dir.path(), "policy");
        let rt = common::runtime();
        let mut ids = HashMap::new();
        for (_, email, ..) in rows {
            let user = email.split('@').next().unwrap();
            ids.insert(
                email.to_string(),
                rt.block_on(client.create_user(user, email, true)),
            );
        }
        common::offboard(dir.path())
            .args(["journal", "init"])
            .assert()
            .success();
        Site {
            dir,
            _scim: scim,
            client,
            smtp,
            chat,
            ids,
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn envs(&self) -> Vec<(&'static str, String)> {
        vec![
            (TOKEN_VAR, common::SCIM_TOKEN.to_string()),
            ("HR_SECRET", HR_SECRET.to_string()),
            ("BAMBOO_SECRET", BAMBOO_SECRET.to_string()),
            ("HIBOB_SECRET", HIBOB_SECRET.to_string()),
            ("SEC_CHAT_URL", self.chat.url.clone()),
            ("IT_TEAMS_URL", format!("{}-teams", self.chat.url)),
        ]
    }

    fn serve(&self, args: &[&str]) -> common::ServeProcess {
        let envs = self.envs();
        let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        common::ServeProcess::start(self.path(), &envs, args)
    }

    fn active(&self, email: &str) -> bool {
        let id = &self.ids[email];
        let user = common::runtime()
            .block_on(self.client.user(id))
            .expect("the user exists");
        user["active"] != false
    }

    fn wait_inactive(&self, email: &str, serving: &common::ServeProcess) {
        let start = Instant::now();
        while self.active(email) {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "{email} is still active after 60 s; serve's log:\n{}",
                serving.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn journal(&self) -> Journal {
        Journal::open_read_only(&self.path().join(".offboard/journal.db")).unwrap()
    }
}

/// `n` people terminated for cause on 2026-11-02: (employee id, email) pairs.
fn leavers(prefix: &str, n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| (format!("E{i}"), format!("{prefix}{i:02}@acme.example")))
        .collect()
}

/// Roster rows for `people`: leavers, except `active` ones.
fn rows<'a>(people: &'a [(String, String)], active: &[&str]) -> Vec<Row<'a>> {
    people
        .iter()
        .map(|(id, email)| {
            if active.contains(&email.as_str()) {
                (id.as_str(), email.as_str(), "Active", "active", "", "", "")
            } else {
                (
                    id.as_str(),
                    email.as_str(),
                    "Leaver",
                    "terminated",
                    "involuntary",
                    "2026-11-02",
                    "",
                )
            }
        })
        .collect()
}

/// Wait until the journal holds a change's result: an apply is under way.
fn wait_for_a_result(site: &Site, serving: &common::ServeProcess) {
    let start = Instant::now();
    while !site
        .journal()
        .typed_records()
        .unwrap()
        .iter()
        .any(|(r, _)| matches!(r, Record::Result(_)))
    {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no result recorded:\n{}",
            serving.log()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn generic() -> Scheme {
    Scheme::Generic {
        signature_header: "X-Offboard-Signature".into(),
        timestamp_header: "X-Offboard-Timestamp".into(),
    }
}

fn termination(event_id: &str, email: &str, kind: &str) -> Vec<u8> {
    serde_json::json!({
        "event_id": event_id,
        "type": "termination",
        "person": {"email": email},
        "termination_type": kind,
        "last_day": "2026-11-30",
    })
    .to_string()
    .into_bytes()
}

fn now() -> jiff::Timestamp {
    jiff::Timestamp::now()
}

#[test]
fn webhooks_are_verified_journaled_before_the_answer_and_cut_at_once() {
    if common::skip_real_servers("serve webhooks") {
        return;
    }
    let site = Site::new(
        &[
            (
                "E1",
                "ann@acme.example",
                "Ann Lee",
                "active",
                "",
                "",
                "boss@acme.example",
            ),
            (
                "E2",
                "boss@acme.example",
                "Bo Ss",
                "active",
                "",
                "",
                "grand@acme.example",
            ),
        ],
        None,
    );
    let mut serving = site.serve(&["--tick", "1s"]);
    let body = termination("evt-1", "ann@acme.example", "involuntary");
    let path = "/hooks/hr/hr";

    // Refused: no effect, nothing journaled.
    let refused = [
        ("unsigned", Vec::new(), 401),
        (
            "wrong secret",
            sign(&generic(), b"not-the-secret", &body, now()),
            401,
        ),
        (
            "stale",
            sign(
                &generic(),
                HR_SECRET.as_bytes(),
                &body,
                now() - jiff::SignedDuration::from_mins(10),
            ),
            401,
        ),
        (
            "signed for another body",
            sign(
                &generic(),
                HR_SECRET.as_bytes(),
                &termination("evt-1", "boss@acme.example", "involuntary"),
                now(),
            ),
            401,
        ),
    ];
    for (what, headers, status) in &refused {
        let (got, answer) = serving.post(path, headers, &body);
        assert_eq!(got, *status, "{what}: {answer}");
        assert!(!answer.contains(HR_SECRET), "{what}: {answer}");
    }
    let (got, _) = serving.post(
        "/hooks/hr/nobody",
        &sign(&generic(), HR_SECRET.as_bytes(), &body, now()),
        &body,
    );
    assert_eq!(got, 404);
    // A hostile size is refused before anything reads it.
    let huge = vec![b' '; 3 << 20];
    assert_eq!(serving.post(path, &[], &huge).0, 413);
    assert!(site.journal().triggers().unwrap().is_empty());
    std::thread::sleep(Duration::from_millis(1500));
    assert!(site.active("ann@acme.example"), "a refused webhook cut ann");

    // Accepted: journaled by the time the answer arrives, then cut with no human.
    let headers = sign(&generic(), HR_SECRET.as_bytes(), &body, now());
    let (got, answer) = serving.post(path, &headers, &body);
    assert_eq!(got, 202, "{answer}\n{}", serving.log());
    assert!(
        answer.contains("\"disposition\":\"auto-apply\""),
        "{answer}"
    );
    let triggers = site.journal().triggers().unwrap();
    assert_eq!(triggers.len(), 1, "journaled before the answer");
    let t = &triggers[0];
    assert_eq!(
        (t.source.as_str(), t.event_id.as_str(), t.person.as_str()),
        ("hr", "evt-1", "ann@acme.example")
    );
    assert_eq!(t.payload_digest, blake3::hash(&body).to_hex().to_string());
    site.wait_inactive("ann@acme.example", &serving);
    assert!(site.active("boss@acme.example"));

    // The same delivery again is a replay.
    let (got, answer) = serving.post(path, &headers, &body);
    assert_eq!(got, 409, "{answer}");
    assert_eq!(site.journal().triggers().unwrap().len(), 1);

    // The verification report reaches the rule's recipients and the default, by mail and
    // chat, and the run names the webhook as its trigger.
    let mail = site
        .smtp
        .wait_for("security@acme.example", "GREEN: 1 leaver", 30);
    assert!(mail.raw.contains("ann@acme.example"), "{}", mail.raw);
    let body = mail.body();
    insta::with_settings!({filters => vec![
        (r"\d{8}T\d{6}Z-[0-9a-f]{6}", "[RUN]"),
        (r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC", "[TIME]"),
        (r"idp \S+: disable", "idp [ACCOUNT]: disable"),
    ]}, {
        insta::assert_snapshot!("report_mail", body);
    });
    site.smtp.wait_for("it-ops@acme.example", "GREEN", 30);
    // One Slack-shaped post, one Teams MessageCard.
    let start = Instant::now();
    while site.chat.posts().len() < 2 && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let posts = site.chat.posts();
    assert_eq!(posts.len(), 2, "{posts:?}");
    let slack = posts.iter().find(|p| p.get("@type").is_none()).unwrap();
    assert!(
        slack["text"]
            .as_str()
            .unwrap()
            .starts_with("*[offboard] GREEN")
    );
    let teams = posts.iter().find(|p| p["@type"] == "MessageCard").unwrap();
    assert!(
        teams["title"].as_str().unwrap().contains("GREEN"),
        "{teams}"
    );
    let runs = site.journal().runs().unwrap();
    assert!(
        runs.iter()
            .any(|r| r.start.trigger.as_deref() == Some("webhook hr evt-1")),
        "{runs:?}"
    );

    // The export never caught up: audit says so (override-confirm-within is 1 s here).
    std::thread::sleep(Duration::from_millis(1100));
    let audit = common::offboard(site.path())
        .env(TOKEN_VAR, common::SCIM_TOKEN)
        .args(["audit", "--format", "json"])
        .output()
        .unwrap();
    let audit = String::from_utf8_lossy(&audit.stdout);
    assert!(audit.contains("hr-disagrees"), "{audit}");

    // Health and metrics.
    let (status, health) = serving.get("/healthz");
    assert_eq!(status, 200);
    assert!(health.contains("\"status\":\"ok\""), "{health}");
    let (_, metrics) = serving.get("/metrics");
    assert!(
        metrics.contains("offboard_webhooks_total{source=\"hr\",result=\"accepted\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("offboard_webhooks_total{source=\"hr\",result=\"unauthorized\"} 4"),
        "{metrics}"
    );
    assert!(
        metrics.contains("offboard_trigger_to_zero_active_seconds_count 1"),
        "{metrics}"
    );
    assert!(metrics.contains("offboard_last_apply_success{system=\"idp\"} 1"));

    // SIGTERM: a clean stop, and nothing secret in what it logged.
    let status = serving.terminate();
    assert!(status.success(), "{status}\n{}", serving.log());
    let log = serving.log();
    for secret in [HR_SECRET, common::SCIM_TOKEN, "T0-B0-secretpart"] {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
    }
    // The trigger log and the notifications, as an auditor reads them.
    let events = common::offboard(site.path())
        .args(["journal", "events"])
        .output()
        .unwrap();
    let events = String::from_utf8_lossy(&events.stdout);
    insta::with_settings!({filters => vec![
        (r"\d{8}T\d{6}Z-[0-9a-f]{6}", "[RUN]"),
        (r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC", "[TIME]    "),
    ]}, {
        insta::assert_snapshot!("journal_events", events);
    });
    assert!(
        events.contains("HR event evt-1 from hr about ann@acme.example (Ann Lee): termination, involuntary; auto-apply"),
        "{events}"
    );
    assert!(
        events.contains("to security@acme.example by smtp (attempt 1): delivered"),
        "{events}"
    );
    assert!(
        events.contains("to sec-chat by chat:sec-chat (attempt 1): delivered"),
        "{events}"
    );
    let records = site.journal().typed_records().unwrap();
    let all: String = records.iter().map(|(_, body)| body.as_str()).collect();
    for secret in [HR_SECRET, common::SCIM_TOKEN, "T0-B0-secretpart"] {
        assert!(!all.contains(secret), "{secret} in the journal");
    }

    // HR sent it by mistake: rolling back the run gives ann her access back and revokes the
    // event, so no later apply cuts her again.
    let run = runs
        .iter()
        .find(|r| r.start.trigger.as_deref() == Some("webhook hr evt-1"))
        .unwrap()
        .start
        .run_id
        .clone();
    let rollback = common::offboard(site.path())
        .env(TOKEN_VAR, common::SCIM_TOKEN)
        .args(["rollback", &run, "--auto-approve"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&rollback.stdout);
    assert!(rollback.status.success(), "{said}\n{rollback:?}");
    assert!(said.contains("HR event evt-1 from hr"), "{said}");
    assert!(site.active("ann@acme.example"));
    common::offboard(site.path())
        .env(TOKEN_VAR, common::SCIM_TOKEN)
        .args(["apply", "--auto-approve"])
        .assert()
        .success();
    assert!(
        site.active("ann@acme.example"),
        "cut again after the rollback"
    );
}

#[test]
fn bamboohr_and_hibob_events_wait_for_approval_unless_a_rule_says_auto_apply() {
    if common::skip_real_servers("serve HR schemes") {
        return;
    }
    let site = Site::new(
        &[
            ("123", "carl@acme.example", "Carl Orr", "active", "", "", ""),
            (
                "3332883884017713238",
                "dora@acme.example",
                "Dora Vik",
                "active",
                "voluntary",
                "2026-01-15",
                "",
            ),
        ],
        None,
    );
    // Ticks and reconciles come fast: a held leaver must survive many of both.
    let serving = site.serve(&["--tick", "200ms", "--reconcile-every", "1s"]);
    let bamboo =
        br#"{"employees":[{"action":"Updated","changedFields":["Employment Status"],"id":"123",
        "fields":{"Employment Status":"Terminated","Termination Date":"2026-11-02",
        "Termination Type":"Voluntary","Work Email":"carl@acme.example"}},
        {"action":"Updated","id":"999","fields":{"Employment Status":"Terminated",
        "Work Email":"ghost@acme.example"}}]}"#;
    let wrong = sign(&Scheme::HiBob, b"wrong", bamboo, now());
    assert_eq!(serving.post("/hooks/hr/bamboohr", &wrong, bamboo).0, 401);
    let headers = sign(&Scheme::BambooHr, BAMBOO_SECRET.as_bytes(), bamboo, now());
    let (got, answer) = serving.post("/hooks/hr/bamboohr", &headers, bamboo);
    assert_eq!(got, 202, "{answer}\n{}", serving.log());
    assert!(answer.contains("\"disposition\":\"approval\""), "{answer}");
    // Somebody the roster does not list: named, not recorded; carl is.
    assert!(
        answer.contains("\"unmatched\":[\"ghost@acme.example\"]"),
        "{answer}"
    );

    let bob = br#"{"companyId":601234,"type":"employee.left","triggeredBy":"system",
        "triggeredAt":"2026-11-30T00:00:04.117462","version":"v2",
        "data":{"employeeId":"3332883884017713238"}}"#;
    let bad = sign(&Scheme::HiBob, b"not-it", bob, now());
    assert_eq!(serving.post("/hooks/hr/hibob", &bad, bob).0, 401);
    let headers = sign(&Scheme::HiBob, HIBOB_SECRET.as_bytes(), bob, now());
    let (got, answer) = serving.post("/hooks/hr/hibob", &headers, bob);
    assert_eq!(got, 202, "{answer}\n{}", serving.log());
    assert!(answer.contains("dora@acme.example"), "{answer}");
    // Bob's retry of the same delivery is a replay.
    assert_eq!(serving.post("/hooks/hr/hibob", &headers, bob).0, 409);

    // Planned and sent for approval, not applied.
    let mail = site
        .smtp
        .wait_for("it-ops@acme.example", "waiting for approval", 30);
    assert!(
        mail.raw.contains("offboard apply .offboard/plans/"),
        "{}",
        mail.raw
    );
    let start = Instant::now();
    let plans = loop {
        let plans: Vec<PathBuf> = std::fs::read_dir(site.path().join(".offboard/plans"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        if plans.len() >= 2 || start.elapsed() > Duration::from_secs(30) {
            break plans;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(plans.len(), 2, "{plans:?}\n{}", serving.log());
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        serving.log().contains("held for approval"),
        "{}",
        serving.log()
    );
    assert!(site.active("carl@acme.example"), "applied without approval");
    assert!(site.active("dora@acme.example"), "applied without approval");

    // The saved plan is the approval: applying the newest (made after both events; an older
    // one is stale, as after any change of the roster) cuts dora.
    let dora_plan = plans
        .iter()
        .find(|p| {
            std::fs::read_to_string(p)
                .unwrap()
                .contains("dora@acme.example")
        })
        .unwrap();
    drop(serving);
    // A whole apply (a CI schedule) leaves them to their approvers too, and says so.
    let whole = common::offboard(site.path())
        .env(TOKEN_VAR, common::SCIM_TOKEN)
        .args(["apply", "--auto-approve"])
        .output()
        .unwrap();
    assert!(whole.status.success(), "{whole:?}");
    let said = String::from_utf8_lossy(&whole.stdout) + String::from_utf8_lossy(&whole.stderr);
    assert!(said.contains("held for approval"), "{said}");
    assert!(site.active("carl@acme.example") && site.active("dora@acme.example"));
    common::offboard(site.path())
        .env(TOKEN_VAR, common::SCIM_TOKEN)
        .arg("apply")
        .arg(dora_plan)
        .assert()
        .success();
    assert!(!site.active("dora@acme.example"));
    assert!(site.active("carl@acme.example"));
}

#[test]
fn the_scheduler_cuts_a_leaver_when_the_clock_passes_their_cutoff_not_before() {
    if common::skip_real_servers("serve scheduler") {
        return;
    }
    let site = Site::new(
        &[
            (
                "E5",
                "eve@acme.example",
                "Eve Park",
                "terminated",
                "voluntary",
                "2026-06-30",
                "",
            ),
            ("E6", "fay@acme.example", "Fay Moss", "active", "", "", ""),
            ("E10", "hal@acme.example", "Hal Berg", "active", "", "", ""),
        ],
        None,
    );
    let schedule = common::offboard(site.path())
        .args([
            "schedule",
            "--at",
            "2026-06-30T12:00:00Z",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let schedule: serde_json::Value = serde_json::from_slice(&schedule.stdout).unwrap();
    assert_eq!(schedule["entries"][0]["at"], "2026-07-01T00:00:00Z");
    assert_eq!(schedule["entries"][0]["kind"], "cut");
    assert_eq!(schedule["entries"][0]["person"], "eve@acme.example");

    let clock = site.path().join("clock");
    std::fs::write(&clock, "2026-06-30T23:59:58Z").unwrap();
    let serving = site.serve(&["--tick", "200ms", "--clock-file", clock.to_str().unwrap()]);
    // HR tells of hal's resignation, last day the same: no rule says auto-apply, so when
    // the clock passes the cutoff hal's approvers are asked, and hal is not cut.
    let body = serde_json::json!({
        "event_id": "evt-hal",
        "type": "termination",
        "person": {"email": "hal@acme.example"},
        "termination_type": "voluntary",
        "last_day": "2026-06-30",
    })
    .to_string();
    let sent_at: jiff::Timestamp = "2026-06-30T23:59:58Z".parse().unwrap();
    let headers = sign(&generic(), HR_SECRET.as_bytes(), body.as_bytes(), sent_at);
    let (got, answer) = serving.post("/hooks/hr/hr", &headers, body.as_bytes());
    assert_eq!(got, 202, "{answer}");
    assert!(answer.contains("\"disposition\":\"approval\""), "{answer}");
    // Many ticks before the cutoff: nothing happens.
    std::thread::sleep(Duration::from_secs(2));
    assert!(site.active("eve@acme.example"), "cut before the cutoff");
    std::fs::write(&clock, "2026-06-30T23:59:59.999Z").unwrap();
    std::thread::sleep(Duration::from_secs(1));
    assert!(site.active("eve@acme.example"), "cut before the cutoff");
    // The clock passes 00:00.
    std::fs::write(&clock, "2026-07-01T00:00:00.5Z").unwrap();
    site.wait_inactive("eve@acme.example", &serving);
    assert!(site.active("fay@acme.example"));
    let ask = site
        .smtp
        .wait_for("it-ops@acme.example", "waiting for approval", 30);
    assert!(ask.body().contains("hal@acme.example"), "{}", ask.body());
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        site.active("hal@acme.example"),
        "hal was cut without approval"
    );
    let runs = site.journal().runs().unwrap();
    assert!(
        runs.iter()
            .any(|r| r.start.trigger.as_deref() == Some("serve: schedule")),
        "{runs:?}\n{}",
        serving.log()
    );
}

#[test]
fn kill_9_mid_apply_then_restart_converges_and_notifies_each_message_once() {
    if common::skip_real_servers("serve crash") {
        return;
    }
    let mut people = leavers("leaver", 24);
    people.push(("Z1".into(), "zed@acme.example".into()));
    let table = rows(&people, &["zed@acme.example"]);
    // Every request to the identity provider takes 60 ms more: an apply of 24 leavers
    // lasts seconds, long enough to be killed in the middle of.
    let site = Site::new(&table, Some(Duration::from_millis(60)));
    let mut serving = site.serve(&["--tick", "1s"]);
    let body = termination("evt-zed", "zed@acme.example", "involuntary");
    let headers = sign(&generic(), HR_SECRET.as_bytes(), &body, now());
    assert_eq!(serving.post("/hooks/hr/hr", &headers, &body).0, 202);
    // Killed once the start-up reconcile has recorded its first result.
    wait_for_a_result(&site, &serving);
    serving.kill9();
    let still_active = people
        .iter()
        .filter(|(_, email)| site.active(email))
        .count();
    assert!(
        still_active > 0,
        "the apply finished before the kill; the test did not kill it mid-apply"
    );

    // Restarted: it converges, from the roster and the journal alone.
    let serving = site.serve(&["--tick", "1s"]);
    for (_, email) in &people {
        site.wait_inactive(email, &serving);
    }
    site.smtp.wait_for("security@acme.example", "GREEN", 60);
    // Let the worker send whatever else is due, then stop it.
    std::thread::sleep(Duration::from_secs(2));
    drop(serving);

    let journal = site.journal();
    assert!(journal.verify().unwrap().ok(), "the chain verifies");
    let triggers = journal.triggers().unwrap();
    assert_eq!(triggers.len(), 1, "the trigger log is intact");
    assert_eq!(triggers[0].event_id, "evt-zed");
    // Each message to each recipient was delivered at most once, by the journal and by the
    // SMTP server.
    let mut delivered: HashMap<(String, String), usize> = HashMap::new();
    for (message, deliveries) in journal.messages().unwrap() {
        for d in deliveries.iter().filter(|d| d.delivered) {
            *delivered
                .entry((message.message_id.clone(), d.recipient.clone()))
                .or_default() += 1;
        }
    }
    assert!(!delivered.is_empty());
    assert!(delivered.values().all(|&n| n == 1), "{delivered:?}");
    let mut received: HashMap<(String, String), usize> = HashMap::new();
    for mail in site.smtp.mails() {
        for to in &mail.to {
            *received
                .entry((mail.subject.clone(), to.clone()))
                .or_default() += 1;
        }
    }
    assert!(received.values().all(|&n| n == 1), "{received:#?}");
}

#[test]
fn apply_without_serve_sends_reports_tasks_and_escalations_unless_told_not_to() {
    if common::skip_real_servers("apply notifications") {
        return;
    }
    let site = Site::with_policy(
        &[
            (
                "E7",
                "gil@acme.example",
                "Gil Roy",
                "terminated",
                "voluntary",
                "2026-11-02",
                "mia@acme.example",
            ),
            (
                "E8",
                "mia@acme.example",
                "Mia Sol",
                "active",
                "",
                "",
                "max@acme.example",
            ),
            ("E9", "max@acme.example", "Max Ode", "active", "", "", ""),
        ],
        None,
        r#"system laptops {
    connector manual owner="it-assets@acme.example" sla="2d" escalate-to="it-lead@acme.example"
    tier hardware
    on-leave collect
}"#,
        common::Protection::None,
    );
    let apply = |notify: bool| {
        let mut cmd = common::offboard(site.path());
        cmd.env(TOKEN_VAR, common::SCIM_TOKEN)
            .args(["apply", "--auto-approve"]);
        if notify {
            cmd.env_remove("OFFBOARD_NO_NOTIFY");
        } else {
            cmd.arg("--no-notify");
        }
        cmd.assert().success();
    };
    // A dry run of notifications: journaled, not sent.
    apply(false);
    assert!(!site.active("gil@acme.example"));
    std::thread::sleep(Duration::from_millis(500));
    assert!(site.smtp.mails().is_empty(), "{:?}", site.smtp.mails());
    let messages = site.journal().messages().unwrap();
    let kinds: Vec<&str> = messages.iter().map(|(m, _)| m.kind.as_str()).collect();
    assert_eq!(kinds, vec!["report", "task"]);
    assert!(messages.iter().all(|(_, d)| d.is_empty()));

    // The next apply has nothing to change, but sends what is waiting, and escalates the
    // task (overdue by more than `escalate-after`) to its escalate-to and to the leaver's
    // manager's manager.
    apply(true);
    let report = site.smtp.wait_for("it-ops@acme.example", "YELLOW", 10);
    assert!(report.body().contains("task"), "{}", report.body());
    let task = site.smtp.wait_for("it-assets@acme.example", "Task", 10);
    assert!(
        task.body().contains("offboard tasks done"),
        "{}",
        task.body()
    );
    site.smtp.wait_for("it-lead@acme.example", "ESCALATED", 10);
    site.smtp.wait_for("max@acme.example", "ESCALATED", 10);
    let before = site.smtp.mails().len();
    // Sent once: a third run sends nothing again.
    apply(true);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(site.smtp.mails().len(), before);
}

/// Only one `serve` acts per journal: the second is refused at start, naming why, with a
/// SQLite journal (an OS file lock) and with PostgreSQL (an advisory lock). With PostgreSQL
/// the first one reconciles the bundled example into the shared journal.
#[test]
fn one_instance_serves_a_journal_sqlite_and_postgres() {
    if common::skip_real_servers("serve lock") {
        return;
    }
    let pg = common::Postgres::start();
    for backend in ["sqlite", "postgres"] {
        let dir = common::example_copy();
        common::commit_all(dir.path(), "example");
        let url = pg.database(&format!("serve_{backend}"));
        let mut envs: Vec<(&str, &str)> = vec![("OFFBOARD_NO_NOTIFY", "1")];
        if backend == "postgres" {
            envs.push(("OFFBOARD_JOURNAL", &url));
        }
        let offboard = || {
            let mut cmd = common::offboard(dir.path());
            cmd.envs(envs.iter().copied());
            cmd
        };
        offboard().args(["journal", "init"]).assert().success();
        let serving = common::ServeProcess::start(dir.path(), &envs, &["--tick", "1s"]);
        let second = offboard()
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{}", common::free_port()),
            ])
            .timeout(Duration::from_secs(30))
            .output()
            .unwrap();
        assert_eq!(second.status.code(), Some(1), "{backend}: {second:?}");
        let stderr = String::from_utf8_lossy(&second.stderr);
        assert!(
            stderr.contains("another `offboard serve` is acting on this journal"),
            "{backend}: {stderr}"
        );
        // The first one works on: its start-up reconcile is in the journal.
        let start = Instant::now();
        loop {
            let list = offboard()
                .args(["journal", "list", "--format", "json"])
                .output()
                .unwrap();
            if String::from_utf8_lossy(&list.stdout).contains("serve: start-up reconcile") {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "{backend}: {}\n{}",
                String::from_utf8_lossy(&list.stdout),
                serving.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// SIGTERM in the middle of an apply: the run in flight is finished and recorded (its
/// results and its `run-finish`), then `serve` exits 0. No change is left half-recorded.
#[test]
fn sigterm_mid_apply_finishes_the_run_before_exiting() {
    if common::skip_real_servers("serve SIGTERM") {
        return;
    }
    let people = leavers("quit", 16);
    let table = rows(&people, &[]);
    let site = Site::new(&table, Some(Duration::from_millis(60)));
    let mut serving = site.serve(&["--tick", "1s", "--no-notify"]);
    wait_for_a_result(&site, &serving);
    // Mid-apply: some accounts are not cut yet when the signal goes.
    let left = people
        .iter()
        .filter(|(_, email)| site.active(email))
        .count();
    assert!(
        left > 0,
        "the apply finished before SIGTERM; nothing was tested"
    );
    let status = serving.terminate();
    assert!(status.success(), "{status}\n{}", serving.log());
    let runs = site.journal().runs().unwrap();
    assert!(!runs.is_empty());
    assert!(
        runs.iter().all(|r| r.finish.is_some()),
        "a run was left without its finish: {runs:?}"
    );
    for (_, email) in &people {
        assert!(!site.active(email), "{email} is still active");
    }
}

/// Mail over STARTTLS and over TLS from the first byte, to a real SMTP server whose
/// certificate only the policy's `ca-file` makes trusted; without it, nothing is delivered
/// and the failure is journaled (to be retried).
#[test]
fn mail_goes_over_starttls_and_tls_with_a_private_ca() {
    if common::skip_real_servers("SMTP TLS") {
        return;
    }
    for protection in [common::Protection::Starttls, common::Protection::Tls] {
        let site = Site::with_policy(
            &[(
                "E1",
                "ivy@acme.example",
                "Ivy Tan",
                "terminated",
                "involuntary",
                "2026-11-02",
                "",
            )],
            None,
            "",
            protection,
        );
        let apply = || {
            common::offboard(site.path())
                .env(TOKEN_VAR, common::SCIM_TOKEN)
                .env("SEC_CHAT_URL", &site.chat.url)
                .env("IT_TEAMS_URL", format!("{}-teams", site.chat.url))
                .env_remove("OFFBOARD_NO_NOTIFY")
                .args(["apply", "--auto-approve"])
                .output()
                .unwrap()
        };
        if protection == common::Protection::Tls {
            // Trusted from the start: delivered by the run that queued it.
            let out = apply();
            assert!(out.status.success(), "{out:?}");
        } else {
            // Another CA in the file: the server's certificate is refused, nothing is sent
            // in clear, and the attempt is journaled to be retried.
            let right = std::fs::read(site.path().join("smtp-ca.pem")).unwrap();
            let other = common::SmtpServer::start_protected(common::Protection::Starttls);
            std::fs::copy(other.ca_file(), site.path().join("smtp-ca.pem")).unwrap();
            let out = apply();
            assert!(out.status.success(), "{out:?}");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(stderr.contains("invalid peer certificate"), "{stderr}");
            assert!(site.smtp.mails().is_empty());
            let journal = site.journal();
            let failed = journal.messages().unwrap();
            assert!(
                failed
                    .iter()
                    .any(|(_, d)| d.iter().any(|d| !d.delivered && !d.final_attempt))
            );
            drop(journal);
            // The right CA back: the next run after the 30 s backoff delivers.
            std::fs::write(site.path().join("smtp-ca.pem"), right).unwrap();
            let start = Instant::now();
            while site.smtp.mails().is_empty() {
                assert!(
                    start.elapsed() < Duration::from_secs(90),
                    "{protection:?}: nothing delivered"
                );
                std::thread::sleep(Duration::from_secs(3));
                apply();
            }
        }
        let mail = site.smtp.wait_for("security@acme.example", "GREEN", 5);
        assert!(mail.body().contains("ivy@acme.example"), "{}", mail.body());
    }
}
