//! What the daemon tells systemd: READY, RELOADING, STOPPING, WATCHDOG pings and the
//! STATUS line that `systemctl status` shows.

use crate::config::Config;
use crate::store::StoreHandle;

/// Messages to systemd; silent when not started by systemd (no `NOTIFY_SOCKET`).
///
/// Sent without blocking: a datagram socket whose queue is full (systemd busy, or a
/// test not reading) would otherwise stall the scheduler, so a message that cannot be
/// queued is dropped — the next status or ping follows within seconds.
pub(super) fn notify(states: &[sd_notify::NotifyState<'_>]) {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr, UnixDatagram};
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let message: String = states.iter().map(|s| format!("{s}\n")).collect();
    let sent = UnixDatagram::unbound().and_then(|socket| {
        socket.set_nonblocking(true)?;
        let path = path.to_string_lossy();
        match path.strip_prefix('@') {
            Some(name) => {
                socket.send_to_addr(message.as_bytes(), &SocketAddr::from_abstract_name(name)?)
            }
            None => socket.send_to(message.as_bytes(), &*path),
        }
    });
    if let Err(e) = sent {
        tracing::debug!(error = %e, "sd_notify message dropped");
    }
}

/// The STATUS line: feeds (and how many fail), rules, alerts waiting, failing channels,
/// dead alerts, an outage of this host's network going on (since when), and the last
/// error.
pub(super) async fn report_status(
    store: &StoreHandle,
    config: &Config,
    last_error: Option<&str>,
    outage: Option<i64>,
) {
    let (pending, dead) = store
        .call(|s| s.outbox_counts())
        .await
        .map_or((-1, 0), |(p, f, d)| (p + f, d));
    // Dead alerts need the operator: fixed, then `newshound requeue`.
    let dead = match dead {
        0 => String::new(),
        n => format!(", dead alerts: {n} (see `newshound hits`; `newshound requeue`)"),
    };
    let urls: Vec<String> = config.feeds.iter().map(|f| f.url.to_string()).collect();
    let failing = match store.call(move |s| s.unhealthy_feeds(&urls)).await {
        Ok((0, 0)) | Err(_) => String::new(),
        Ok((failing, 0)) => format!(" ({failing} failing)"),
        Ok((0, quiet)) => format!(" ({quiet} quiet)"),
        Ok((failing, quiet)) => format!(" ({failing} failing, {quiet} quiet)"),
    };
    let channels = match store.call(|s| s.failing_channels()).await {
        Ok(names) => names
            .into_iter()
            .filter(|c| config.channel_kind(c).is_some())
            .collect::<Vec<_>>(),
        Err(_) => Vec::new(),
    };
    let channels = match channels.as_slice() {
        [] => String::new(),
        names => format!(", failing channels: {}", names.join(", ")),
    };
    let outage = outage
        .and_then(|since| chrono::DateTime::from_timestamp(since, 0))
        .map(|since| {
            format!(
                ", network: no server reached since {}",
                since.format("%Y-%m-%d %H:%M UTC")
            )
        })
        .unwrap_or_default();
    let status = format!(
        "feeds: {}{failing}{outage}, rules: {}, pending alerts: {pending}{channels}{dead}{}",
        config.feeds.len(),
        config.rules.len(),
        last_error
            .map(|e| format!(", last error: {e}"))
            .unwrap_or_default()
    );
    notify(&[sd_notify::NotifyState::Status(&status)]);
}
