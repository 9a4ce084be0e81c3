//! The exit codes of `mspl`: the contract's table ("Commands and exit
//! codes"), the one place a command's outcome becomes a number.

/// How a command ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// 0: done; allowed; clean; every test passed; nothing to change.
    Success,
    /// 1: bad input, unreadable or unparsable; a failed test; a gate with
    /// nothing to judge; `exit` without `shutdown`.
    Failure,
    /// 2: denied; a `--fail-on` gate tripped; a counterexample.
    Flagged,
    /// 3: refused by validation (`--validate`, `mspl validate`); unknown.
    Refused,
    /// 4: an answer cut short by `--max-results`.
    Cut,
}

impl Exit {
    /// The process's exit code.
    pub fn code(self) -> i32 {
        match self {
            Exit::Success => 0,
            Exit::Failure => 1,
            Exit::Flagged => 2,
            Exit::Refused => 3,
            Exit::Cut => 4,
        }
    }

    /// The end of a command whose standard output could not be written:
    /// [`Exit::Failure`], after saying why (a closed pipe said nothing of).
    pub fn stdout_failure(e: &std::io::Error) -> Exit {
        crate::files::say_stdout_failure(e);
        Exit::Failure
    }

    /// [`Exit::Failure`] when `failed`, else [`Exit::Success`].
    pub fn failure_if(failed: bool) -> Exit {
        if failed {
            Exit::Failure
        } else {
            Exit::Success
        }
    }

    /// `flagged` when `tripped`, else [`Exit::Success`].
    pub fn success_unless(tripped: bool, flagged: Exit) -> Exit {
        if tripped {
            flagged
        } else {
            Exit::Success
        }
    }
}
