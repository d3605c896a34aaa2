//! `offboard-gen`: a deterministic synthetic organisation for benchmarks and load tests.
//!
//! Writes a policy repository (policies/, inventory/people.csv, inventory/accounts/*.json)
//! with about 2% leavers of mixed termination types, legal holds, contractors, and realistic
//! noise: orphaned accounts, disputed accounts, excess groups and case differences in
//! emails. The same [`Options`] always produce the same bytes.
//!
//! Two [`Shape`]s, so that no optimisation is tuned to one organisation only:
//! `departments` (the default) gives each person accounts in consecutive systems, every group
//! named after a department, a few accounts listing a second person's email (disputed); `scattered`
//! draws each person's systems at random, gives every system its own group names (a
//! department group plus, for about 2% of accounts, one of 200 system-specific extras), and one
//! email per account (no disputed accounts). Both have about 2% leavers, 1% orphans and 5% of
//! emails in other letter case.
//!
//! It is a tool of offboard's own development, not part of the product: the benchmarks
//! (`benches/run.sh`) run its binary, and tests that need an organisation call [`generate`].
//!
//!     cargo run --release -p offboard-gen -- --people 10000 --accounts 100000 --systems 10 --out /tmp/org
//!     offboard -C /tmp/org plan --at 2026-11-23T09:00:00Z --summary

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::Path;

/// splitmix64: tiny, fast, deterministic across platforms.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, per_mille: u64) -> bool {
        self.next() % 1000 < per_mille
    }
}

const TIERS: &[&str] = &[
    "identity-provider",
    "directory",
    "remote-access",
    "mfa",
    "privileged",
    "finance",
    "customer-data",
    "business",
    "collaboration",
];
const DEPARTMENTS: &[&str] = &[
    "Engineering",
    "Sales",
    "Finance",
    "Marketing",
    "Product Management",
    "People Ops",
    "IT",
    "Legal",
    "Support",
    "Operations",
    "Design",
    "Data",
];
const FIRST: &[&str] = &[
    "Ann", "Ben", "Cara", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivan", "Jo", "Kai", "Lea", "Max",
    "Nia", "Omar", "Pia", "Quin", "Rae", "Sam", "Tess", "Uma", "Vic", "Wes", "Xia", "Yan", "Zoe",
];
const LAST: &[&str] = &[
    "Adler", "Brandt", "Costa", "Dietz", "Evans", "Fischer", "Garcia", "Hahn", "Ito", "Jensen",
    "Khan", "Lopez", "Meyer", "Nagy", "Okafor", "Park", "Quist", "Rossi", "Sato", "Tanaka",
];

struct Person {
    email: String,
    username: String,
    department: usize,
    leaver: bool,
}

/// How accounts are spread over systems and named (see the module documentation).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Shape {
    /// Consecutive systems per person, department groups, some disputed accounts.
    #[default]
    Departments,
    /// Random systems per person, per-system group names, one email per account.
    Scattered,
}

/// The organisation to generate.
#[derive(Debug, Clone)]
pub struct Options {
    /// People in the roster.
    pub people: usize,
    /// Accounts across all systems (about; each person gets accounts/people of them).
    pub accounts: usize,
    /// File-connector systems.
    pub systems: usize,
    /// Offboarding rules in the policy (the first five are the realistic ones).
    pub rules: usize,
    /// Seed for the deterministic generator.
    pub seed: u64,
    pub shape: Shape,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            people: 1000,
            accounts: 10_000,
            systems: 10,
            rules: 5,
            seed: 42,
            shape: Shape::Departments,
        }
    }
}

/// What [`generate`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    pub people: usize,
    pub systems: usize,
    /// Accounts over all systems (orphans included).
    pub accounts: u64,
}

