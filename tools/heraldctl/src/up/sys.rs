//! The only unsafe code in heraldctl: thin wrappers over libc calls std has no safe form of.
#![allow(unsafe_code)]

/// Sends `signal` to the process `pid`.
pub fn send_signal(pid: u32, signal: libc::c_int) -> std::io::Result<()> {
    let pid = libc::pid_t::try_from(pid).map_err(std::io::Error::other)?;
    // SAFETY: kill has no memory-safety preconditions. Callers signal only their own children
    // that have not been reaped yet, so the pid cannot belong to another process.
    if unsafe { libc::kill(pid, signal) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Makes the kernel send `signal` to the child when the thread that spawned it dies, so a
/// `kill -9` of heraldctl does not leave services holding the ports.
pub fn set_parent_death_signal(cmd: &mut tokio::process::Command, signal: libc::c_int) {
    let parent = std::process::id();
    // SAFETY: between fork and exec only async-signal-safe calls are allowed; prctl and getppid
    // are, and nothing here allocates.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, signal as libc::c_ulong) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died before prctl took effect.
            if libc::getppid() as u32 != parent {
                return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
}
