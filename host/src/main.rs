//! `backstop`: the policy engine on the command line. See `cli/` for the
//! subcommands and `backstop --help` (or the README) for the exit codes.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