/// Write the organisation `args` describes into `out` (a policy repository root).
pub fn generate(args: &Options, out: &Path) -> std::io::Result<Written> {
    let mut rng = Rng(args.seed);
    fs::create_dir_all(out.join("policies"))?;
    fs::create_dir_all(out.join("inventory/accounts"))?;

    // --- roster
    let mut people = Vec::with_capacity(args.people);
    let mut roster = BufWriter::new(File::create(out.join("inventory/people.csv"))?);
    writeln!(
        roster,
        "employee_id,email,username,name,department,title,manager_email,employment,status,termination_type,termination_at,last_day,legal_hold,location"
    )?;
    for i in 0..args.people {
        let first = FIRST[rng.below(FIRST.len())];
        let last = LAST[rng.below(LAST.len())];
        let email = format!(
            "{}.{}{}@acme.example",
            first.to_lowercase(),
            last.to_lowercase(),
            i
        );
        let username = format!("{}{}{}", &first[..1].to_lowercase(), last.to_lowercase(), i);
        let department = rng.below(DEPARTMENTS.len());
        let employment = match rng.below(100) {
            0..=7 => "contractor",
            8..=9 => "intern",
            10 => "vendor",
            _ => "employee",
        };
        let leaver = rng.chance(20);
        let manager = if i > 0 {
            people_email(&people, rng.below(i))
        } else {
            String::new()
        };
        let (status, kind, at, last_day, hold) = if leaver {
            let kind = match rng.below(10) {
                0..=5 => "voluntary",
                6..=7 => "involuntary",
                8 => "retirement",
                _ => "contract-end",
            };
            // Last days spread from 200 days ago to 20 days ahead of 2026-11-23.
            let offset = rng.below(220) as i64 - 200;
            let day = jiff::civil::date(2026, 11, 23)
                .checked_add(jiff::Span::new().days(offset))
                .unwrap_or(jiff::civil::date(2026, 11, 23));
            let hold = rng.chance(100);
            (
                "terminated",
                kind,
                format!(
                    "{}T09:00:00Z",
                    day.checked_sub(jiff::Span::new().days(14)).unwrap_or(day)
                ),
                day.to_string(),
                hold,
            )
        } else {
            let status = if rng.chance(10) { "on-leave" } else { "active" };
            (status, "", String::new(), String::new(), false)
        };
        writeln!(
            roster,
            "E{i:07},{email},{username},{first} {last},{},Title {},{manager},{employment},{status},{kind},{at},{last_day},{hold},{}",
            DEPARTMENTS[department],
            rng.below(40),
            if rng.chance(500) { "remote" } else { "office" }
        )?;
        people.push(Person {
            email,
            username,
            department,
            leaver,
        });
    }
    roster.flush()?;

    // --- policy
    let mut systems = String::new();
    for s in 0..args.systems {
        systems.push_str(&format!(
            "system app-{s} {{\n    connector file\n    tier {}\n    correlate email=\"email\"\n    correlate username=\"username\"\n    on-leave disable revoke-sessions remove-groups\n    enforce-roles\n    exempt \"svc-app-{s}\" reason=\"service account\" owner=\"it@acme.example\"\n}}\n",
            TIERS[s % TIERS.len()]
        ));
    }
    systems.push_str("system laptops {\n    connector manual owner=\"it-assets@acme.example\" sla=\"5d\"\n    tier hardware\n    on-leave collect\n}\n");
    fs::write(out.join("policies/systems.kdl"), systems)?;
    let mut roles = String::new();
    // A department's role grants its group on every system, so only the planted extra
    // `admins` memberships (about 2%) are access no role explains.
    for (d, name) in DEPARTMENTS.iter().enumerate() {
        let grants: String = (0..args.systems)
            .map(|s| {
                format!(
                    "    grant app-{s} group=\"{}\"\n",
                    dept_group(args.shape, s, d)
                )
            })
            .collect();
        roles.push_str(&format!(
            "role dept-{d} when=\"person.department == \\\"{name}\\\"\" {{\n{grants}}}\n"
        ));
    }
    fs::write(out.join("policies/roles.kdl"), roles)?;
    let mut rules = String::from(
        "rule involuntary {\n    when \"person.termination_type == \\\"involuntary\\\"\"\n    cutoff immediately\n}\nrule voluntary {\n    when \"person.termination_type == \\\"voluntary\\\"\"\n    cutoff end-of-last-day\n}\nrule retirement {\n    when \"person.termination_type == \\\"retirement\\\"\"\n    cutoff \"+1d\"\n}\nrule contractors {\n    when \"person.employment == \\\"contractor\\\" || person.employment == \\\"vendor\\\"\"\n    delete-after \"30d\"\n}\nrule legal-hold {\n    when \"person.legal_hold\"\n    retain forever\n}\n",
    );
    for r in 5..args.rules {
        rules.push_str(&format!(
            "rule extra-{r} {{\n    when \"person.department == \\\"{}\\\" && person.location == \\\"remote\\\" && person.title == \\\"Title {}\\\"\"\n    cutoff \"-{}h\"\n}}\n",
            DEPARTMENTS[r % DEPARTMENTS.len()],
            r % 40,
            r % 12 + 1
        ));
    }
    fs::write(out.join("policies/rules.kdl"), rules)?;
    fs::write(
        out.join("policies/settings.kdl"),
        "defaults {\n    cutoff end-of-last-day\n    delete-after \"90d\"\n    max-disable-share \"10%\"\n}\npeople {\n    source csv path=\"inventory/people.csv\"\n    key email\n}\n",
    )?;

    // --- accounts: each person gets `per_person` systems, chosen deterministically.
    let per_person = (args.accounts / args.people.max(1)).clamp(1, args.systems.max(1));
    let mut files: Vec<BufWriter<File>> = (0..args.systems)
        .map(|s| {
            let mut f = BufWriter::new(File::create(
                out.join(format!("inventory/accounts/app-{s}.json")),
            )?);
            writeln!(f, "{{\"system\": \"app-{s}\", \"accounts\": [")?;
            Ok(f)
        })
        .collect::<std::io::Result<_>>()?;
    let mut first = vec![true; args.systems];
    let mut id = 0u64;
    let mut write_account =
        |files: &mut Vec<BufWriter<File>>, s: usize, json: String| -> std::io::Result<()> {
            // One account per line and commas on lines of their own: valid JSON for offboard,
            // and newline-delimited JSON (with the other lines skipped) for the DuckDB reference.
            let sep = if first[s] { "" } else { "\n,\n" };
            first[s] = false;
            write!(files[s], "{sep}{json}")
        };
    let mut systems_of_person: Vec<usize> = Vec::with_capacity(per_person);
    for (i, p) in people.iter().enumerate() {
        systems_of_person.clear();
        let start = rng.below(args.systems.max(1));
        match args.shape {
            Shape::Departments => {
                systems_of_person.extend((0..per_person).map(|k| (start + k) % args.systems))
            }
            Shape::Scattered => {
                // A random subset: draw until `per_person` distinct systems are chosen.
                while systems_of_person.len() < per_person {
                    let s = rng.below(args.systems.max(1));
                    if !systems_of_person.contains(&s) {
                        systems_of_person.push(s);
                    }
                }
            }
        }
        for &s in &systems_of_person {
            id += 1;
            let email = if rng.chance(50) {
                p.email.to_uppercase()
            } else {
                p.email.clone()
            };
            let status = if p.leaver && rng.chance(300) {
                "disabled"
            } else {
                "active"
            };
            let mut groups = format!("\"{}\"", dept_group(args.shape, s, p.department));
            if rng.chance(20) {
                match args.shape {
                    Shape::Departments => groups.push_str(", \"admins\""),
                    Shape::Scattered => {
                        groups.push_str(&format!(", \"app-{s}-g{}\"", rng.below(200)))
                    }
                }
            }
            // A few accounts list a second person's email: disputed.
            let emails = if args.shape == Shape::Departments && rng.chance(2) && i > 0 {
                format!("\"{email}\", \"{}\"", people[rng.below(i)].email)
            } else {
                format!("\"{email}\"")
            };
            // Most people logged in during the last three weeks; about 3% not for months.
            let last_login = if rng.chance(30) {
                format!(
                    "2026-{:02}-{:02}T10:00:00Z",
                    rng.below(7) + 1,
                    rng.below(28) + 1
                )
            } else {
                format!("2026-11-{:02}T10:00:00Z", rng.below(21) + 1)
            };
            let json = format!(
                "{{\"id\": \"a{id:09}\", \"username\": \"{}\", \"emails\": [{emails}], \"status\": \"{status}\", \"groups\": [{groups}], \"privileged\": {}, \"last_login\": \"{last_login}\", \"sessions\": {}}}",
                p.username,
                rng.chance(10),
                rng.below(4)
            );
            write_account(&mut files, s, json)?;
        }
    }
    // Orphans: about 1% of accounts belong to nobody.
    for n in 0..(args.accounts / 100) {
        let s = rng.below(args.systems.max(1));
        id += 1;
        let json = format!(
            "{{\"id\": \"a{id:09}\", \"username\": \"ghost{n}\", \"emails\": [\"ghost{n}@acme.example\"], \"status\": \"active\", \"groups\": [\"{}\"]}}",
            dept_group(args.shape, s, 0)
        );
        write_account(&mut files, s, json)?;
    }
    for f in &mut files {
        writeln!(f, "\n]}}")?;
        f.flush()?;
    }
    Ok(Written {
        people: args.people,
        systems: args.systems,
        accounts: id,
    })
}

/// The group a department's role grants on system `s`.
fn dept_group(shape: Shape, s: usize, department: usize) -> String {
    match shape {
        Shape::Departments => format!("dept-{department}"),
        Shape::Scattered => format!("app-{s}-dept-{department}"),
    }
}

fn people_email(people: &[Person], i: usize) -> String {
    people[i].email.clone()
}
