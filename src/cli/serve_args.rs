//! The `serve` flags, one per setting of [`crate::config::SETTINGS`], so every environment
//! variable has its flag twin without being listed twice.

use crate::config::SETTINGS;
use clap::{Arg, ArgMatches, Args, Command, FromArgMatches};
use std::collections::HashMap;

/// Flag values given on the command line, keyed by their environment variable's name.
#[derive(Debug, Default, Clone)]
pub struct ServeArgs {
    pub values: HashMap<String, String>,
}

impl FromArgMatches for ServeArgs {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut args = ServeArgs::default();
        args.update_from_arg_matches(matches)?;
        Ok(args)
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        for s in SETTINGS {
            if let Some(v) = matches.get_one::<String>(s.flag) {
                self.values.insert(s.env.to_string(), v.clone());
            }
        }
        Ok(())
    }
}

impl Args for ServeArgs {
    fn augment_args(cmd: Command) -> Command {
        SETTINGS.iter().fold(cmd, |cmd, s| {
            cmd.arg(
                Arg::new(s.flag)
                    .long(s.flag)
                    .value_name("VALUE")
                    .help(format!("{} (env {})", s.help, s.env)),
            )
        })
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}
