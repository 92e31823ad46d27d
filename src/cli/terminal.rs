//! What the client commands print: to a stdout that may be a closed pipe (`status | head
//! -1`), and text from the daemon shown as a terminal must show it to a person
//! ([`crate::visible`]).

use std::io::Write;

/// `println!` for the client commands, through [`write_out`].
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::cli::terminal::write_out(format_args!("{}\n", format_args!($($arg)*)))
    };
}
pub(crate) use outln;

/// Writes to stdout. A reader that went away is not the command's failure: its exit code
/// still says how the call went (`println!` would panic, exit 101).
pub fn write_out(args: std::fmt::Arguments) {
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_fmt(args).and_then(|()| stdout.flush())
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        eprintln!("ide-agentsd: cannot write to stdout: {e}");
    }
}
