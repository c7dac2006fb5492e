#!/bin/sh
# The service's system user (as `sqlvault-worker service install` creates it), then let
# systemd see the unit. The service is enabled but not started: it needs `sqlvault-worker
# setup` and the vault key first.
set -e
if ! getent passwd sqlvault >/dev/null; then
	useradd --system --user-group --home-dir /var/lib/sqlvault --no-create-home \
		--shell /usr/sbin/nologin --comment "sqlvault agent" sqlvault
fi
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload
	systemctl enable sqlvault-agent.service >/dev/null
fi
echo "sqlvault-agent installed: run 'sqlvault-worker setup', put the vault key in /etc/sqlvault/vault.key, then 'sqlvault-worker doctor' and 'systemctl start sqlvault-agent'."
