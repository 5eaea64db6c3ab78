//! The hidden prompt's terminal: echo is off before the prompt is shown, so nothing
//! typed as soon as it appears is echoed. rpassword turns echo off only after writing
//! its prompt, which leaves a window in which typeahead shows on the screen.

use std::fs::{File, OpenOptions};

use nix::sys::termios::{LocalFlags, SetArg, Termios, tcgetattr, tcsetattr};

/// Echo off on the controlling terminal while this lives; the previous settings back
/// when it is dropped.
pub struct EchoOff {
    tty: File,
    saved: Termios,
}

impl EchoOff {
    pub fn on_the_terminal() -> std::io::Result<EchoOff> {
        let tty = OpenOptions::new().read(true).write(true).open("/dev/tty")?;
        let saved = tcgetattr(&tty)?;
        let mut quiet = saved.clone();
        quiet
            .local_flags
            .remove(LocalFlags::ECHO | LocalFlags::ECHONL);
        tcsetattr(&tty, SetArg::TCSANOW, &quiet)?;
        Ok(EchoOff { tty, saved })
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        // Nothing to do if it fails: the terminal is gone or no longer ours.
        let _ = tcsetattr(&self.tty, SetArg::TCSANOW, &self.saved);
    }
}
