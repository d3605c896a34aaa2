//! `offboard test`: run the policy unit tests in `policies/tests/*.kdl`.

use clap::{Args, ValueEnum};

use super::{Exit, GlobalArgs, common};
use crate::audit::render::xml;
use crate::{ops, policytest};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TestFormat {
    Text,
    Junit,
}

#[derive(Debug, Args)]
pub struct TestArgs {
    #[arg(long, value_enum, default_value_t = TestFormat::Text)]
    pub format: TestFormat,
}

pub fn run(global: &GlobalArgs, args: &TestArgs) -> Exit {
    let run = match ops::policy_tests::run(global.workspace(), &common::Stderr::new(global)) {
        Ok(run) => run,
        Err(e) => return common::report(global, &e),
    };
    let outcomes = &run.outcomes;
    let failed = run.failed();
    let shown = |o: &policytest::Outcome| {
        let file = o
            .file
            .strip_prefix(&global.root)
            .unwrap_or(&o.file)
            .display()
            .to_string();
        format!("{file}:{}", o.line)
    };
    match args.format {
        TestFormat::Text => {
            for o in outcomes {
                match &o.failure {
                    None => println!("ok    {} ({})", o.name, shown(o)),
                    Some(f) => println!("FAIL  {} ({})\n{}", o.name, shown(o), f.trim_end()),
                }
            }
            println!(
                "\ntest result: {}. {} passed; {failed} failed.",
                if failed == 0 { "ok" } else { "FAILED" },
                outcomes.len() - failed
            );
        }
        TestFormat::Junit => {
            println!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
            println!(
                "<testsuites name=\"offboard test\" tests=\"{}\" failures=\"{failed}\">",
                outcomes.len()
            );
            println!(
                "  <testsuite name=\"policy tests\" tests=\"{}\" failures=\"{failed}\" errors=\"0\">",
                outcomes.len()
            );
            for o in outcomes {
                let name = xml(&o.name);
                let file = xml(&shown(o));
                match &o.failure {
                    None => println!(
                        "    <testcase classname=\"offboard.policy\" name=\"{name}\" file=\"{file}\"/>"
                    ),
                    Some(f) => println!(
                        "    <testcase classname=\"offboard.policy\" name=\"{name}\" file=\"{file}\">\n      <failure message=\"expected actions differ\">{}</failure>\n    </testcase>",
                        xml(f)
                    ),
                }
            }
            println!("  </testsuite>\n</testsuites>");
        }
    }
    if failed == 0 {
        Exit::Success
    } else {
        Exit::Error
    }
}
